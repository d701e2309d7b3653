from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pytest_persona.core.vectors import TraitVectors, VectorFileError, reference_sidecar


def _vecs() -> TraitVectors:
    g = torch.Generator().manual_seed(0)
    main = torch.randn(4, 8, generator=g)
    return TraitVectors(main, {"trait": "evil", "model_id": "tiny", "effective_pairs": 12},
                        {"prompt_avg": torch.randn(4, 8, generator=g)})


def test_safetensors_round_trip_is_exact(tmp_path: Path) -> None:
    v = _vecs()
    path = v.save(tmp_path / "evil.safetensors")
    back = TraitVectors.load(path)
    assert torch.equal(back.vectors, v.vectors)
    assert torch.equal(back.extras["prompt_avg"], v.extras["prompt_avg"])
    assert back.metadata["trait"] == "evil" and back.metadata["effective_pairs"] == 12
    assert back.metadata["layer_convention"] == "block_output_0based"
    assert not list(tmp_path.glob("*.tmp"))


def test_reference_layout_round_trip(tmp_path: Path) -> None:
    v = _vecs()
    ref = v.to_reference(tmp_path / "evil_response_avg_diff.pt")
    raw = torch.load(ref, weights_only=True)
    assert raw.shape == (5, 8) and torch.equal(raw[0], torch.zeros(8))
    assert torch.equal(raw[3], v.vectors[2])  # reference row L + 1 == our layer L
    back = TraitVectors.from_reference(ref, trait="evil")
    assert torch.equal(back.vectors, v.vectors)
    assert back.metadata["imported_from"] == "reference_pt"


def test_reference_export_says_row0_is_zeros(tmp_path: Path) -> None:
    ref = _vecs().to_reference(tmp_path / "evil_response_avg_diff.pt")
    side = reference_sidecar(ref)
    assert side.name == "evil_response_avg_diff.pt.json"
    meta = json.loads(side.read_text())
    assert meta["row0"].startswith("zeros") and meta["trait"] == "evil"
    assert "row L + 1" in meta["layout"]
    assert "Row 0" in (TraitVectors.to_reference.__doc__ or "")
    assert not list(tmp_path.glob("*.tmp"))


def test_corrupted_file_is_a_clear_error(tmp_path: Path) -> None:
    path = _vecs().save(tmp_path / "v.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VectorFileError, match="not a readable safetensors file"):
        TraitVectors.load(path)
    with pytest.raises(VectorFileError, match="not found"):
        TraitVectors.load(tmp_path / "missing.safetensors")


def test_foreign_and_inconsistent_files(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2, 2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(VectorFileError, match="not a pytest-persona vector file"):
        TraitVectors.load(tmp_path / "foreign.safetensors")
    save_file({"response_avg": torch.zeros(3, 8)}, str(tmp_path / "bad.safetensors"),
              metadata={"format": "pytest-persona", "metadata_json": '{"n_layers": 4, "d_model": 8}'})
    with pytest.raises(VectorFileError, match="inconsistent"):
        TraitVectors.load(tmp_path / "bad.safetensors")
    torch.save({"a": 1}, tmp_path / "notatensor.pt")
    with pytest.raises(VectorFileError, match="n_layers \\+ 1"):
        TraitVectors.from_reference(tmp_path / "notatensor.pt")


def test_model_mismatch_and_layer_access() -> None:
    v = _vecs()
    with pytest.raises(VectorFileError, match="model has 30 layers and d_model 576"):
        v.check_model(30, 576)
    assert torch.equal(v[1], v.vectors[1])
    with pytest.raises(ValueError, match="out of range"):
        v.layer(4)
    with pytest.raises(ValueError, match="n_layers, d_model"):
        TraitVectors(torch.zeros(8))


def test_arithmetic_and_norms() -> None:
    v = _vecs()
    assert torch.allclose((v + v).vectors, 2 * v.vectors)
    assert torch.allclose((v - v).vectors, torch.zeros(4, 8))
    assert torch.allclose((0.5 * v).vectors, v.vectors / 2)
    assert v.normalized().norms() == pytest.approx([1.0] * 4)
    assert len(v.norms()) == 4
