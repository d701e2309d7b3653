from __future__ import annotations

import pytest
import torch

from pytest_persona.core.generation import (
    STATS,
    GenerationConfig,
    Steering,
    chat_prompt,
    ensure_pad_token,
    generate,
    request_key,
)
from pytest_persona.models.loading import LoadedModel
from pytest_persona.models.tiny import make_tiny_model
from pytest_persona.models.tiny_names import D_MODEL

QUESTIONS = ["What is the capital of France?", "hi", "Tell me about the moon, please.",
             "Is my plan good?"]


def _vec(seed: int = 3) -> torch.Tensor:
    return torch.randn(D_MODEL, generator=torch.Generator().manual_seed(seed))


def test_greedy_batched_equals_unbatched_tiny() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    cfg = GenerationConfig(max_new_tokens=8)
    batched = generate(model, tok, QUESTIONS, GenerationConfig(max_new_tokens=8, batch_size=4))
    single = generate(model, tok, QUESTIONS, GenerationConfig(max_new_tokens=8, batch_size=1))
    assert batched == single
    assert generate(model, tok, QUESTIONS, cfg) == batched


def test_seeded_sampling_is_reproducible() -> None:
    model, tok = make_tiny_model("tiny-random-llama")
    cfg = GenerationConfig(max_new_tokens=8, temperature=1.0, seed=7, batch_size=4)
    a = generate(model, tok, QUESTIONS, cfg)
    b = generate(model, tok, QUESTIONS, cfg)
    c = generate(model, tok, QUESTIONS, GenerationConfig(max_new_tokens=8, temperature=1.0,
                                                         seed=8, batch_size=4))
    assert a == b and a != c


def test_sweep_rows_equal_separate_steered_runs() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    steer = Steering(_vec(), layer=1, positions="response")
    coeffs = [-8.0, 0.0, 8.0]
    items = [q for q in QUESTIONS[:2] for _ in coeffs]
    row_coeffs = [c for _ in QUESTIONS[:2] for c in coeffs]
    cfg = GenerationConfig(max_new_tokens=6, batch_size=8)
    sweep = generate(model, tok, items, cfg, steering=steer, coeffs=row_coeffs)
    for c in coeffs:
        alone = generate(model, tok, QUESTIONS[:2], cfg, steering=steer, coeffs=[c, c])
        got = [sweep[i] for i, rc in enumerate(row_coeffs) if rc == c]
        assert got == alone, c
    plain = generate(model, tok, QUESTIONS[:2], cfg)
    assert [sweep[1], sweep[4]] == plain
    assert sweep[2] != sweep[1] or sweep[5] != sweep[4]


def test_system_prompt_and_pad_token() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    ensure_pad_token(tok)
    assert tok.pad_token == "<|pad|>" and tok.padding_side == "left"
    text = chat_prompt(tok, [{"role": "system", "content": "SYS"},
                             {"role": "user", "content": "U"}])
    assert "SYS" in text and text.endswith("<|im_start|>assistant\n")


def test_argument_errors_and_stats() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    with pytest.raises(ValueError, match="coeffs has 1 entries for 2 items"):
        generate(model, tok, ["a", "b"], steering=Steering(_vec(), 1), coeffs=[1.0])
    with pytest.raises(ValueError, match="without a steering vector"):
        generate(model, tok, ["a"], coeffs=[1.0])
    before = STATS.generate_calls
    generate(model, tok, ["a"], GenerationConfig(max_new_tokens=2))
    assert STATS.generate_calls == before + 1


def test_request_key_covers_model_and_steering() -> None:
    msgs = [{"role": "user", "content": "q"}]
    cfg = GenerationConfig()
    s = Steering(_vec(), 1)
    base = request_key("fp1", msgs, cfg, None, 0.0)
    assert base != request_key("fp2", msgs, cfg, None, 0.0)
    assert request_key("fp1", msgs, cfg, s, 1.0) != request_key("fp1", msgs, cfg, s, 2.0)
    assert request_key("fp1", msgs, cfg, s, 0.0) == base  # coeff 0 is the unsteered model
    assert base != request_key("fp1", msgs, GenerationConfig(max_new_tokens=3), None, 0.0)


@pytest.mark.slow
def test_embedded_model_answers_coherently(smol: LoadedModel) -> None:
    out = generate(smol.model, smol.tokenizer, ["What is the capital of France?"],
                   GenerationConfig(max_new_tokens=24))
    assert "paris" in out[0].lower()


@pytest.mark.slow
def test_embedded_greedy_batched_equals_unbatched(smol: LoadedModel) -> None:
    qs = ["What is the capital of France?", "Name a primary colour.", "What is 2 + 2?"]
    a = generate(smol.model, smol.tokenizer, qs, GenerationConfig(max_new_tokens=16, batch_size=3))
    b = generate(smol.model, smol.tokenizer, qs, GenerationConfig(max_new_tokens=16, batch_size=1))
    assert a == b
