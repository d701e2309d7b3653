"""A shipped suite through ``--persona-engine vllm``: trait_suites/sycophantic.yaml at its
smollm2-135m profile (20 questions, 64 greedy tokens, extraction sampled at temperature 1 with
per-row seeds) passes as it does on hf; the results say which engine generated and its
self-check; a warm rerun never starts the engine and gives the same verdicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.vllm]
ROOT = Path(__file__).resolve().parents[2]


def _run(tmp: Path, name: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    results = tmp / f"{name}.json"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "trait_suites/sycophantic.yaml", "-p",
         "no:cacheprovider", "-rA", "--persona-engine", "vllm", "--model", "smollm2-135m",
         "--judge", "offline",
         "--persona-cache", str(tmp / "cache"), "--persona-results", str(results)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    out = proc.stdout + proc.stderr
    assert results.exists(), out[-4000:]
    return proc, json.loads(results.read_text())


def test_shipped_suite_passes_on_vllm_and_warm_rerun_makes_no_engine_call(
        tmp_path: Path) -> None:
    cold, first = _run(tmp_path, "cold")
    out = cold.stdout + cold.stderr
    assert cold.returncode == 0, out[-4000:]
    assert "pytest-persona: engine vllm 0.32.0 (--persona-engine vllm)" in out
    outcomes = [e["outcome"] for e in first["expectations"]]
    assert set(outcomes) <= {"passed", "xfailed", "skipped"}, out[-4000:]
    assert outcomes.count("passed") >= 6, outcomes
    engine = first["model"]["engine"]
    assert engine["name"] == "vllm" and engine["started"] is True
    assert isinstance(engine["batch_invariance"]["equal"], bool)
    assert first["usage"]["model"]["generated_tokens"] > 0

    warm, second = _run(tmp_path, "warm")
    assert warm.returncode == 0, (warm.stdout + warm.stderr)[-4000:]
    assert second["usage"]["model"]["generated_tokens"] == 0
    assert second["usage"]["model"]["generate_calls"] == 0
    assert second["model"].get("engine", {}).get("started", False) is False
    same = [(e["nodeid"], e["outcome"]) for e in second["expectations"]]
    assert same == [(e["nodeid"], e["outcome"]) for e in first["expectations"]]
