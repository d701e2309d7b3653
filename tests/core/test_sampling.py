"""Per-row seeded sampling: a row's text never depends on its batch (issue 13.4)."""

from __future__ import annotations

import pytest
import torch

from pytest_persona.core.generation import GenerationConfig, Steering, generate
from pytest_persona.core.sampling import RowSampler, filtered_probs, pick, row_seed
from pytest_persona.models.tiny import make_tiny_model
from pytest_persona.models.tiny_names import D_MODEL

QUESTIONS = ["What is the capital of France?", "hi", "Tell me about the moon, please.",
             "Is my plan good?", "Why is the sky blue?"]


def test_pick_is_the_inverse_cdf_over_descending_probabilities() -> None:
    probs = torch.tensor([[0.2, 0.5, 0.3]] * 4, dtype=torch.float64)
    # descending order: token 1 (0.5], token 2 (0.8], token 0 (1.0]
    got = pick(probs, torch.tensor([0.1, 0.5, 0.79, 0.95], dtype=torch.float64))
    assert got.tolist() == [1, 2, 2, 0]


def _pick_by_full_sort(probs: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """The definition pick() must reproduce token for token: stable descending argsort,
    float64 cumulative sum normalised by its last entry, right-sided search."""
    sorted_probs, order = torch.sort(probs.double(), dim=-1, descending=True, stable=True)
    cdf = torch.cumsum(sorted_probs, dim=-1)
    cdf = cdf / cdf[..., -1:]
    rank = torch.searchsorted(cdf, uniform.unsqueeze(-1), right=True)
    rank = rank.clamp_(max=probs.shape[-1] - 1)
    return order.gather(-1, rank).squeeze(-1)


@pytest.mark.parametrize("vocab", [3, 257, 49152])
def test_pick_equals_the_full_argsort_definition(vocab: int) -> None:
    """Regression: pick() sorted the whole vocabulary with its indices in float64 every
    sampled step (a quarter of a step at 49k tokens). The fast path must choose the same token
    for every row and draw, ties included (float32 softmax tails hold many equal values)."""
    gen = torch.Generator().manual_seed(vocab)
    rows = 64
    logits = torch.randn(rows, vocab, generator=gen) * torch.linspace(0.5, 12, rows)[:, None]
    logits[::4] = logits[::4].round()  # quantised logits: large groups of equal probabilities
    logits[1::8, : vocab // 2] = -30.0  # a long tail of one repeated tiny value
    logits[2::8, 1:] = float("-inf")  # one-hot rows
    probs = torch.softmax(logits, -1)
    for trial in range(40):
        uniform = torch.rand(rows, generator=gen, dtype=torch.float64)
        if trial == 0:
            uniform[:4] = torch.tensor([0.0, 1.0 - 2**-53, 0.5, 1e-300], dtype=torch.float64)
        want = _pick_by_full_sort(probs, uniform)
        assert torch.equal(pick(probs, uniform), want)
        assert torch.equal(pick(probs.double(), uniform), want)


def test_pick_lands_on_every_member_of_a_tie_in_index_order() -> None:
    """Equal probabilities are taken in index order, as the stable sort orders them."""
    probs = torch.tensor([[0.1, 0.4, 0.1, 0.4]] * 4)
    uniform = torch.tensor([0.2, 0.6, 0.85, 0.95], dtype=torch.float64)
    assert pick(probs, uniform).tolist() == [1, 3, 0, 2]


def test_pick_falls_back_to_the_definition_on_non_finite_input() -> None:
    probs = torch.tensor([[0.5, float("nan"), 0.5]])
    uniform = torch.tensor([0.3], dtype=torch.float64)
    assert torch.equal(pick(probs, uniform), _pick_by_full_sort(probs, uniform))


def test_the_fallback_sums_in_float64_whatever_the_input_dtype() -> None:
    """Regression: the argsort fallback summed float32 input in float32, so it (and the bench
    side built on it) picked other tokens than the float64 definition: 5 of 100 sampled texts
    differed in `make bench`'s sampling_speedup."""
    from pytest_persona.core.sampling import _pick_by_argsort

    gen = torch.Generator().manual_seed(5)
    probs = torch.softmax(torch.randn(64, 49152, generator=gen) * 4, -1)
    for _ in range(20):
        uniform = torch.rand(64, generator=gen, dtype=torch.float64)
        want = _pick_by_full_sort(probs, uniform)
        assert torch.equal(_pick_by_argsort(probs, uniform), want)
        assert torch.equal(_pick_by_argsort(probs.double(), uniform), want)


def test_top_p_keeps_the_smallest_nucleus() -> None:
    logits = torch.log(torch.tensor([[0.1, 0.6, 0.3]]))
    kept = filtered_probs(logits, 1.0, 0.8)  # 0.6 + 0.3 >= 0.8: token 0 dropped
    assert torch.allclose(kept, torch.tensor([[0.0, 2 / 3, 1 / 3]]))
    assert torch.allclose(filtered_probs(logits, 1.0, 0.5), torch.tensor([[0.0, 1.0, 0.0]]))
    assert torch.allclose(filtered_probs(logits, 1.0, 1.0), torch.tensor([[0.1, 0.6, 0.3]]))
    hot = filtered_probs(logits, 2.0, 1.0)
    assert torch.allclose(hot, torch.softmax(logits / 2.0, -1))


def test_row_sampler_draws_follow_each_rows_own_generator() -> None:
    scores = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    together = RowSampler([11, 22, 33], 1.0, 1.0)(None, scores)  # type: ignore[arg-type]
    for row, seed in enumerate([11, 22, 33]):
        alone = RowSampler([seed], 1.0, 1.0)(None, scores[row:row + 1])  # type: ignore[arg-type]
        assert torch.equal(together[row:row + 1], alone)
    assert torch.isfinite(together).sum(-1).tolist() == [1, 1, 1]
    with pytest.raises(ValueError):
        RowSampler([1], 0.0, 1.0)


def test_sampling_matches_the_distribution() -> None:
    """Many rows from one distribution: empirical frequencies near the probabilities."""
    probs = torch.tensor([0.5, 0.3, 0.2])
    n = 4000
    sampler = RowSampler(list(range(n)), 1.0, 1.0)
    out = sampler(None, torch.log(probs).repeat(n, 1))  # type: ignore[arg-type]
    freq = torch.bincount(out.argmax(-1), minlength=3).float() / n
    assert torch.allclose(freq, probs, atol=0.03)


def test_sampled_rows_do_not_depend_on_batch_composition() -> None:
    """Regression (issue 13.4): seeds were per batch (seed + offset), so batch size and the
    other rows changed every sampled text."""
    model, tok = make_tiny_model("tiny-random-llama")
    cfg = GenerationConfig(max_new_tokens=8, temperature=1.0, seed=7, batch_size=5)
    full = generate(model, tok, QUESTIONS, cfg)
    assert generate(model, tok, QUESTIONS, GenerationConfig(
        max_new_tokens=8, temperature=1.0, seed=7, batch_size=2)) == full
    assert generate(model, tok, QUESTIONS[3:], cfg) == full[3:]
    assert generate(model, tok, [QUESTIONS[2]], cfg) == [full[2]]
    assert generate(model, tok, list(reversed(QUESTIONS)), cfg) == list(reversed(full))
    other = generate(model, tok, QUESTIONS, GenerationConfig(max_new_tokens=8, temperature=1.0,
                                                             seed=8, batch_size=5))
    assert other != full  # the seed matters


def test_explicit_row_seeds_decide_the_text() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    cfg = GenerationConfig(max_new_tokens=8, temperature=1.0, batch_size=4)
    same = generate(model, tok, ["hi", "hi", "hi"], cfg, seeds=[1, 2, 1])
    assert same[0] == same[2] and same[0] != same[1]
    assert generate(model, tok, ["hi"], cfg, seeds=[2]) == [same[1]]
    with pytest.raises(ValueError, match="seeds has 1 entries for 2 items"):
        generate(model, tok, ["a", "b"], cfg, seeds=[1])
    assert row_seed(0, "p", 1.0) != row_seed(1, "p", 1.0) < 2 ** 63


def test_steered_sampled_rows_equal_their_unbatched_runs() -> None:
    """Per-row steering coefficients keep working with per-row seeds."""
    model, tok = make_tiny_model("tiny-random-qwen2")
    steer = Steering(torch.randn(D_MODEL, generator=torch.Generator().manual_seed(3)), layer=1)
    coeffs = [-6.0, 0.0, 6.0]
    items = [q for q in QUESTIONS[:2] for _ in coeffs]
    row_coeffs = [c for _ in QUESTIONS[:2] for c in coeffs]
    cfg = GenerationConfig(max_new_tokens=6, temperature=1.0, batch_size=8)
    sweep = generate(model, tok, items, cfg, steering=steer, coeffs=row_coeffs)
    for i, (item, c) in enumerate(zip(items, row_coeffs)):
        assert generate(model, tok, [item], cfg, steering=steer, coeffs=[c]) == [sweep[i]]
