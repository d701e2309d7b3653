"""The run's engine settings reach vLLM's constructor (tensor parallelism, memory share, eager
mode, batch invariance) without a GPU: ``vllm.LLM`` is replaced by a recorder that refuses to
start, so what is checked is exactly what would be passed on an 8-GPU host."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.core.requests import GenerationConfig, as_messages
from pytest_persona.errors import EngineError
from pytest_persona.models.loading import LazyLoadedModel
from pytest_persona.suites.session import PersonaOptions, PersonaSession

pytestmark = [pytest.mark.vllm]


class Recorded(Exception):
    pass


def test_session_options_reach_the_llm_constructor(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import vllm

    seen: dict[str, Any] = {}

    def recorder(**kwargs: Any) -> Any:
        seen.update(kwargs, batch_invariant_env=os.environ.get("VLLM_BATCH_INVARIANT"))
        raise Recorded("not starting")

    monkeypatch.setattr(vllm, "LLM", recorder)
    monkeypatch.setenv("VLLM_BATCH_INVARIANT", "0")  # restored after the test
    session = PersonaSession(PersonaOptions(model="smollm2-135m", engine="vllm",
                                            tensor_parallel=8, device="cpu", dtype="float32",
                                            cache_dir=tmp_path))
    loaded = session.model
    engine = session.engine_for(loaded)
    assert engine.name == "vllm" and session.engine_for(loaded) is engine  # one per model
    assert "--persona-engine vllm" in session.engine_note
    with pytest.raises(EngineError, match="vllm could not start"):
        engine.generate(loaded, [as_messages("hi")], GenerationConfig(max_new_tokens=2),
                        steering=None, coeffs=None, seeds=[0])
    assert seen["tensor_parallel_size"] == 8
    assert seen["enforce_eager"] is True
    assert seen["gpu_memory_utilization"] == 0.5
    assert seen["dtype"] == "float32"
    assert seen["batch_invariant_env"] == "0"  # not asked for: left alone
    assert "distributed_executor_backend" not in seen  # vLLM picks mp on one host, Ray across
    assert seen["enable_chunked_prefill"] is False  # CPU: see engines/vllm.py
    assert Path(seen["model"], "config.json").exists()  # the converted safetensors copy
    assert engine.describe()["started"] is False
    session.close()


def test_deterministic_mode_reaches_vllm_on_a_gpu_and_is_refused_on_cpu(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import vllm

    from pytest_persona.engines import select_engine
    from pytest_persona.engines.vllm import VLLMEngine

    with pytest.raises(EngineError, match="need a CUDA GPU"):
        select_engine("vllm", "cpu", deterministic=True)
    seen: dict[str, Any] = {}

    def recorder(**kwargs: Any) -> Any:
        seen["env"] = os.environ.get("VLLM_BATCH_INVARIANT")
        raise Recorded("not starting")

    monkeypatch.setattr(vllm, "LLM", recorder)
    monkeypatch.setenv("VLLM_BATCH_INVARIANT", "0")
    engine = VLLMEngine(device="cuda", deterministic=True)
    assert engine.identity(LazyLoadedModel("smollm2-135m", device="cpu")).endswith(
        "|batch-invariant")
    with pytest.raises(EngineError):
        engine.generate(LazyLoadedModel("smollm2-135m", device="cpu"), [as_messages("hi")],
                        GenerationConfig(max_new_tokens=2), steering=None, coeffs=None,
                        seeds=[0])
    assert seen["env"] == "1"


def test_graph_steering_option_reaches_the_engine(tmp_path: Path) -> None:
    session = PersonaSession(PersonaOptions(model="smollm2-135m", engine="vllm",
                                            vllm_steering="graph", device="cpu",
                                            cache_dir=tmp_path))
    described = session.engine_for(session.model).describe()
    assert described["steering"] == "graph" and described["enforce_eager"] is False
    session.close()


def test_models_vllm_cannot_load_are_refused_by_name() -> None:
    from pytest_persona.engines.vllm import VLLMEngine

    tiny = LazyLoadedModel("tiny-random-llama", device="cpu")
    with pytest.raises(EngineError, match="cannot load a tiny model"):
        VLLMEngine().generate(tiny, [as_messages("hi")], GenerationConfig(max_new_tokens=2),
                              steering=None, coeffs=None, seeds=[0])


@pytest.mark.parametrize("env, expect", [(None, "False"), ("graph", "True")])
def test_vllm_loads_the_steering_plugin_in_every_process(env: str | None, expect: str) -> None:
    """vLLM's own plugin loader (what each worker process runs) finds the entry point; the
    plugin patches the decoder blocks only when the engine asked for graph steering."""
    import subprocess
    import sys

    code = ("from vllm.plugins import load_general_plugins; load_general_plugins(); "
            "from pytest_persona.engines._vllm_graph import patched; print(patched())")
    environ = {k: v for k, v in os.environ.items() if k != "PERSONA_VLLM_STEERING"}
    if env is not None:
        environ["PERSONA_VLLM_STEERING"] = env
    proc = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == expect, proc.stdout
