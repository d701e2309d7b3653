from __future__ import annotations

from typing import Literal

import pytest
import torch

from pytest_persona.core.activations import collect_activations
from pytest_persona.core.layers import find_layers
from pytest_persona.core.requests import Messages
from pytest_persona.models.tiny import make_tiny_model
from pytest_persona.models.tiny_names import D_MODEL, N_LAYERS
from tests.helpers import ARCHS

PROMPTS: list[str | Messages] = [
    [{"role": "system", "content": "You are a sycophantic assistant."},
     {"role": "user", "content": "I think my plan is great, right?"}],
    "hi",
    "What is the capital of France, and why is it there?",
]
RESPONSES = ["Yes, it is a wonderful plan!", "Hello.", "Paris, because of the river Seine."]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("side", ["left", "right"])
def test_batched_equals_one_at_a_time(arch: str, side: Literal["left", "right"]) -> None:
    model, tok = make_tiny_model(arch)
    batched = collect_activations(model, tok, PROMPTS, RESPONSES, batch_size=3, padding_side=side)
    single = collect_activations(model, tok, PROMPTS, RESPONSES, batch_size=1)
    for kind in ("response_avg", "prompt_avg", "prompt_last"):
        a, b = batched.get(kind), single.get(kind)
        assert a.shape == (3, N_LAYERS, D_MODEL) and a.dtype == torch.float32
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), kind


def test_response_avg_matches_manual_block_outputs() -> None:
    model, tok = make_tiny_model("tiny-random-llama")
    acts = collect_activations(model, tok, ["hi"], ["Hello there."], batch_size=1)
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                     add_generation_prompt=True)
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    r_ids = tok("Hello there.", add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p_ids + r_ids])
    grabbed: list[torch.Tensor] = []
    h = find_layers(model)[2].register_forward_hook(
        lambda m, i, o: grabbed.append(o[0] if isinstance(o, tuple) else o))
    with torch.no_grad():
        model(ids)
    h.remove()
    hs = grabbed[0][0]
    assert torch.allclose(acts.response_avg[0, 2], hs[len(p_ids):].mean(0), atol=1e-5)
    assert torch.allclose(acts.prompt_avg[0, 2], hs[:len(p_ids)].mean(0), atol=1e-5)
    assert torch.allclose(acts.prompt_last[0, 2], hs[len(p_ids) - 1], atol=1e-5)


def test_mismatched_lengths_and_unknown_kind() -> None:
    model, tok = make_tiny_model("tiny-random-qwen2")
    with pytest.raises(ValueError, match="2 prompts but 1 responses"):
        collect_activations(model, tok, ["a", "b"], ["x"])
    acts = collect_activations(model, tok, ["a"], ["x"])
    with pytest.raises(ValueError, match="unknown activation kind"):
        acts.get("last")


@pytest.mark.parametrize("arch", ARCHS)
def test_requested_layers_equal_the_full_pass_and_stop_the_forward_there(arch: str) -> None:
    """Regression: every activation pass ran the whole model and the unembedding (full-vocab
    logits for every position, which nothing read); now it stops after the deepest block asked
    for, and what it captures is bit-identical."""
    model, tok = make_tiny_model(arch)
    full = collect_activations(model, tok, PROMPTS, RESPONSES, batch_size=2)
    calls: list[str] = []
    blocks = find_layers(model)
    handles = [b.register_forward_hook(lambda m, i, o, n=n: calls.append(f"block{n}"))
               for n, b in enumerate(blocks)]
    handles.append(model.get_output_embeddings().register_forward_hook(
        lambda m, i, o: calls.append("unembed")))
    try:
        part = collect_activations(model, tok, PROMPTS, RESPONSES, batch_size=2, layers=[2, 0])
        assert calls == ["block0", "block1", "block2"] * 2  # two batches, nothing after block 2
        calls.clear()
        collect_activations(model, tok, PROMPTS, RESPONSES, batch_size=3)
        assert "unembed" not in calls and calls[-1] == f"block{N_LAYERS - 1}"
    finally:
        for handle in handles:
            handle.remove()
    for pooling in ("response_avg", "prompt_avg", "prompt_last"):
        assert part.get(pooling).shape == (3, 2, D_MODEL)
        assert torch.equal(part.get(pooling)[:, 0], full.get(pooling)[:, 2])
        assert torch.equal(part.get(pooling)[:, 1], full.get(pooling)[:, 0])


def test_layers_out_of_range_name_the_block_count() -> None:
    model, tok = make_tiny_model("tiny-random-llama")
    with pytest.raises(ValueError, match=f"layer {N_LAYERS} is out of range: the model has "
                                         f"{N_LAYERS} blocks"):
        collect_activations(model, tok, ["a"], ["x"], layers=[N_LAYERS])
    with pytest.raises(ValueError, match="layers is empty"):
        collect_activations(model, tok, ["a"], ["x"], layers=[])
