"""ActivationSteerer on a toy block stack: every branch of the hook, in milliseconds.

The toy model has ``layers`` (a ModuleList) and ``get_input_embeddings``, so find_layers and
model_d_model see it as a decoder; each block returns a fixed output type (tuple, tensor, an
object with ``last_hidden_state``), which lets the tests read the steered hidden state exactly.
These are the tests `make mutate` runs against core/steering.py (the tiny-model tests in
test_steering.py check the same arithmetic inside real architectures, more slowly).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from pytest_persona.core.positions import Positions
from pytest_persona.core.steering import (
    POSITIONS,
    ActivationSteerer,
    _as_coeff,
    _as_vector,
    model_d_model,
)

D = 4
N_BLOCKS = 3


class Block(nn.Module):
    """Returns its input wrapped as ``kind``: tuple, tensor or an object with a hidden state."""

    def __init__(self, kind: str = "tuple") -> None:
        super().__init__()
        self.kind = kind

    def forward(self, hidden: torch.Tensor) -> Any:
        if self.kind == "tuple":
            return (hidden, "extra")
        if self.kind == "tensor":
            return hidden
        if self.kind == "object":
            return SimpleNamespace(last_hidden_state=hidden, other=1)
        return {"hidden": hidden}  # unsupported


class Toy(nn.Module):
    def __init__(self, kind: str = "tuple", d: int = D) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, d)
        self.layers = nn.ModuleList([Block(kind) for _ in range(N_BLOCKS)])

    def get_input_embeddings(self) -> nn.Module:
        return self.embed


def _hidden(batch: int = 2, seq: int = 3, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.arange(batch * seq * D, dtype=dtype).reshape(batch, seq, D) / 10


def _vec() -> torch.Tensor:
    return torch.tensor([1.0, -2.0, 0.5, 4.0])


def _out(model: Toy, layer: int, hidden: torch.Tensor) -> torch.Tensor:
    res = model.layers[layer](hidden)
    if isinstance(res, tuple):
        assert res[1:] == ("extra",)
        res = res[0]
    elif not isinstance(res, torch.Tensor):
        res = res.last_hidden_state
    assert isinstance(res, torch.Tensor)
    return res


@pytest.mark.parametrize("kind", ["tuple", "tensor", "object"])
def test_all_positions_add_coeff_times_vector_at_the_chosen_block_only(kind: str) -> None:
    model = Toy(kind)
    h = _hidden()
    with ActivationSteerer(model, _vec(), 2.5, layer=1, positions="all") as st:
        assert st.active
        steered = _out(model, 1, h)
        other = _out(model, 0, h)
    assert torch.equal(steered, h + 2.5 * _vec())
    assert torch.equal(other, h)
    assert torch.equal(_out(model, 1, h), h)  # removed on exit
    assert not st.active


def test_object_output_keeps_its_other_fields() -> None:
    model = Toy("object")
    with ActivationSteerer(model, _vec(), 1.0, layer=0):
        res = model.layers[0](_hidden())
    assert res.other == 1 and torch.equal(res.last_hidden_state, _hidden() + _vec())


def test_unsupported_output_type_is_a_type_error() -> None:
    model = Toy("dict")
    with ActivationSteerer(model, _vec(), 1.0, layer=0):
        with pytest.raises(TypeError, match="unsupported decoder block output type dict"):
            model.layers[0](_hidden())


def test_prompt_positions_steer_multi_token_passes_only() -> None:
    model = Toy()
    h2, h1 = _hidden(seq=2), _hidden(seq=1)
    with ActivationSteerer(model, _vec(), -1.0, layer=2, positions="prompt"):
        assert torch.equal(_out(model, 2, h2), h2 - _vec())
        assert _out(model, 2, h1) is h1  # a decode step (one position) is left alone


def test_all_and_response_steer_single_token_passes() -> None:
    model = Toy()
    h1 = _hidden(seq=1)
    for positions in ("all", "response"):
        with ActivationSteerer(model, _vec(), 3.0, layer=0, positions=positions):
            assert torch.equal(_out(model, 0, h1), h1 + 3.0 * _vec()), positions


def test_response_positions_steer_the_last_position_only() -> None:
    model = Toy()
    h = _hidden()
    before = h.clone()
    with ActivationSteerer(model, _vec(), 2.0, layer=0, positions="response"):
        out = _out(model, 0, h)
    assert torch.equal(h, before)  # the input is not modified in place
    assert torch.equal(out[:, :-1], h[:, :-1])
    assert torch.equal(out[:, -1], h[:, -1] + 2.0 * _vec())


def test_response_positions_with_per_row_coeff() -> None:
    model = Toy()
    h = _hidden()
    with ActivationSteerer(model, _vec(), [2.0, -1.0], layer=0, positions="response"):
        out = _out(model, 0, h)
    assert torch.equal(out[:, :-1], h[:, :-1])
    assert torch.equal(out[0, -1], h[0, -1] + 2.0 * _vec())
    assert torch.equal(out[1, -1], h[1, -1] - _vec())


@pytest.mark.parametrize("positions", ["all", "prompt"])
def test_per_row_coeff_scales_each_row(positions: Positions) -> None:
    model = Toy()
    h = _hidden()
    with ActivationSteerer(model, _vec(), torch.tensor([0.5, 0.0]), layer=0,
                           positions=positions):
        out = _out(model, 0, h)
    assert torch.equal(out[0], h[0] + 0.5 * _vec())
    assert torch.equal(out[1], h[1])


def test_per_row_coeff_of_wrong_length_names_both_counts() -> None:
    model = Toy()
    with ActivationSteerer(model, _vec(), [1.0, 2.0, 3.0], layer=0):
        with pytest.raises(ValueError, match=r"^per-row coeff has 3 entries but the batch has "
                                             r"2 rows: pass one coefficient per row"):
            model.layers[0](_hidden())


@pytest.mark.parametrize("positions", POSITIONS)
def test_zero_coeff_returns_the_hidden_state_itself(positions: Positions) -> None:
    model = Toy("tensor")
    h = _hidden()
    with ActivationSteerer(model, _vec(), 0.0, layer=0, positions=positions):
        assert model.layers[0](h) is h


def test_non_3d_outputs_pass_through() -> None:
    model = Toy("tensor")
    flat = torch.ones(2, D)
    with ActivationSteerer(model, _vec(), 1.0, layer=0):
        assert model.layers[0](flat) is flat


def test_half_precision_hidden_gets_a_cast_vector_cached_per_dtype() -> None:
    model = Toy()
    st = ActivationSteerer(model, _vec().double(), 1.5, layer=0)
    assert st.vector.dtype == torch.float64
    with st:
        h16 = _hidden(dtype=torch.bfloat16)
        out16 = _out(model, 0, h16)
        out32 = _out(model, 0, _hidden())
    assert out16.dtype == torch.bfloat16 and out32.dtype == torch.float32
    assert torch.equal(out16, h16 + (1.5 * _vec()).to(torch.bfloat16))
    assert set(st._cast) == {(torch.device("cpu"), torch.bfloat16),
                             (torch.device("cpu"), torch.float32)}
    assert st._cast[(torch.device("cpu"), torch.bfloat16)].dtype == torch.bfloat16
    # a cached cast is reused: poisoning it shows up in the next pass
    st._cast[(torch.device("cpu"), torch.float32)] = torch.zeros(D)
    with st:
        assert torch.equal(_out(model, 0, _hidden()), _hidden())


def test_per_row_coeff_is_cast_to_the_hidden_dtype() -> None:
    model = Toy()
    h = _hidden(dtype=torch.bfloat16)
    with ActivationSteerer(model, _vec(), [1.0 / 3.0, 2.0], layer=0):
        out = _out(model, 0, h)
    assert out.dtype == torch.bfloat16  # a float32 coeff would promote the sum to float32
    third = torch.tensor(1.0 / 3.0).to(torch.bfloat16)
    assert torch.equal(out[0], h[0] + third * _vec().to(torch.bfloat16))


def test_enter_twice_is_refused_and_remove_is_idempotent() -> None:
    model = Toy()
    st = ActivationSteerer(model, _vec(), 1.0, layer=0)
    assert not st.active
    with st:
        with pytest.raises(RuntimeError, match="^this ActivationSteerer is already active$"):
            st.__enter__()
        assert len(model.layers[0]._forward_hooks) == 1
    st.remove()
    assert not st.active and len(model.layers[0]._forward_hooks) == 0
    with st:  # re-entered after exit
        assert torch.equal(_out(model, 0, _hidden()), _hidden() + _vec())


def test_constructor_records_its_arguments() -> None:
    model = Toy()
    st = ActivationSteerer(model, _vec(), 2, layer=2, positions="prompt")
    assert st.model is model and st.layer == 2 and st.positions == "prompt"
    assert st.coeff == 2.0 and isinstance(st.coeff, float)
    assert st._block is model.layers[2]
    default = ActivationSteerer(model, _vec(), layer=1)
    assert default.coeff == 1.0 and default.positions == "all"


def test_unknown_positions_are_listed() -> None:
    with pytest.raises(ValueError, match=r"^unknown positions 'last': use one of "
                                         r"all, prompt, response$"):
        ActivationSteerer(Toy(), _vec(), layer=0, positions="last")  # type: ignore[arg-type]


def test_layer_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="has 3 decoder blocks"):
        ActivationSteerer(Toy(), _vec(), layer=3)


# -- model_d_model ---------------------------------------------------------------------------

def test_d_model_from_the_input_embeddings() -> None:
    assert model_d_model(Toy(d=6)) == 6


def test_d_model_from_the_config_when_there_are_no_embeddings() -> None:
    class NoEmb(nn.Module):
        config = SimpleNamespace(hidden_size=12)

    class EmbNone(nn.Module):
        config = SimpleNamespace(hidden_size=7)

        def get_input_embeddings(self) -> None:
            return None

    class EmbNoWeight(nn.Module):
        config = SimpleNamespace(hidden_size=9)

        def get_input_embeddings(self) -> nn.Module:
            return nn.ReLU()

    class TextConfig(nn.Module):
        config = SimpleNamespace(hidden_size=None, text_config=SimpleNamespace(hidden_size=5))

    class NotCallable(nn.Module):
        get_input_embeddings = 3
        config = SimpleNamespace(hidden_size=11)

    assert model_d_model(NoEmb()) == 12
    assert model_d_model(EmbNone()) == 7
    assert model_d_model(EmbNoWeight()) == 9
    assert model_d_model(TextConfig()) == 5
    assert model_d_model(NotCallable()) == 11


def test_d_model_unknown_is_a_value_error() -> None:
    class Bare(nn.Module):
        config = SimpleNamespace(hidden_size="64")

    with pytest.raises(ValueError, match="^cannot tell the hidden size of Bare$"):
        model_d_model(Bare())
    with pytest.raises(ValueError, match="cannot tell the hidden size of Module"):
        model_d_model(nn.Module())


# -- _as_vector / _as_coeff --------------------------------------------------------------------

def test_as_vector_copies_detaches_and_floats() -> None:
    src = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    out = _as_vector(src, 0, D, N_BLOCKS)
    assert torch.equal(out, src.detach()) and not out.requires_grad
    assert out.data_ptr() != src.data_ptr()
    ints = _as_vector([1, 2, 3, 4], 0, D, N_BLOCKS)
    assert ints.dtype == torch.float32 and ints.tolist() == [1.0, 2.0, 3.0, 4.0]
    half = _as_vector(torch.ones(D, dtype=torch.float16), 0, D, N_BLOCKS)
    assert half.dtype == torch.float16  # floating vectors keep their dtype until the hook


def test_as_vector_errors() -> None:
    with pytest.raises(ValueError, match=r"^steering_vector has shape \(3, 4\): a per-layer "
                                         r"stack \[n_layers, d_model\] was passed .* Pick the "
                                         r"layer you steer at, e\.g\. vectors\[1\] \(0-based "
                                         r"block index; the model has 3 blocks\)\.$"):
        _as_vector(torch.zeros(3, D), 1, D, N_BLOCKS)
    with pytest.raises(ValueError, match=r"^steering_vector must be 1-D \[d_model\], got "
                                         r"shape \(\)$"):
        _as_vector(torch.tensor(1.0), 0, D, N_BLOCKS)
    with pytest.raises(ValueError, match=r"must be 1-D \[d_model\], got shape \(1, 2, 4\)"):
        _as_vector(torch.zeros(1, 2, D), 0, D, N_BLOCKS)
    with pytest.raises(ValueError, match=r"^steering_vector has d_model=5 but the model's "
                                         r"hidden size is 4: was the vector extracted from "
                                         r"another model\?$"):
        _as_vector(torch.zeros(5), 0, D, N_BLOCKS)


def test_as_coeff_forms() -> None:
    assert _as_coeff(2) == 2.0 and isinstance(_as_coeff(2), float)
    assert _as_coeff(-0.5) == -0.5
    zero_d = _as_coeff(torch.tensor(1.5))
    assert zero_d == 1.5 and isinstance(zero_d, float)
    rows = _as_coeff([1, 2])
    assert isinstance(rows, torch.Tensor) and rows.dtype == torch.float32
    assert rows.tolist() == [1.0, 2.0]
    src = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    copied = _as_coeff(src)
    assert isinstance(copied, torch.Tensor) and not copied.requires_grad
    assert copied.dtype == torch.float32
    src_f32 = torch.tensor([1.0, 2.0])
    own = _as_coeff(src_f32)
    src_f32.zero_()
    assert isinstance(own, torch.Tensor) and own.tolist() == [1.0, 2.0]  # a copy, not a view


def test_as_coeff_errors() -> None:
    with pytest.raises(ValueError, match="^coeff must be a number or a 1-D sequence of "
                                         "numbers, got a bool$"):
        _as_coeff(True)
    with pytest.raises(ValueError, match=r"^per-row coeff must be 1-D \(one coefficient per "
                                         r"batch row\), got shape \(2, 1\)$"):
        _as_coeff([[1.0], [2.0]])  # type: ignore[list-item]  # the 2-D input under test


def test_default_layer_is_block_19() -> None:
    model = Toy()
    model.layers = nn.ModuleList([Block() for _ in range(21)])
    st = ActivationSteerer(model, _vec())
    assert st.layer == 19 and st._block is model.layers[19]
    with st:
        assert torch.equal(_out(model, 19, _hidden()), _hidden() + _vec())
        assert torch.equal(_out(model, 20, _hidden()), _hidden())


def test_stacked_vectors_error_names_the_block_count() -> None:
    with pytest.raises(ValueError, match=r"vectors\[1\] \(0-based block index; the model has "
                                         r"3 blocks\)"):
        ActivationSteerer(Toy(), torch.zeros(N_BLOCKS, D), layer=1)
