"""``persona vectors inspect`` reads one layer's row at a time (issue 25 item 10: it took 5x
the tensor's size in RAM)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pytest_persona.core.vectors import TraitVectors, VectorFileError, inspect_vector_file

PROBE = """
import resource, sys
from pytest_persona.cli import main
from pytest_persona.core import vectors  # imports done before the measure
import safetensors.numpy, numpy
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert main(["vectors", "inspect", sys.argv[1]]) == 0
print("GROWTH_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_inspect_memory_stays_near_one_row(tmp_path: Path) -> None:
    rows = torch.ones(32, 1 << 20)  # 128 MiB of float32
    rows[5] *= 3
    path = TraitVectors(rows, {"trait": "evil"}).save(tmp_path / "big.safetensors")
    del rows
    out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    growth_mib = int(out.split("GROWTH_KB")[1].split()[0]) / 1024
    assert "[32 layers, d_model 1048576]" in out and "<- largest" in out
    assert growth_mib < 48, f"peak RSS grew by {growth_mib:.0f} MiB for a 128 MiB tensor"


def test_inspect_agrees_with_load_and_checks_the_file(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(1)
    v = TraitVectors(torch.randn(4, 8, generator=gen), {"trait": "evil", "n": 3})
    path = v.save(tmp_path / "v.safetensors")
    meta, shape, norms = inspect_vector_file(path)
    assert shape == (4, 8) and meta["n"] == 3
    assert norms == pytest.approx(TraitVectors.load(path).norms(), rel=1e-12)
    bf = TraitVectors(torch.randn(4, 8, generator=gen).bfloat16(), {"trait": "evil"})
    bf_path = bf.save(tmp_path / "bf.safetensors")
    assert inspect_vector_file(bf_path)[2] == pytest.approx(
        TraitVectors.load(bf_path).norms(), rel=1e-6)
    (tmp_path / "bad.safetensors").write_bytes(b"nope")
    with pytest.raises(VectorFileError, match="not a readable safetensors file"):
        inspect_vector_file(tmp_path / "bad.safetensors")
