"""benchmarks.gpu_vllm --tiny end to end on CPU (the vllm lane): every figure is produced from
one run, and the batch-invariant step reports why it could not run off CUDA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.vllm]


def test_tiny_gpu_vllm_bench_writes_its_figures(tmp_path: Path) -> None:
    from benchmarks.gpu_vllm import run

    out = tmp_path / "gpu-vllm.json"
    report = run(True, out, tmp_path / "work")
    assert json.loads(out.read_text())["complete"] is True
    names = {f["name"]: f for f in report["figures"]}
    assert {"vllm_over_hf_steered", "vllm_steered_over_unsteered"} <= set(names)
    assert names["vllm_over_hf_steered"]["value"] > 0
    assert report["details"]["hf"]["tokens"] > 0
    assert report["details"]["vllm"]["tokens"][0] > 0
    # off CUDA the batch-invariant child is refused with the engine's reason, not a traceback
    assert "need a CUDA GPU" in report["details"]["batch_invariant"]["error"]
