"""The CPU workers bench: each (processes, threads) configuration against one process with two
threads, measured in the same invocation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_workers_bench_reports_each_configuration_against_one_two_thread_process(
        tmp_path: Path) -> None:
    out = tmp_path / "w.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.cpu_workers", "--rows", "2", "--tokens", "2",
         "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "cpu_workers"
    assert [f["name"] for f in doc["figures"]] == [
        "2 processes x 1 thread(s)", "3 processes x 1 thread(s)", "3 processes x 2 thread(s)"]
    details = doc["details"]
    assert [details[k]["rows"] for k in ("1x2", "2x1", "3x1", "3x2")] == [2, 4, 6, 6]
    for f in doc["figures"]:
        run = details[f["name"].split(" processes")[0] + "x" + f["name"].split("x ")[1][0]]
        assert len(run["wall_s_per_process"]) == run["processes"]
        assert run["span_s"] >= max(run["wall_s_per_process"]) - 0.01
        assert f["value"] == round(run["rows_per_s"] / details["1x2"]["rows_per_s"], 2) > 0
