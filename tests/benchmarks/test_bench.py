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

from benchmarks.bench import ALL_METRICS, TARGETS, figures, format_table


def test_table_lists_metrics_targets_and_verdicts() -> None:
    table = format_table({"sweep_speedup": 7.5, "hook_overhead": 1.2, "sweep_peak_rss_mb": 900.0})
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "value", "target", "ok"]
    assert lines[2].split() == ["sweep_speedup", "7.5", ">=", "6", "yes"]
    assert lines[3].split() == ["hook_overhead", "1.2", "<=", "1.05", "NO"]
    assert lines[4].split() == ["sweep_peak_rss_mb", "900", "-", "-"]
    assert set(TARGETS) == set(ALL_METRICS)


GATE_DETAILS = {
    "nulls": 20, "noise_relative_std": 0.002, "layer": 12, "vector_norm": 1.78,
    "null_next_token_agreement_min": 0.85, "max": 2.0, "null_max_shift": 0.147,
    "repeats_per_strength": 5, "strength_caught_80pct": 2.0, "min_detectable_shift": 3.551,
    "detection_by_strength": {
        "+1": {"detection_rate": 0.0, "mean_shift": 1.823, "mean_ci_low": 1.6, "n": 5},
        "+2": {"detection_rate": 1.0, "mean_shift": 3.551, "mean_ci_low": 3.2, "n": 5}}}


def test_gate_figures_give_the_rates_and_the_power_curve_from_the_details() -> None:
    out = figures({"gate_false_alarm_rate": 0.05, "gate_detection_rate": 1.0},
                  {"gate": GATE_DETAILS})
    by = {f["name"]: f for f in out}
    assert by["gate_false_alarm_rate"]["what"].startswith("1 of 20 null candidates")
    assert by["gate_false_alarm_rate"]["target"] == "<= 0.05"
    assert by["gate_false_alarm_rate"]["step"] == "gate"
    assert by["gate_detection_+2"]["value"] == 1.0
    assert "failed 5 of 5 runs, mean projection shift 3.551" in by["gate_detection_+2"]["what"]
    assert by["gate_detection_+1"]["step"] == "gate_power"
    assert by["gate_min_detectable_shift"]["value"] == 3.551
    assert by["gate_vector_norm"]["value"] == 1.78 and "block 12" in by["gate_vector_norm"]["what"]
    assert by["gate_null_token_agreement_min"]["value"] == 0.85
    assert "(+2)" in by["gate_min_detectable_shift"]["what"]


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
         "--only", "hook_overhead,extraction_speedup,sweep_peak_rss_mb,sampling_speedup,"
         "projection_pass_speedup", "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert list(report)[:4] == ["benchmark", "machine", "command", "figures"]
    assert report["benchmark"] == "bench"
    assert report["command"] == ("python -m benchmarks.bench --quick --only "
                                 "hook_overhead,extraction_speedup,sweep_peak_rss_mb,"
                                 f"sampling_speedup,projection_pass_speedup --out {out}")
    machine = report["machine"]
    assert machine["cpu_count"] >= 1 and machine["device"] == "cpu"
    assert isinstance(machine["torch"], str) and machine["torch"]
    assert len(machine["loadavg_start"]) == len(machine["loadavg_end"]) == 3
    metrics = report["metrics"]
    figures = {f["name"]: f for f in report["figures"]}
    assert set(figures) == set(metrics)
    for name, f in figures.items():  # each figure is its metric, with what it measured
        assert f["value"] == metrics[name] and f["what"] and f["step"]
    assert figures["hook_overhead"]["target"] == "<= 1.05"
    assert figures["sweep_peak_rss_mb"]["target"] is None
    assert "4 prompts x 8 tokens" in figures["hook_overhead"]["what"]
    assert set(metrics) == {"hook_overhead", "extraction_speedup", "sweep_peak_rss_mb",
                            "sampling_speedup", "projection_pass_speedup"}
    for name, value in metrics.items():
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, name
    details = report["details"]
    assert details["extraction"]["allclose"] is True
    assert details["extraction"]["pairs"] == 24
    assert details["hook_overhead"]["batch"] == 4
    assert details["sampling"]["texts_identical"] == "8/8"  # the fast pick changes no token
    assert details["projection_pass"]["bit_identical"] is True
    assert details["sweep_peak_rss"]["peak_end_mb"] >= details["sweep_peak_rss"]["rss_after_load_mb"]
    assert details["run"]["quick"] is True
    for name in metrics:  # the printed table has a row per metric
        assert any(line.startswith(name) for line in proc.stdout.splitlines())
    assert f"written: {out}" in proc.stdout
    assert not list(out.parent.glob(".bench.json.*.tmp"))  # atomic write left nothing behind
