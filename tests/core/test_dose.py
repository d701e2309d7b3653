"""Relative dose: exact hand computations and the measured residual norm."""

from __future__ import annotations

import math

import pytest
import torch

from pytest_persona.core.dose import DoseScale, coeff_for_dose, mean_block_norm, relative_dose
from pytest_persona.core.layers import find_layers
from pytest_persona.models.tiny import make_tiny_model


def test_relative_dose_by_hand() -> None:
    # |c| * ||v|| / mean||h|| = 3 * 5 / 10
    assert relative_dose(3.0, 5.0, 10.0) == 1.5
    assert relative_dose(-3.0, 5.0, 10.0) == 1.5
    assert coeff_for_dose(1.5, 5.0, 10.0) == 3.0
    assert coeff_for_dose(-0.5, 5.0, 10.0) == -1.0
    scale = DoseScale(vector_norm=2.0, mean_norm=8.0, n_tokens=4, layer=1)
    assert scale.dose(scale.coeff(0.7)) == pytest.approx(0.7)
    assert "procedure" in scale.to_dict()


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_bad_norms_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="positive finite"):
        relative_dose(1.0, bad, 1.0)
    with pytest.raises(ValueError, match="positive finite"):
        coeff_for_dose(1.0, 1.0, bad)


def test_mean_block_norm_matches_a_hand_hook() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    prompts = ["What is 2 + 2?", "Tell me about Paris, please."]
    mean, n = mean_block_norm(model, tok, prompts, 1, batch_size=1)
    # by hand: each prompt alone (no padding), norms of every token, pooled mean
    from pytest_persona.core.generation import chat_prompt

    norms: list[list[float]] = []
    for p in prompts:
        ids = tok(chat_prompt(tok, [{"role": "user", "content": p}]), add_special_tokens=False,
                  return_tensors="pt")["input_ids"]
        got: list[torch.Tensor] = []
        h = find_layers(model)[1].register_forward_hook(
            lambda _m, _i, o: got.append(o[0] if isinstance(o, tuple) else o))
        with torch.no_grad():
            model(input_ids=ids)
        h.remove()
        norms.append(got[0][0].float().norm(dim=-1).tolist())
    rest = [x for row in norms for x in row[1:]]  # each prompt's first token left out
    assert n == len(rest)
    assert mean == pytest.approx(sum(rest) / len(rest), rel=1e-4)
    batched, n2 = mean_block_norm(model, tok, prompts, 1, batch_size=2)
    assert n2 == n and batched == pytest.approx(mean, rel=1e-4)  # left padding: same tokens
    every, n3 = mean_block_norm(model, tok, prompts, 1, batch_size=2, skip_first=False)
    flat = [x for row in norms for x in row]
    assert n3 == len(flat) and every == pytest.approx(sum(flat) / len(flat), rel=1e-4)


def test_mean_block_norm_needs_prompts() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    with pytest.raises(ValueError, match="at least one prompt"):
        mean_block_norm(model, tok, [], 0)
