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

The graph path (:mod:`pytest_persona.engines._vllm_graph`) needs no hook: :func:`install_graph`
writes the vector and the layer's flag into the model's persistent buffers and wraps the
runner's ``_model_forward`` (outside the compiled region and any CUDA graph) so that each step
first fills the per-token coefficient buffer with :func:`token_coeffs`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

STATE = "_persona_steering"
GRAPH_STATE = "_persona_graph"
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


# -- the graph path ---------------------------------------------------------------------------
def _graph_buffers(runner: Any) -> Any:
    from pytest_persona.engines._vllm_graph import model_buffers

    bufs = model_buffers(decoder_layers(runner.get_model()))
    if bufs is None:
        raise RuntimeError("the model was built without the persona::steer op (its decoder "
                           "block class is not patched): graph steering is not possible")
    return bufs


def _wrap_forward(runner: Any, bufs: Any, state: dict[str, Any]) -> None:
    """Fill ``bufs.coeffs`` from the batch layout before each model call (once per runner)."""
    if "forward" in state:
        return
    original = runner._model_forward
    size = int(bufs.coeffs.numel())

    def _model_forward(*args: Any, **kwargs: Any) -> Any:
        mode = state.get("mode")
        if mode is not None:
            positions: torch.Tensor = kwargs["positions"] if "positions" in kwargs else args[1]
            n = int(positions.shape[-1])
            if n > size:
                raise RuntimeError(f"persona steering: {n} tokens in one step, the coefficient "
                                   f"buffer holds {size}")
            coeff = token_coeffs(runner, positions, n, mode)
            staged = torch.zeros(size, dtype=bufs.coeffs.dtype)
            staged[:n] = torch.from_numpy(coeff).to(bufs.coeffs.dtype)
            bufs.coeffs.copy_(staged)
            state["calls"] += 1
        return original(*args, **kwargs)

    state["forward"] = original
    runner._model_forward = _model_forward


def install_graph(worker: Any, layer: int, vector: list[float], mode: str) -> int:
    """Steer block ``layer`` with ``vector`` through the model's buffers; returns n_layers."""
    runner = worker.model_runner
    bufs = _graph_buffers(runner)
    state: dict[str, Any] = getattr(runner, GRAPH_STATE, None) or {}
    state.update(mode=None, calls=0)
    setattr(runner, GRAPH_STATE, state)
    _wrap_forward(runner, bufs, state)
    bufs.active.zero_()
    bufs.table.zero_()
    bufs.coeffs.zero_()
    bufs.hits.zero_()
    bufs.table[layer].copy_(torch.tensor(vector, dtype=bufs.table.dtype))
    bufs.active[layer] = True
    state["mode"] = mode
    return int(bufs.table.shape[0])


def graph_hits(worker: Any) -> tuple[int, int]:
    """(tokens the op steered, steps whose coefficients were filled) since
    :func:`install_graph`; the first count is kept by the op itself, on the device."""
    runner = worker.model_runner
    state = getattr(runner, GRAPH_STATE, None)
    if state is None:
        return 0, 0
    return int(_graph_buffers(runner).hits.sum().item()), int(state["calls"])


def graph_ready(worker: Any) -> bool:
    """Whether the worker's model carries the op's buffers (was built patched)."""
    from pytest_persona.engines._vllm_graph import model_buffers

    return model_buffers(decoder_layers(worker.model_runner.get_model())) is not None


def remove_graph(worker: Any) -> None:
    """Turn graph steering off (every layer inactive; coefficients zero)."""
    runner = worker.model_runner
    state = getattr(runner, GRAPH_STATE, None)
    if state is None:
        return
    state["mode"] = None
    bufs = _graph_buffers(runner)
    bufs.active.zero_()
    bufs.coeffs.zero_()
