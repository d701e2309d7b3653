from __future__ import annotations

import pytest
import torch
from torch import nn

from pytest_persona.core.layers import check_layer, find_layers, n_layers
from pytest_persona.models.tiny import make_tiny_model
from pytest_persona.models.tiny_names import N_LAYERS
from tests.helpers import ARCHS


@pytest.mark.parametrize("arch", ARCHS)
def test_find_layers_every_architecture(arch: str) -> None:
    model, _ = make_tiny_model(arch)
    blocks = find_layers(model)
    assert isinstance(blocks, nn.ModuleList)
    assert len(blocks) == N_LAYERS == n_layers(model)


def test_peft_style_wrapper_is_unwrapped() -> None:
    model, _ = make_tiny_model("tiny-random-llama")

    class Wrapper(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.base_model = nn.Module()
            self.inner = inner

        def get_base_model(self) -> nn.Module:
            return self.inner

    assert find_layers(Wrapper(model)) is find_layers(model)


def test_unknown_architecture_names_paths_tried() -> None:
    with pytest.raises(ValueError, match=r"tried the module paths .*model\.layers.*transformer\.h"):
        find_layers(nn.Linear(2, 2))


def test_layer_hidden_state_convention() -> None:
    """Block L's output is hidden_states[L + 1] (except the last, which gets the final norm)."""
    model, tok = make_tiny_model("tiny-random-qwen2")
    ids = tok("hello there", return_tensors="pt")["input_ids"]
    captured: list[torch.Tensor] = []
    handle = find_layers(model)[1].register_forward_hook(
        lambda m, i, o: captured.append(o[0] if isinstance(o, tuple) else o)
    )
    with torch.no_grad():
        out = model(ids, output_hidden_states=True)
    handle.remove()
    assert torch.equal(captured[0], out.hidden_states[2])


@pytest.mark.parametrize("bad", [-1, N_LAYERS, 100])
def test_check_layer_range_message(bad: int) -> None:
    model, _ = make_tiny_model("tiny-random-qwen2")
    with pytest.raises(ValueError, match=f"has {N_LAYERS} decoder blocks"):
        check_layer(model, bad)
