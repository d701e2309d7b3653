"""A warm run (issue 16.3): with every figure cached, a suite run imports neither torch nor
transformers and writes the same results as the cold run; a cache miss on that path still
computes the figure exactly (importing torch only then)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = """\
trait: sycophantic
layer: 1
coefficients: [-4, 0, 4]
n_questions: 3
max_new_tokens: 6
extraction: {n_questions: 3, n_instructions: 2, max_new_tokens: 6, min_pairs: 1,
             trait_threshold: 0, coherence_threshold: 0}
expectations:
  - {kind: steering_raises, coeff: 4, threshold: 0}
  - {kind: steering_lowers, coeff: -4, threshold: 101}
  - {kind: baseline_ceiling, max: 100}
  - {kind: projection_order, margin: -1000}
  - {kind: coeff_zero_matches_baseline, n_prompts: 2, max_new_tokens: 4}
  - {kind: cross_trait_cosine, traits: [evil], max: 1.5}
  - {kind: monotonic, min_r: -1}
  - {kind: coherence_guard, min: 0}
  - {kind: projection_tracks_score, min_r: -1}
  - {kind: checkpoint_shift, max: 1000}
"""
EVIL = SUITE.replace("trait: sycophantic", "trait: evil").split("expectations:")[0] + (
    "expectations:\n  - {kind: baseline_ceiling, max: 100}\n")
#: writes the imported top-level modules at the very end of the session
PROBE = """\
import json, os, sys

def pytest_unconfigure(config):
    with open(os.environ["PERSONA_MODULES_OUT"], "w") as fh:
        json.dump(sorted({m.split(".")[0] for m in sys.modules}), fh)
"""
#: fields that differ between any two runs (clock, cache and usage counters)
VOLATILE = {"created", "duration_s", "cache", "usage"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("warm")
    (root / "trait_suites").mkdir()
    (root / "trait_suites" / "sycophantic.yaml").write_text(SUITE)
    (root / "trait_suites" / "evil.yaml").write_text(EVIL)
    (root / "conftest.py").write_text(PROBE)
    (root / "pytest.ini").write_text(
        "[pytest]\npersona_model = tiny-random-qwen2\npersona_reference_model = "
        f"tiny-random-qwen2\npersona_judge = offline\npersona_cache = {root / 'cache'}\n")
    return root


def _run(root: Path, label: str) -> tuple[dict[str, Any], set[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["PERSONA_MODULES_OUT"] = str(root / f"{label}-modules.json")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "trait_suites", "-p", "no:cacheprovider", "-q",
         "--persona-results", str(root / f"{label}.json")],
        cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "11 passed" in proc.stdout, proc.stdout[-2000:]
    results = json.loads((root / f"{label}.json").read_text())
    modules = set(json.loads((root / f"{label}-modules.json").read_text()))
    return results, modules


def _stable(data: Any) -> Any:
    """The results without clock, cache and usage fields (and whether vectors were cached)."""
    if isinstance(data, dict):
        return {k: _stable(v) for k, v in data.items()
                if k not in VOLATILE and not (k == "source" and v in ("cache", "extracted"))}
    if isinstance(data, list):
        return [_stable(v) for v in data]
    return data


@pytest.fixture(scope="module")
def cold(project: Path) -> tuple[dict[str, Any], set[str]]:
    return _run(project, "cold")


def test_a_warm_run_imports_neither_torch_nor_transformers(
        project: Path, cold: tuple[dict[str, Any], set[str]]) -> None:
    cold_results, cold_modules = cold
    assert {"torch", "transformers"} <= cold_modules  # the probe sees them when they load
    warm_results, warm_modules = _run(project, "warm")
    assert not {"torch", "transformers", "accelerate", "tokenizers"} & warm_modules
    assert warm_results["usage"]["model"]["generate_calls"] == 0
    assert warm_results["usage"]["judge"]["calls"] == 0
    assert _stable(warm_results) == _stable(cold_results)
    kinds = {e["kind"] for e in warm_results["expectations"]}
    assert {"coeff_zero_matches_baseline", "checkpoint_shift", "cross_trait_cosine",
            "projection_tracks_score"} <= kinds


def test_a_miss_on_the_warm_path_computes_the_same_figures(
        project: Path, cold: tuple[dict[str, Any], set[str]]) -> None:
    cold_results, _ = cold
    for cached in ("checks", "projections"):  # forward passes: the identity check, projections
        shutil.rmtree(project / "cache" / cached)
    results, modules = _run(project, "miss")
    assert "torch" in modules
    assert results["usage"]["model"]["generate_calls"] == 0  # responses were still cached
    assert _stable(results) == _stable(cold_results)
    assert (project / "cache" / "checks").is_dir()  # the recomputed outcome is stored again
