"""Graph-safe steering for vLLM: a registered custom op at the output of every decoder block.

Forward hooks are skipped under torch.compile and CUDA graphs; a ``torch.library`` custom op
is not. :func:`patch` wraps the decoder block classes (vLLM's ``LlamaDecoderLayer``,
``Qwen2DecoderLayer``, ``Qwen3DecoderLayer``) before a model is built: every block then ends
in ``persona::steer``, which reads persistent buffers shared by the blocks of one model:

- ``table`` [n_layers, d_model]: the vector of each layer (model dtype);
- ``active`` [n_layers] bool: which layer steers;
- ``coeffs`` [max_num_batched_tokens]: one coefficient per scheduled token, filled every
  step outside the compiled region (:mod:`pytest_persona.engines._vllm_worker`);
- ``hits`` [n_layers] int64: tokens steered per layer, counted inside the op (so also under
  CUDA-graph replay, where no Python runs): the engine's proof that the op is in the graph.

A steered token gets ``(hidden + residual) + c * v`` with a zero residual, the hook path's
arithmetic; inactive layers and coefficient-0 tokens get ``torch.where`` of their original
values, bit-identical. The op has no Python branches on tensor data, so it can be captured.

For worker processes (tensor parallel) the patch runs through vLLM's general plugin entry
point (:func:`register`), a no-op unless ``PERSONA_VLLM_STEERING=graph`` is set (the vllm
engine sets it); other vLLM users with pytest-persona installed are unaffected.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

ENV = "PERSONA_VLLM_STEERING"
#: added to vLLM's ``compilation_config.custom_ops`` by every patched block: it enters vLLM's
#: compile-cache key, so a graph compiled with the op is never loaded for a model built
#: without it (or the other way round), whoever built the model
CUSTOM_OP = "persona_steer"
#: (module, class) of the decoder blocks patched; absent ones are skipped
TARGETS = (("vllm.model_executor.models.llama", "LlamaDecoderLayer"),
           ("vllm.model_executor.models.qwen2", "Qwen2DecoderLayer"),
           ("vllm.model_executor.models.qwen3", "Qwen3DecoderLayer"))
ORIGINAL = "_persona_original"


@torch.library.custom_op("persona::steer", mutates_args=("hits",))
def steer(hidden: torch.Tensor, residual: torch.Tensor, table: torch.Tensor,
          active: torch.Tensor, coeffs: torch.Tensor, hits: torch.Tensor,
          layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Block ``layer``'s output ``(hidden, residual)`` with ``coeffs[t] * table[layer]`` added
    to token ``t`` where ``active[layer]`` and the coefficient is non-zero."""
    c = coeffs[: hidden.shape[0]].unsqueeze(1)
    mask = (c != 0) & active[layer]
    total = (residual + hidden) + c * table[layer]
    hits[layer] += mask.sum()
    return (torch.where(mask, total, hidden),
            torch.where(mask, torch.zeros_like(residual), residual))


@steer.register_fake
def _steer_fake(hidden: torch.Tensor, residual: torch.Tensor, table: torch.Tensor,
                active: torch.Tensor, coeffs: torch.Tensor, hits: torch.Tensor,
                layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.empty_like(hidden), torch.empty_like(residual)


@dataclass
class Buffers:
    """The persistent buffers of one model (shared by its blocks; updated in place)."""

    table: torch.Tensor
    active: torch.Tensor
    coeffs: torch.Tensor
    hits: torch.Tensor


_SHARED: dict[tuple[int, int, int], Buffers] = {}


def _buffers(vllm_config: Any, d_model: int) -> Buffers:
    model_config = vllm_config.model_config
    n_layers = int(model_config.get_total_num_hidden_layers())
    tokens = int(vllm_config.scheduler_config.max_num_batched_tokens)
    key = (id(vllm_config), n_layers, d_model)
    found = _SHARED.get(key)
    if found is None:
        dtype = model_config.dtype
        # created under vLLM's model-construction device context: on the model's device
        found = Buffers(table=torch.zeros(n_layers, d_model, dtype=dtype),
                        active=torch.zeros(n_layers, dtype=torch.bool),
                        coeffs=torch.zeros(tokens, dtype=dtype),
                        hits=torch.zeros(n_layers, dtype=torch.int64))
        _SHARED[key] = found
    return found


def _patched_init(original: Callable[..., None]) -> Callable[..., None]:
    signature = inspect.signature(original)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        from vllm.config import get_current_vllm_config
        from vllm.model_executor.models.utils import extract_layer_index

        original(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        prefix = str(bound.arguments.get("prefix", ""))
        vllm_config = get_current_vllm_config()
        bufs = _buffers(vllm_config, int(self.hidden_size))
        self.persona_layer = extract_layer_index(prefix)
        for name in ("table", "active", "coeffs", "hits"):
            self.register_buffer(f"persona_{name}", getattr(bufs, name), persistent=False)
        # the marker enters vLLM's compile-cache key (hashed at the first forward, after the
        # model is built); vLLM checks that each custom_ops entry names an op the model made
        compilation = vllm_config.compilation_config
        if f"+{CUSTOM_OP}" not in compilation.custom_ops:
            compilation.custom_ops.append(f"+{CUSTOM_OP}")
        compilation.enabled_custom_ops.update([CUSTOM_OP])

    return __init__


def _patched_forward(original: Callable[..., Any]) -> Callable[..., Any]:
    def forward(self: Any, positions: torch.Tensor, hidden_states: torch.Tensor,
                residual: torch.Tensor | None, *args: Any, **kwargs: Any) -> Any:
        hidden, res = original(self, positions, hidden_states, residual, *args, **kwargs)
        return torch.ops.persona.steer(hidden, res, self.persona_table, self.persona_active,
                                       self.persona_coeffs, self.persona_hits,
                                       self.persona_layer)

    return forward


def patch() -> list[str]:
    """Wrap the decoder block classes (idempotent); returns the patched class names."""
    import importlib

    done: list[str] = []
    for module_name, class_name in TARGETS:
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue
        if ORIGINAL not in cls.__dict__:
            setattr(cls, ORIGINAL, (cls.__init__, cls.forward))
            cls.__init__ = _patched_init(cls.__init__)
            cls.forward = _patched_forward(cls.forward)
        done.append(class_name)
    return done


def patched() -> bool:
    """Whether :func:`patch` ran in this process."""
    from vllm.model_executor.models.llama import LlamaDecoderLayer

    return ORIGINAL in LlamaDecoderLayer.__dict__


def register() -> None:
    """vLLM general plugin (group ``vllm.general_plugins``): patch the decoder blocks in
    this process when the vllm engine asked for graph steering; otherwise do nothing."""
    if os.environ.get(ENV) == "graph":
        patch()


def model_buffers(layers: Any) -> Buffers | None:
    """The buffers of a model's patched blocks, or None when the model was built unpatched."""
    first = layers[0] if len(layers) else None
    if first is None or not hasattr(first, "persona_table"):
        return None
    return Buffers(table=first.persona_table, active=first.persona_active,
                   coeffs=first.persona_coeffs, hits=first.persona_hits)
