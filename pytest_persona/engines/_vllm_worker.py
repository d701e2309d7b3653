"""Runs inside vLLM's worker (through ``collective_rpc``): a forward hook on one decoder
block that adds ``coeff * vector`` per scheduled token.

Each step the hook reads the batch layout from the model runner: the order of requests
(``input_batch.req_ids``), where each request's tokens start (``query_start_loc``), each
token's absolute position (the block's ``positions`` argument), and each request's prompt
length and coefficient (``sampling_params.extra_args['persona_coeff']``). So ``prompt``
(positions < prompt length) and ``response`` (the last prompt token and every generated one)
hold under chunked prefill and continuous batching. vLLM blocks return the residual stream
split as ``(hidden, residual)``; steered tokens get ``(hidden + residual) + coeff * vector``
with a zero residual, the same sum in the same order as transformers computes, and tokens
with coefficient 0 are returned untouched (bit-identical). Worker-side; not typed strictly
against vLLM internals (pinned versions: see docs/engines.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

STATE = "_persona_steering"
COEFF_KEY = "persona_coeff"


def decoder_layers(model: Any) -> Any:
    """The decoder blocks of a vLLM model (``model.model.layers``)."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise RuntimeError(f"cannot find decoder layers in {type(model).__name__}")
    return layers


def model_shape(worker: Any) -> tuple[int, int, str]:
    """(n_layers, d_model, dtype) of the worker's model."""
    model = worker.model_runner.get_model()
    param = next(model.parameters())
    d_model = int(model.config.hidden_size) if hasattr(model, "config") else -1
    return len(decoder_layers(model)), d_model, str(param.dtype).replace("torch.", "")


def token_coeffs(runner: Any, positions: torch.Tensor, n_tokens: int, mode: str) -> np.ndarray:
    """One coefficient per scheduled token of this step (0 where not steered)."""
    batch = runner.input_batch
    n_reqs = int(batch.num_reqs)
    starts = runner.query_start_loc.np[: n_reqs + 1]
    pos = positions.reshape(-1)[:n_tokens].cpu().numpy()
    out = np.zeros(n_tokens, dtype=np.float64)
    for i, req_id in enumerate(batch.req_ids[:n_reqs]):
        req = runner.requests.get(req_id)
        params = getattr(req, "sampling_params", None)
        extra = getattr(params, "extra_args", None) or {}
        coeff = float(extra.get(COEFF_KEY, 0.0))
        if coeff == 0.0:
            continue
        a, b = int(starts[i]), int(starts[i + 1])
        if mode == "all":
            out[a:b] = coeff
            continue
        prompt_len = len(req.prompt_token_ids or ())
        p = pos[a:b]
        keep = p < prompt_len if mode == "prompt" else p >= prompt_len - 1
        out[a:b][keep] = coeff
    return out


def install(worker: Any, layer: int, vector: list[float], mode: str) -> int:
    """Hook block ``layer`` with ``vector`` (replacing any earlier hook); returns n_layers."""
    remove(worker)
    runner = worker.model_runner
    model = runner.get_model()
    layers = decoder_layers(model)
    param = next(model.parameters())
    vec = torch.tensor(vector, dtype=param.dtype, device=param.device)
    state: dict[str, Any] = {"hits": 0, "calls": 0}

    def hook(module: Any, args: Any, kwargs: Any, output: Any) -> Any:
        state["calls"] += 1
        positions = kwargs.get("positions", args[0] if args else None)
        hidden = output[0] if isinstance(output, tuple) else output
        coeff = token_coeffs(runner, positions, int(hidden.shape[0]), mode)
        steered = coeff != 0
        if not steered.any():
            return None
        state["hits"] += int(steered.sum())
        c = torch.from_numpy(coeff).to(device=hidden.device, dtype=hidden.dtype)[:, None]
        mask = torch.from_numpy(steered).to(hidden.device)[:, None]
        if isinstance(output, tuple) and len(output) == 2 and output[1] is not None:
            residual = output[1]
            total = (residual + hidden) + c * vec
            return (torch.where(mask, total, hidden),
                    torch.where(mask, torch.zeros_like(residual), residual))
        if isinstance(output, tuple):
            return (torch.where(mask, hidden + c * vec, hidden), *output[1:])
        return torch.where(mask, hidden + c * vec, hidden)

    state["handle"] = layers[layer].register_forward_hook(hook, with_kwargs=True)
    setattr(runner, STATE, state)
    return len(layers)


def hits(worker: Any) -> tuple[int, int]:
    """(steered tokens, hook calls) since :func:`install`."""
    state = getattr(worker.model_runner, STATE, None)
    return (0, 0) if state is None else (int(state["hits"]), int(state["calls"]))


def remove(worker: Any) -> None:
    """Remove the steering hook, if any."""
    state = getattr(worker.model_runner, STATE, None)
    if state is not None:
        state["handle"].remove()
        setattr(worker.model_runner, STATE, None)
