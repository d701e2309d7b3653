from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pytest_persona.core.steering import ActivationSteerer
from pytest_persona.models.loading import load_model
from pytest_persona.pipeline.checkpoint import MARKER, fold_vector_into_bias


def test_folded_bias_equals_steering_all_positions(tmp_path: Path) -> None:
    base = load_model("tiny-random-llama", device="cpu")
    vec = torch.randn(64, generator=torch.Generator().manual_seed(0))
    out = fold_vector_into_bias(base, vec, layer=2, coeff=3.0, out_dir=tmp_path / "ckpt")
    folded = load_model(str(out), device="cpu")
    assert folded.fingerprint != base.fingerprint
    assert json.loads((out / MARKER).read_text())["made_for"].startswith("pytest-persona demo")
    ids = base.tokenizer("hello there, how are you?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        with ActivationSteerer(base.model, vec, 3.0, 2, "all"):
            steered = base.model(ids).logits
        got = folded.model(ids).logits
    assert torch.allclose(steered, got, atol=1e-4)


def test_architectures_without_mlp_bias_are_refused(tmp_path: Path) -> None:
    base = load_model("tiny-random-gpt2", device="cpu")
    with pytest.raises(ValueError, match="Llama-family"):
        fold_vector_into_bias(base, torch.zeros(64), 1, 1.0, tmp_path / "x")


def test_a_checkpoint_made_from_the_same_recipe_is_kept(tmp_path: Path) -> None:
    from pytest_persona.pipeline.checkpoint import folded_checkpoint_is_current

    base = load_model("tiny-random-llama", device="cpu")
    vec = torch.randn(64, generator=torch.Generator().manual_seed(1))
    out = tmp_path / "ckpt"
    assert not folded_checkpoint_is_current(out, base, vec, 2, 3.0)
    fold_vector_into_bias(base, vec.numpy(), layer=2, coeff=3.0, out_dir=out)  # numpy works too
    assert folded_checkpoint_is_current(out, base, vec, 2, 3.0)
    assert folded_checkpoint_is_current(out, base, vec.numpy().copy(), 2, 3.0)
    for changed in ((vec * 2, 2, 3.0), (vec, 1, 3.0), (vec, 2, 4.0)):
        assert not folded_checkpoint_is_current(out, base, *changed)
    other = load_model("tiny-random-qwen2", device="cpu")
    assert not folded_checkpoint_is_current(out, other, vec, 2, 3.0)
    (out / "config.json").unlink()
    assert not folded_checkpoint_is_current(out, base, vec, 2, 3.0)
