"""Cache keys read a vector's float32 bytes: the same key whether torch or numpy holds the
vector (issue 16.3), and cached vectors load without importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pytest_persona.core.arrays import as_float32, float32_bytes, to_tensor, vector_sha256
from pytest_persona.core.requests import GenerationConfig, Steering, request_key
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.pipeline.projections import projection_vector_hash

ROOT = Path(__file__).resolve().parents[2]
MSGS = [{"role": "user", "content": "q"}]


def _tensor() -> torch.Tensor:
    return torch.randn(3, 8, generator=torch.Generator().manual_seed(1)) * 7


def test_numpy_and_torch_give_the_same_bytes_and_hashes() -> None:
    t = _tensor()
    a = t.numpy().copy()
    old = t.detach().float().cpu().numpy().tobytes()  # what the keys hashed before numpy paths
    assert float32_bytes(t) == float32_bytes(a) == old
    assert float32_bytes(t[1]) == float32_bytes(a[1]) == t[1].numpy().tobytes()
    assert float32_bytes(t.T) == t.T.contiguous().numpy().tobytes()  # strided: row-major
    assert float32_bytes(t.double()) == old  # upcast inputs are hashed as float32
    assert vector_sha256(t) == vector_sha256(a)
    assert vector_sha256(a) != vector_sha256(a * 2)


def test_steering_request_and_projection_keys_match_across_backends() -> None:
    t = _tensor()[2]
    a = t.numpy().copy()
    config = GenerationConfig(max_new_tokens=4)
    steer_t, steer_a = Steering(t, 1, "response"), Steering(a, 1, "response")
    assert steer_t.key() == steer_a.key()
    assert request_key("fp", MSGS, config, steer_t, 2.0) == request_key("fp", MSGS, config,
                                                                        steer_a, 2.0)
    assert request_key("fp", MSGS, config, steer_a, 2.0) != request_key(
        "fp", MSGS, config, Steering(a + 1, 1, "response"), 2.0)
    assert projection_vector_hash(t) == projection_vector_hash(a)


def test_trait_vectors_from_a_file_match_the_tensors_they_were_saved_from(tmp_path: Path
                                                                        ) -> None:
    t = _tensor()
    extra = t * -0.5
    saved = TraitVectors(t, {"trait": "evil"}, {"prompt_last": extra})
    back = TraitVectors.load(saved.save(tmp_path / "v.safetensors"))
    assert torch.equal(back.vectors, t) and torch.equal(back.extras["prompt_last"], extra)
    for layer in range(3):
        assert np.array_equal(back.array(layer), saved.array(layer))
        assert vector_sha256(back.array(layer)) == vector_sha256(saved[layer])
    assert back.norms() == saved.norms() == [float(np.linalg.norm(r.astype(np.float64)))
                                             for r in t.numpy()]
    from safetensors.torch import load_file  # the file is what safetensors.torch reads

    assert torch.equal(load_file(str(tmp_path / "v.safetensors"))["response_avg"], t)


def test_bfloat16_files_load_through_torch(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    t = _tensor()
    save_file({"response_avg": t.bfloat16()}, str(tmp_path / "b.safetensors"),
              metadata={"format": "pytest-persona", "metadata_json": '{"n_layers": 3, '
                                                                    '"d_model": 8}'})
    back = TraitVectors.load(tmp_path / "b.safetensors")  # numpy has no bfloat16
    assert torch.equal(back.vectors, t.bfloat16().float())


def test_torch_views_share_the_arrays_and_inputs_are_copied() -> None:
    t = _tensor()
    v = TraitVectors(t)
    t[0, 0] = 1e6  # the caller's tensor is not the stored one
    assert v.array(0)[0] != 1e6
    v.vectors[1, 1] = 5.0  # the torch view is the storage
    assert v.array(1)[1] == 5.0
    assert to_tensor(v.array(1)).dtype == torch.float32
    assert as_float32(v.array(1)).flags.c_contiguous
    with pytest.raises(ValueError, match="n_layers, d_model"):
        TraitVectors(np.zeros(4, dtype=np.float32))


def test_cached_vectors_load_without_importing_torch(tmp_path: Path) -> None:
    path = TraitVectors(_tensor(), {"trait": "evil"}).save(tmp_path / "v.safetensors")
    code = (
        "import sys\n"
        "from pytest_persona.core.vectors import TraitVectors\n"
        "from pytest_persona.core.projection import cosine\n"
        f"v = TraitVectors.load({str(path)!r})\n"
        "print(v.norms()[0], cosine(v.array(0), v.array(1)), v.array(2).sum())\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False, env={"PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
