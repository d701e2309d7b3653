"""ActivationSteerer: add ``coeff * vector`` to the output of one decoder block."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

import torch
from torch import nn

from pytest_persona.core.layers import check_layer, find_layers
from pytest_persona.core.positions import POSITIONS as POSITIONS
from pytest_persona.core.positions import REFERENCE_LAYER, STEERER_DEFAULT
from pytest_persona.core.positions import Positions as Positions

Coeff = float | int | Sequence[float] | torch.Tensor


def model_d_model(model: nn.Module) -> int:
    """Width of the residual stream (the input embedding size)."""
    get_emb = getattr(model, "get_input_embeddings", None)
    if callable(get_emb):
        emb = get_emb()
        if emb is not None and hasattr(emb, "weight"):
            return int(emb.weight.shape[-1])
    config = getattr(model, "config", None)
    for cfg in (config, getattr(config, "text_config", None)):
        size = getattr(cfg, "hidden_size", None)
        if isinstance(size, int):
            return size
    raise ValueError(f"cannot tell the hidden size of {type(model).__name__}")


def _as_vector(vector: Any, layer: int, d_model: int, count: int) -> torch.Tensor:
    tensor = torch.as_tensor(vector).detach()
    if tensor.ndim == 2:
        raise ValueError(
            f"steering_vector has shape {tuple(tensor.shape)}: a per-layer stack "
            f"[n_layers, d_model] was passed where one layer's vector is needed. "
            f"Pick the layer you steer at, e.g. vectors[{layer}] (0-based block index; "
            f"the model has {count} blocks)."
        )
    if tensor.ndim != 1:
        raise ValueError(
            f"steering_vector must be 1-D [d_model], got shape {tuple(tensor.shape)}"
        )
    if tensor.shape[0] != d_model:
        raise ValueError(
            f"steering_vector has d_model={tensor.shape[0]} but the model's hidden size is "
            f"{d_model}: was the vector extracted from another model?"
        )
    if not torch.is_floating_point(tensor):
        tensor = tensor.float()
    return tensor.clone()


def _as_coeff(coeff: Coeff) -> float | torch.Tensor:
    if isinstance(coeff, bool):
        raise ValueError("coeff must be a number or a 1-D sequence of numbers, got a bool")
    if isinstance(coeff, (int, float)):
        return float(coeff)
    tensor = torch.as_tensor(coeff, dtype=torch.float32).detach().clone()
    if tensor.ndim == 0:
        return float(tensor.item())
    if tensor.ndim != 1:
        raise ValueError(
            f"per-row coeff must be 1-D (one coefficient per batch row), "
            f"got shape {tuple(tensor.shape)}"
        )
    return tensor


class ActivationSteerer:
    """Context manager that steers a model by adding ``coeff * vector`` to block ``layer``.

    ``positions``: ``"all"`` every position of every pass; ``"prompt"`` every position of
    multi-token (prefill) passes only; ``"response"`` the last position of every pass (with
    left padding: the last prompt token at prefill, then each generated token).
    ``coeff`` is a float or a 1-D sequence with one coefficient per batch row.
    """

    def __init__(
        self,
        model: nn.Module,
        steering_vector: Any,
        coeff: Coeff = 1.0,
        layer: int = REFERENCE_LAYER,
        positions: Positions = STEERER_DEFAULT,
    ) -> None:
        if positions not in POSITIONS:
            raise ValueError(
                f"unknown positions {positions!r}: use one of {', '.join(POSITIONS)}"
            )
        self.model = model
        self.layer = check_layer(model, layer)
        self.positions: Positions = positions
        self._block = find_layers(model)[self.layer]
        self.vector = _as_vector(
            steering_vector, layer, model_d_model(model), len(find_layers(model))
        )
        self.coeff = _as_coeff(coeff)
        self._cast: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}
        self._handle: torch.utils.hooks.RemovableHandle | None = None

    # -- context management -------------------------------------------------------------
    def __enter__(self) -> ActivationSteerer:
        if self._handle is not None:
            raise RuntimeError("this ActivationSteerer is already active")
        self._handle = self._block.register_forward_hook(self._hook)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove the hook (idempotent)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    @property
    def active(self) -> bool:
        return self._handle is not None

    # -- the hook -----------------------------------------------------------------------
    def _delta(self, hidden: torch.Tensor) -> torch.Tensor | None:
        """The addend for ``hidden`` [batch, seq, d], broadcastable, or None for no-op."""
        key = (hidden.device, hidden.dtype)
        vec = self._cast.get(key)
        if vec is None:
            vec = self.vector.to(device=hidden.device, dtype=hidden.dtype)
            self._cast[key] = vec
        if isinstance(self.coeff, float):
            if self.coeff == 0.0:
                return None
            return vec * self.coeff
        batch = hidden.shape[0]
        if self.coeff.shape[0] != batch:
            raise ValueError(
                f"per-row coeff has {self.coeff.shape[0]} entries but the batch has {batch} "
                "rows: pass one coefficient per row (or a float for all rows)"
            )
        coeff = self.coeff.to(device=hidden.device, dtype=hidden.dtype)
        return coeff[:, None, None] * vec

    def _steer(self, hidden: torch.Tensor) -> torch.Tensor:
        if hidden.ndim != 3:
            return hidden
        if self.positions == "prompt" and hidden.shape[1] <= 1:
            return hidden
        delta = self._delta(hidden)
        if delta is None:
            return hidden
        if self.positions == "response":
            out = hidden.clone()
            last = delta if delta.ndim == 1 else delta[:, 0, :]
            out[:, -1, :] = hidden[:, -1, :] + last
            return out
        return hidden + delta

    def _hook(self, module: nn.Module, inputs: Any, output: Any) -> Any:
        if isinstance(output, tuple):
            return (self._steer(output[0]), *output[1:])
        if isinstance(output, torch.Tensor):
            return self._steer(output)
        hidden = getattr(output, "last_hidden_state", None)
        if isinstance(hidden, torch.Tensor):
            output.last_hidden_state = self._steer(hidden)
            return output
        raise TypeError(f"unsupported decoder block output type {type(output).__name__}")
