"""Steering damage: KL by hand, the steered-position masks, teacher-forced KL on a tiny model."""

from __future__ import annotations

import math

import pytest
import torch

from pytest_persona.core.damage import kl_divergence, steered_mask, teacher_forced_kl
from pytest_persona.models.tiny import make_tiny_model


def test_kl_by_hand() -> None:
    # p = (1/2, 1/2), q = (1/4, 3/4): KL = 1/2 ln 2 + 1/2 ln(2/3)
    p = torch.log(torch.tensor([0.5, 0.5], dtype=torch.float64))
    q = torch.log(torch.tensor([0.25, 0.75], dtype=torch.float64))
    want = 0.5 * math.log(2) + 0.5 * math.log(2 / 3)
    assert float(kl_divergence(p, q)) == pytest.approx(want, abs=1e-12)
    assert float(kl_divergence(p, p)) == 0.0
    assert float(kl_divergence(q, p)) != pytest.approx(want)  # not symmetric


def test_steered_mask() -> None:
    # row 0: 2 pads, prompt of 3, continuation of 2; row 1: no pad, prompt 4, continuation 3
    m = steered_mask(7, [2, 0], [3, 4], "response")
    assert m.tolist() == [[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1]]
    assert steered_mask(7, [2, 0], [3, 4], "prompt").tolist() == [
        [0, 0, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0, 0]]
    assert steered_mask(7, [2, 0], [3, 4], "all").tolist() == [
        [0, 0, 1, 1, 1, 1, 1], [1] * 7]
    with pytest.raises(ValueError, match="unknown positions"):
        steered_mask(3, [0], [1], "everywhere")  # type: ignore[arg-type]


def test_teacher_forced_kl_grows_with_coefficient() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    vec = torch.randn(64, generator=torch.Generator().manual_seed(0))
    prompts = ["What is 2 + 2?", "Name a colour.", "Say hello."]
    conts = ["It is 4.", "Blue.", "Hello there!"]
    zero = teacher_forced_kl(model, tok, prompts, conts, vec, 0.0, 1)
    assert zero == [0.0, 0.0, 0.0]
    small = teacher_forced_kl(model, tok, prompts, conts, vec, 1.0, 1, batch_size=2)
    big = teacher_forced_kl(model, tok, prompts, conts, vec, 8.0, 1)
    assert all(0 < s < b for s, b in zip(small, big))
    alone = teacher_forced_kl(model, tok, prompts[:1], conts[:1], vec, 1.0, 1)
    assert alone[0] == pytest.approx(small[0], rel=1e-3)  # padding does not change a row


def test_teacher_forced_kl_refuses_bad_input() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    with pytest.raises(ValueError, match="2 prompts but 1"):
        teacher_forced_kl(model, tok, ["a", "b"], ["x"], torch.zeros(64), 1.0, 0)
    with pytest.raises(ValueError, match="no tokens"):
        teacher_forced_kl(model, tok, ["a"], [""], torch.zeros(64), 1.0, 0)
