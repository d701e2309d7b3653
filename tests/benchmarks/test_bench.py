"""The bench command: runs end to end (quick sizes) and writes a well-formed report.

Timing targets are printed by the bench, never asserted here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.bench import ALL_METRICS, TARGETS, format_table


def test_table_lists_metrics_targets_and_verdicts() -> None:
    table = format_table({"sweep_speedup": 7.5, "hook_overhead": 1.2, "sweep_peak_rss_mb": 900.0})
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "value", "target", "ok"]
    assert lines[2].split() == ["sweep_speedup", "7.5", ">=", "6", "yes"]
    assert lines[3].split() == ["hook_overhead", "1.2", "<=", "1.05", "NO"]
    assert lines[4].split() == ["sweep_peak_rss_mb", "900", "-", "-"]
    assert set(TARGETS) == set(ALL_METRICS)


def test_unknown_metric_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--only", "nope",
                           "--out", str(tmp_path / "b.json")],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode != 0
    assert "unknown metric(s) nope" in proc.stderr
    assert not (tmp_path / "b.json").exists()


@pytest.mark.slow
def test_quick_bench_writes_report(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick",
         "--only", "hook_overhead,extraction_speedup,sweep_peak_rss_mb", "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report) == {"machine", "metrics", "details"}
    machine = report["machine"]
    assert machine["cpu_count"] >= 1 and machine["device"] == "cpu"
    assert isinstance(machine["torch"], str) and machine["torch"]
    metrics = report["metrics"]
    assert set(metrics) == {"hook_overhead", "extraction_speedup", "sweep_peak_rss_mb"}
    for name, value in metrics.items():
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, name
    details = report["details"]
    assert details["extraction"]["allclose"] is True
    assert details["extraction"]["pairs"] == 24
    assert details["hook_overhead"]["batch"] == 4
    assert details["sweep_peak_rss"]["peak_end_mb"] >= details["sweep_peak_rss"]["rss_after_load_mb"]
    assert details["run"]["quick"] is True
    for name in metrics:  # the printed table has a row per metric
        assert any(line.startswith(name) for line in proc.stdout.splitlines())
    assert f"written: {out}" in proc.stdout
    assert not list(out.parent.glob(".bench.json.*.tmp"))  # atomic write left nothing behind
