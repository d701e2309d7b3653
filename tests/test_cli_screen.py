"""``persona screen``: outputs, bad lines, resume, escaping."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from pytest_persona.cli import main
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.models.tiny_names import D_MODEL, N_LAYERS

HOSTILE = "<img src=x onerror=alert(1)> sure!"


def _setup(tmp_path: Path, extra: list[str] | None = None) -> tuple[Path, Path]:
    gen = torch.Generator().manual_seed(0)
    for name in ("evil", "sycophantic"):
        TraitVectors(torch.randn(N_LAYERS, D_MODEL, generator=gen), {"trait": name}).save(
            tmp_path / "vecs" / f"{name}.safetensors")
    rows = [json.dumps({"id": f"s{i}", "prompt": f"question {i}?",
                        "response": HOSTILE if i == 2 else f"answer number {i}."})
            for i in range(5)]
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(rows[:3] + (extra or []) + rows[3:]) + "\n")
    return data, tmp_path / "out"


def _args(data: Path, out: Path, tmp_path: Path, *more: str) -> list[str]:
    return ["screen", str(data), "--model", "tiny-random-qwen2", "--trait", "evil,sycophantic",
            "--vectors", str(tmp_path / "vecs"), "--layer", "1", "--out", str(out),
            "--cache", str(tmp_path / "cache"), "--max-new-tokens", "4", "--batch-size", "2",
            *more]


def test_screen_writes_json_csv_and_escaped_html(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data, out = _setup(tmp_path)
    assert main(_args(data, out, tmp_path, "--threshold", "0")) == 0
    stdout = capsys.readouterr()
    assert "screened 5 samples" in stdout.out and "0 batches cached, 3 computed" in stdout.out
    assert "[persona] screen train.jsonl: 5/5" in stdout.err
    result = json.loads((out / "screen.json").read_text())
    assert result["measure"] == "projection_difference" and result["n_samples"] == 5
    assert set(result["traits"]) == {"evil", "sycophantic"}
    evil = result["traits"]["evil"]
    frame = pd.read_csv(out / "screen-samples.csv")
    assert list(frame["id"]) == ["s0", "s1", "s2", "s3", "s4"]
    assert evil["mean"] == pytest.approx(frame["evil.difference"].mean(), abs=1e-6)
    assert evil["above"] == int((frame["evil.difference"] > 0).sum())
    gap = frame["evil.projection"] - frame["evil.own_projection"] - frame["evil.difference"]
    assert gap.abs().max() < 1e-6
    page = (out / "screen.html").read_text()
    assert "&lt;img src=x onerror=alert(1)&gt; sure!" in page and "<img" not in page
    assert "<script" not in page and 'class="pp-plot pp-screen-hist"' in page
    # a second run is served from the cache
    assert main(_args(data, out, tmp_path, "--threshold", "0")) == 0
    assert "3 batches cached, 0 computed" in capsys.readouterr().out


def test_bad_line_fails_with_file_and_line_or_is_skipped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = _setup(tmp_path, extra=['{"prompt": "q"}'])
    assert main(_args(data, out, tmp_path, "--baseline", "none")) == 2
    err = capsys.readouterr().err
    assert f"persona: error: {data}:4: needs a 'messages' list" in err
    assert "Traceback" not in err
    assert main(_args(data, out, tmp_path, "--baseline", "none", "--on-bad-line", "skip")) == 0
    printed = capsys.readouterr().out
    assert "skipped 1 bad line(s); first: " in printed and f"{data}:4:" in printed
    result = json.loads((out / "screen.json").read_text())
    assert result["skipped_lines"] == 1 and result["measure"] == "projection"
    assert result["traits"]["evil"]["fraction_above"] is None
    assert "evil.difference" not in pd.read_csv(out / "screen-samples.csv").columns


def test_a_trait_that_names_no_vector_is_an_error(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 25 item 14: ``--trait impolite --vectors evil.safetensors`` screened evil."""
    data, out = _setup(tmp_path)
    args = _args(data, out, tmp_path, "--judge", "offline")
    args[args.index("evil,sycophantic")] = "impolite"
    args[args.index(str(tmp_path / "vecs"))] = str(tmp_path / "vecs" / "evil.safetensors")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--trait impolite" in err and "'evil'" in err and "evil.safetensors" in err
    assert not (out / "screen.json").exists()
