"""benchmarks/_harness.py: the one report shape, machine description and text table that every
bench shares."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks._harness import (
    command_line,
    figure,
    format_table,
    machine_info,
    report,
    write_report,
)


def test_report_has_the_one_shape_with_the_load_at_the_end() -> None:
    figs = [figure("speedup", 2.5, "x", "batched vs loop", ">= 2", "sweep")]
    out = report(
        "bench",
        "python -m benchmarks.bench",
        figs,
        {"device": "cpu"},
        details={"sweep": {}},
        total_wall_s=3.0,
    )
    assert list(out) == ["benchmark", "machine", "command", "figures", "details", "total_wall_s"]
    assert out["figures"] == [
        {
            "name": "speedup",
            "value": 2.5,
            "unit": "x",
            "what": "batched vs loop",
            "target": ">= 2",
            "step": "sweep",
        }
    ]
    assert out["machine"]["device"] == "cpu" and len(out["machine"]["loadavg_end"]) == 3


def test_machine_info_describes_the_host_and_its_load() -> None:
    import torch

    info = machine_info("cpu", model="smollm2-135m")
    assert info["cpu_count"] == os.cpu_count() and info["model"] == "smollm2-135m"
    assert info["torch"] == torch.__version__ and info["transformers"]
    assert info["device_name"].startswith("CPU (") and len(info["loadavg_start"]) == 3


def test_command_line_quotes_what_the_shell_would_split() -> None:
    assert command_line("benchmarks.gate", ["--nulls", "4", "--out", "a b.json"]) == (
        "python -m benchmarks.gate --nulls 4 --out 'a b.json'"
    )


def test_table_aligns_figures_with_units_targets_and_extra_columns() -> None:
    figs = [
        figure("hook_ratio", 1.0371, "ratio", target=">= 0.97", step="hook"),
        {**figure("parity", True, step="parity"), "peak_gpu_mib": 14568.0},
    ]
    lines = format_table(figs, extra=(("step", "step"), ("peak_gpu_mib", "peak"))).splitlines()
    assert lines[0].split() == ["figure", "value", "target", "step", "peak"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["hook_ratio", "1.0371", "ratio", ">=", "0.97", "hook", "n/a"]
    assert lines[3].split() == ["parity", "True", "-", "parity", "14568"]


def test_write_report_is_indented_json(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_report(path, {"benchmark": "x", "figures": [figure("a", 1)]})
    assert json.loads(path.read_text())["figures"][0]["name"] == "a"
    assert path.read_text().startswith('{\n  "benchmark"')


@pytest.mark.parametrize("value", [0.5, 2])
def test_figure_keeps_the_value_as_given(value: float) -> None:
    assert figure("f", value)["value"] == value
