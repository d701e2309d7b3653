from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from pytest_persona.core.layers import find_layers
from pytest_persona.core.positions import Positions
from pytest_persona.core.steering import ActivationSteerer
from pytest_persona.models.tiny import make_tiny_model
from pytest_persona.models.tiny_names import D_MODEL
from tests.helpers import ARCHS, left_padded, position_ids

LAYER = 2
PROMPTS = ["hello there, how are you today?", "hi"]


@pytest.fixture(scope="module", params=ARCHS)
def tiny(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    return make_tiny_model(request.param)


def _vector(seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(D_MODEL, generator=g)


def _passes(model: Any, tok: Any, steerer: ActivationSteerer | None) -> list[torch.Tensor]:
    """Run a left-padded prefill then one KV-cached decode step; return (steered - raw) per pass."""
    block = find_layers(model)[LAYER]
    raw: list[torch.Tensor] = []
    after: list[torch.Tensor] = []

    def grab(store: list[torch.Tensor]) -> Callable[[nn.Module, Any, Any], None]:
        def hook(_m: nn.Module, _i: Any, o: Any) -> None:
            store.append((o[0] if isinstance(o, tuple) else o).detach().clone())

        return hook

    h1 = block.register_forward_hook(grab(raw))
    if steerer is not None:
        steerer.__enter__()
    h2 = block.register_forward_hook(grab(after))
    try:
        enc = left_padded(tok, PROMPTS)
        mask = enc["attention_mask"]
        with torch.no_grad():
            out = model(**enc, position_ids=position_ids(mask), use_cache=True)
            nxt = torch.tensor([[5], [7]])
            mask2 = torch.cat([mask, torch.ones(2, 1, dtype=mask.dtype)], dim=1)
            model(
                input_ids=nxt,
                attention_mask=mask2,
                position_ids=position_ids(mask2)[:, -1:],
                past_key_values=out.past_key_values,
                use_cache=True,
            )
    finally:
        h1.remove()
        h2.remove()
        if steerer is not None:
            steerer.__exit__(None, None, None)
    return [a - r for a, r in zip(after, raw)]


def test_all_positions(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    v = _vector()
    prefill, decode = _passes(model, tok, ActivationSteerer(model, v, 2.0, LAYER, "all"))
    assert prefill.shape[1] > 1 and decode.shape[1] == 1
    for diff in (prefill, decode):
        assert torch.allclose(diff, (2.0 * v).expand_as(diff), atol=1e-5)


def test_prompt_positions(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    v = _vector()
    prefill, decode = _passes(model, tok, ActivationSteerer(model, v, -1.5, LAYER, "prompt"))
    assert torch.allclose(prefill, (-1.5 * v).expand_as(prefill), atol=1e-5)
    assert torch.count_nonzero(decode) == 0


def test_response_positions(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    v = _vector()
    prefill, decode = _passes(model, tok, ActivationSteerer(model, v, 3.0, LAYER, "response"))
    assert torch.count_nonzero(prefill[:, :-1]) == 0
    assert torch.allclose(prefill[:, -1], (3.0 * v).expand(2, -1), atol=1e-5)
    assert torch.allclose(decode[:, -1], (3.0 * v).expand(2, -1), atol=1e-5)


def _logits(model: Any, tok: Any, steerer: ActivationSteerer | None = None) -> torch.Tensor:
    enc = left_padded(tok, PROMPTS)
    pos = position_ids(enc["attention_mask"])
    with torch.no_grad():
        if steerer is None:
            logits: torch.Tensor = model(**enc, position_ids=pos).logits
            return logits
        with steerer:
            logits = model(**enc, position_ids=pos).logits
            return logits


@pytest.mark.parametrize("positions", ["all", "prompt", "response"])
def test_coeff_zero_is_bit_identical(tiny: tuple[Any, Any], positions: Positions) -> None:
    model, tok = tiny
    base = _logits(model, tok)
    zero = _logits(model, tok, ActivationSteerer(model, _vector(), 0.0, LAYER, positions))
    rows0 = _logits(model, tok, ActivationSteerer(model, _vector(), [0.0, 0.0], LAYER, positions))
    assert torch.equal(base, zero) and torch.equal(base, rows0)


def test_per_row_coeff_equals_scalar_runs(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    v = _vector()
    mixed = _logits(model, tok, ActivationSteerer(model, v, [4.0, 0.0], LAYER, "all"))
    four = _logits(model, tok, ActivationSteerer(model, v, 4.0, LAYER, "all"))
    base = _logits(model, tok)
    assert torch.equal(mixed[0], four[0])
    assert torch.equal(mixed[1], base[1])
    assert not torch.equal(four[0], base[0])


def _manual_steer(vec: torch.Tensor, coeffs: torch.Tensor, start: int, stop: int | None
                  ) -> Any:
    """An independent steering hook: add coeffs[row] * vec at positions start..stop-1."""
    def hook(_m: Any, _i: Any, out: Any) -> Any:
        hidden = out[0] if isinstance(out, tuple) else out
        add = torch.zeros_like(hidden)
        add[:, start:stop, :] = coeffs.to(hidden.dtype)[:, None, None] * vec.to(hidden.dtype)
        return (hidden + add, *out[1:]) if isinstance(out, tuple) else hidden + add
    return hook


def _greedy_without_cache(model: Any, enc: dict[str, torch.Tensor], steps: int,
                          hook_for_length: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Greedy decoding that re-runs the full sequence every step (no KV cache)."""
    ids, mask = enc["input_ids"], enc["attention_mask"]
    block = find_layers(model)[LAYER]
    logits: list[torch.Tensor] = []
    for _ in range(steps):
        handle = block.register_forward_hook(hook_for_length(ids.shape[1]))
        try:
            with torch.no_grad():
                out = model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask),
                            use_cache=False).logits[:, -1].float()
        finally:
            handle.remove()
        logits.append(out)
        ids = torch.cat([ids, out.argmax(-1, keepdim=True)], dim=1)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    return ids, logits


@pytest.mark.parametrize("arch", ["tiny-random-qwen2", "tiny-random-gpt2"])
@pytest.mark.parametrize("positions", ["all", "prompt", "response"])
def test_kv_cached_generate_equals_independent_steered_passes(arch: str,
                                                              positions: Positions) -> None:
    """generate() with the KV cache and the steerer gives the tokens and logits of an
    independent full-sequence pass that adds coeff * vector by hand (prompt = prefill
    positions, response = last prompt position onwards)."""
    model, tok = make_tiny_model(arch)
    enc = left_padded(tok, PROMPTS)
    prompt_len, steps = enc["input_ids"].shape[1], 5
    v, coeffs = _vector() * 3.0, torch.tensor([2.0, -3.0])
    span = {"all": (0, None), "prompt": (0, prompt_len), "response": (prompt_len - 1, None)}
    start, stop = span[positions]
    want_ids, want_logits = _greedy_without_cache(
        model, enc, steps, lambda n: _manual_steer(v, coeffs, start, stop))
    _, plain_logits = _greedy_without_cache(model, enc, steps,
                                            lambda n: (lambda m, i, o: None))
    generate: Any = model.generate  # on the causal-LM class; PreTrainedModel does not declare it
    with ActivationSteerer(model, v, coeffs, LAYER, positions), torch.no_grad():
        got = generate(**enc, max_new_tokens=steps, do_sample=False, pad_token_id=0,
                             use_cache=True, return_dict_in_generate=True, output_logits=True)
    assert torch.equal(got.sequences, want_ids)
    for g, w, p in zip(got.logits, want_logits, plain_logits):
        assert torch.allclose(g.float(), w, atol=1e-4)
    moved = max(float((w - p).abs().max()) for w, p in zip(want_logits, plain_logits))
    assert moved > 1e-2  # steering changes the logits: a disabled hook cannot pass
    if positions == "prompt":  # later steps see the steered prompt only through the cache
        assert not torch.allclose(want_logits[-1], plain_logits[-1], atol=1e-4)


@pytest.mark.parametrize("zero_row", [0, 1, 2])
@pytest.mark.parametrize("positions", ["all", "response"])
def test_per_row_zero_in_any_row_equals_scalar_runs(zero_row: int, positions: Positions) -> None:
    model, tok = make_tiny_model("tiny-random-llama")
    prompts = ["hello there, how are you today?", "hi", "what is the capital of France"]
    enc = left_padded(tok, prompts)
    pos = position_ids(enc["attention_mask"])
    v = _vector()
    coeffs = [3.0, -2.0, 5.0]
    coeffs[zero_row] = 0.0

    def logits(coeff: Any) -> torch.Tensor:
        with torch.no_grad():
            if coeff is None:
                out: torch.Tensor = model(**enc, position_ids=pos).logits
                return out
            with ActivationSteerer(model, v, coeff, LAYER, positions):
                out = model(**enc, position_ids=pos).logits
                return out

    mixed, base = logits(coeffs), logits(None)
    for row, c in enumerate(coeffs):
        alone = logits(c)
        assert torch.allclose(mixed[row], alone[row], atol=1e-5), (row, c)
        if c == 0.0:
            assert torch.equal(mixed[row], base[row])
        else:
            assert not torch.allclose(mixed[row], base[row], atol=1e-3), (row, c)


def test_hook_removed_on_exit_and_on_exception() -> None:
    model, _ = make_tiny_model("tiny-random-llama")
    block = find_layers(model)[LAYER]
    before = len(block._forward_hooks)
    steerer = ActivationSteerer(model, _vector(), 1.0, LAYER)
    with steerer:
        assert len(block._forward_hooks) == before + 1
    assert len(block._forward_hooks) == before and not steerer.active
    with pytest.raises(RuntimeError, match="boom"):
        with ActivationSteerer(model, _vector(), 1.0, LAYER):
            raise RuntimeError("boom")
    assert len(block._forward_hooks) == before


def test_steerers_stack_additively() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    v1, v2 = _vector(1), _vector(2)
    with ActivationSteerer(model, v1, 1.0, LAYER), ActivationSteerer(model, v2, 2.0, LAYER):
        both = _logits(model, tok)
    combined = _logits(model, tok, ActivationSteerer(model, v1 + 2.0 * v2, 1.0, LAYER))
    assert torch.allclose(both, combined, atol=1e-4)


def test_vector_is_copied_and_cast() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    v = _vector().double()
    steerer = ActivationSteerer(model, v, 1.0, LAYER)
    v.zero_()
    assert steerer.vector.abs().sum() > 0
    base = _logits(model, tok)
    assert not torch.equal(_logits(model, tok, steerer), base)


def test_bad_inputs_have_helpful_errors() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    with pytest.raises(ValueError, match=r"Pick the layer .*vectors\[2\]"):
        ActivationSteerer(model, torch.zeros(4, D_MODEL), layer=2)
    with pytest.raises(ValueError, match="d_model=10 but the model's hidden size is 64"):
        ActivationSteerer(model, torch.zeros(10), layer=2)
    with pytest.raises(ValueError, match="has 4 decoder blocks"):
        ActivationSteerer(model, _vector(), layer=9)
    with pytest.raises(ValueError, match="unknown positions 'last'"):
        ActivationSteerer(model, _vector(), layer=1, positions="last")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="per-row coeff has 3 entries but the batch has 2"):
        _logits(model, tok, ActivationSteerer(model, _vector(), [1.0, 2.0, 3.0], LAYER))
