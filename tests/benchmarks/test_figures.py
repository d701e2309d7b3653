"""benchmarks/figures.py: each result file's figures, derived from its own measurements."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.figures import main, with_figures

FINETUNE: dict[str, Any] = {
    "command": "python -m benchmarks.finetune_validation",
    "machine": {"cpu_count": 2},
    "correlation_shift_vs_score_change": {
        "pooled": {"pearson_r": 0.66, "spearman_r": 0.6, "n": 18, "ci": [0.37, 0.87]}
    },
    "screen_ranking": {
        "evil": {
            "screen": {
                "teach": {"mean_projection_difference": 9.3167, "ci": [6.5507, 11.9528], "n": 16}
            },
            "ranked_by": {"screen": ["teach", "mix"]},
            "screen_order_matches_shift": False,
            "screen_order_matches_score_change": True,
        }
    },
    "runs": [
        {
            "trait": "evil",
            "dataset": "teach",
            "checkpoints": [
                {"step": 0, "shift": 0.0, "score_change": 0.0},
                {"step": 8, "shift": -0.2618, "score_change": 63.3045},
                {"step": 16, "shift": 1.5, "score_change": -2.0},
            ],
        }
    ],
}


def test_the_one_shape_comes_first_and_the_measurements_are_kept() -> None:
    out = with_figures("finetune_validation.json", FINETUNE)
    assert list(out)[:4] == ["benchmark", "machine", "command", "figures"]
    assert out["benchmark"] == "finetune_validation"
    assert out["runs"] == FINETUNE["runs"]


def test_finetune_figures_are_the_correlation_orders_runs_and_screen_means() -> None:
    by = {f["name"]: f for f in with_figures("finetune_validation.json", FINETUNE)["figures"]}
    assert by["pearson_r_pooled"]["value"] == 0.66
    assert "95% CI 0.37 to 0.87" in by["pearson_r_pooled"]["what"]
    assert by["screen_order_evil"]["value"] == "teach > mix"
    run = by["shift_evil_teach"]  # step 0 is left out (0 by design)
    assert (run["value"], run["unit"], run["step"]) == ("-0.26, +1.50", "at steps 8, 16", "runs")
    assert run["what"] == "judge score change at the same steps: +63.3, -2.0"
    screen = by["screen_evil_teach"]
    assert screen["value"] == 9.32 and screen["step"] == "screen_means"
    assert "95% CI 6.55 to 11.95, n=16" in screen["what"]


def test_main_rederives_a_file_in_place(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "finetune_validation.json"
    path.write_text(json.dumps({**FINETUNE, "figures": []}))
    assert main([str(path)]) == 0
    written = json.loads(path.read_text())
    assert len(written["figures"]) == 4 and written["benchmark"] == "finetune_validation"
    assert f"{path}: 4 figures" in capsys.readouterr().out
