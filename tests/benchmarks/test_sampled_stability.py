"""The sampled-text stability bench: one process per (threads, batch) configuration, texts
compared with the reference run's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_stability_bench_compares_every_configuration_with_the_reference(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.sampled_stability", "--rows", "4", "--tokens", "4",
         "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "sampled_stability"
    assert doc["command"] == f"python -m benchmarks.sampled_stability --rows 4 --tokens 4 --out {out}"
    details = doc["details"]
    assert set(details) == {"2_threads_batch_50", "1_threads_batch_50", "2_threads_batch_25",
                            "2_threads_batch_100"}
    assert details["2_threads_batch_50"]["identical"] == 4  # the reference against itself
    for name, d in details.items():
        assert 0 <= d["identical"] <= d["same_first_16_words"] <= d["rows"] == 4, name
    assert [f["unit"] for f in doc["figures"]] == ["of 4"] * 3
    assert all("against 2 threads, batch 50" in f["what"] for f in doc["figures"])
