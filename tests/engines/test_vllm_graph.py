"""The vllm engine's graph-safe steering path (``steering="graph"``: the ``persona::steer``
custom op at every decoder block) with torch.compile on (``enforce_eager=False``), against
the hf reference on the embedded SmolLM2-135M (float32, CPU, greedy). Runs only in
``make test-vllm``. The engine compiles once per module (about 2 minutes on 2 cores, less
when vLLM's compile cache is warm)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from pytest_persona.core.requests import GenerationConfig, Messages, Steering, as_messages
from pytest_persona.engines import HFEngine
from pytest_persona.errors import EngineError
from pytest_persona.models.loading import LazyLoadedModel

pytestmark = [pytest.mark.vllm]

QUESTIONS = [f"Give me one practical tip about {w}." for w in (
    "sleep", "tea", "running", "maps", "rain", "chess", "bread", "music", "email", "gardens",
    "saving money", "public speaking")]
GREEDY = GenerationConfig(max_new_tokens=24, temperature=0.0, batch_size=12)
LAYER = 12
COEFFS = [4.0, -4.0, 0.0] * 4  # mixed in one batch, zero rows among steered ones


def compiled_state(worker: Any) -> tuple[int, bool, list[str]]:
    """(vLLM compilation mode, whether the backbone runs a compiled function, custom_ops)."""
    inner = worker.model_runner.get_model().model
    compilation = worker.model_runner.vllm_config.compilation_config
    return int(compilation.mode), (getattr(inner, "aot_compiled_fn", None) is not None
                                   or bool(getattr(inner, "compiled", False))), \
        list(compilation.custom_ops)


@pytest.fixture(scope="module")
def loaded() -> LazyLoadedModel:
    return LazyLoadedModel("smollm2-135m", device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def engine(loaded: LazyLoadedModel) -> Iterator[Any]:
    from pytest_persona.engines.vllm import VLLMEngine

    eng = VLLMEngine(dtype="float32", steering="graph", enforce_eager=False)
    yield eng
    eng.remove()


@pytest.fixture(scope="module")
def messages() -> list[Messages]:
    return [as_messages(q) for q in QUESTIONS]


@pytest.fixture(scope="module")
def vector(loaded: LazyLoadedModel) -> np.ndarray:
    rng = np.random.default_rng(7)
    v = rng.standard_normal(loaded.d_model).astype(np.float32)
    return np.asarray(v / np.linalg.norm(v) * 6.0, dtype=np.float32)


@pytest.fixture(scope="module")
def unsteered(loaded: LazyLoadedModel, engine: Any, messages: list[Messages]
              ) -> tuple[list[str], list[str]]:
    seeds = [0] * len(messages)
    hf = HFEngine().generate(loaded, messages, GREEDY, steering=None, coeffs=None, seeds=seeds)
    vl = engine.generate(loaded, messages, GREEDY, steering=None, coeffs=None, seeds=seeds)
    return hf, vl


def test_engine_runs_compiled_with_the_op_in_every_block(
        engine: Any, unsteered: tuple[list[str], list[str]]) -> None:
    from pytest_persona.engines import _vllm_worker as worker_fns

    mode, compiled, custom_ops = engine._llm.collective_rpc(compiled_state)[0]
    assert mode != 0 and compiled  # torch.compile on: a forward hook would be skipped
    assert "+persona_steer" in custom_ops  # the compile-cache key knows the op is there
    assert "PERSONA_VLLM_STEERING" not in os.environ  # restored once the workers are built
    assert all(engine._llm.collective_rpc(worker_fns.graph_ready))
    assert engine.describe()["steering"] == "graph"
    assert engine.describe()["enforce_eager"] is False


def test_unsteered_rows_equal_hf_on_every_row(unsteered: tuple[list[str], list[str]]) -> None:
    hf, vl = unsteered
    unequal = [(a, b) for a, b in zip(hf, vl) if a != b]
    assert not unequal, unequal
    assert all(t for t in vl)


@pytest.mark.parametrize("positions", ["all", "prompt", "response"])
def test_steered_rows_equal_hf(loaded: LazyLoadedModel, engine: Any, messages: list[Messages],
                               vector: np.ndarray, positions: str,
                               unsteered: tuple[list[str], list[str]]) -> None:
    steering = Steering(vector, LAYER, positions)
    seeds = [0] * len(messages)
    hf = HFEngine().generate(loaded, messages, GREEDY, steering=steering, coeffs=COEFFS,
                             seeds=seeds)
    vl = engine.generate(loaded, messages, GREEDY, steering=steering, coeffs=COEFFS,
                         seeds=seeds)
    equal = sum(a == b for a, b in zip(hf, vl))
    assert equal >= 0.95 * len(hf), list(zip(hf, vl))
    changed = sum(v != u for v, u, c in zip(vl, unsteered[1], COEFFS) if c != 0)
    assert changed >= 0.5 * sum(c != 0 for c in COEFFS), (positions, changed)
    assert [v for v, c in zip(vl, COEFFS) if c == 0] == \
        [u for u, c in zip(unsteered[1], COEFFS) if c == 0]


def test_coeff_zero_rows_bit_identical_to_unsteered_rows(
        loaded: LazyLoadedModel, engine: Any, messages: list[Messages], vector: np.ndarray,
        unsteered: tuple[list[str], list[str]]) -> None:
    n = len(messages)
    plain = engine.raw(messages, GREEDY, [0.0] * n, [0] * n, logprobs=True)
    salt = engine.install(loaded, Steering(vector, LAYER, "all"))
    try:
        mixed = engine.raw(messages, GREEDY, COEFFS, [0] * n, salt=salt, logprobs=True)
        steered_tokens, steps = engine.hits()
    finally:
        engine.remove()
    for i, c in enumerate(COEFFS):
        if c == 0:
            assert mixed[i] == plain[i], i  # token ids and float logprobs, exactly
    assert any(mixed[i][0] != plain[i][0] for i, c in enumerate(COEFFS) if c != 0)
    # "all": every prompt token and every fed-back generated token of the 8 steered rows
    assert steered_tokens > 0 and steps > 0


def test_an_op_that_steers_nothing_is_an_error(loaded: LazyLoadedModel, engine: Any,
                                              messages: list[Messages], vector: np.ndarray,
                                              monkeypatch: pytest.MonkeyPatch,
                                              unsteered: tuple[list[str], list[str]]) -> None:
    """Fault injection: the op runs but its layer flag is cleared after install (as if the op
    were not in the graph): the engine must refuse rather than return unsteered text."""
    from pytest_persona.engines import _vllm_worker as worker_fns

    real = worker_fns.install_graph

    def install_then_disable(worker: Any, *args: Any) -> int:
        out = real(worker, *args)
        worker_fns._graph_buffers(worker.model_runner).active.zero_()
        return out

    monkeypatch.setattr(worker_fns, "install_graph", install_then_disable)
    with pytest.raises(EngineError, match="persona::steer op steered no token"):
        engine.generate(loaded, messages[:2], GREEDY, steering=Steering(vector, LAYER, "all"),
                        coeffs=[4.0, 4.0], seeds=[0, 0])


def test_op_overhead_measured(loaded: LazyLoadedModel, engine: Any, vector: np.ndarray,
                              record_property: Any,
                              unsteered: tuple[list[str], list[str]]) -> None:
    """Tokens/s of the same greedy batch unsteered and steered (every row, "response"):
    reported, not asserted (2 shared cores are noisy)."""
    n = 24
    config = GenerationConfig(max_new_tokens=32, temperature=0.0)
    steering = Steering(vector, LAYER, "response")
    result: dict[str, Any] = {"rows": n, "max_new_tokens": 32, "repeats": 3}
    for k, (label, coeffs) in enumerate((("unsteered", [0.0] * n), ("steered", [2.0] * n))):
        rates = []
        for rep in range(3):
            # new prompts every time: no prefix-cache hits between measurements
            rows = [as_messages(f"Write two sentences about the number {1000 * (3 * k + rep) + i}.")
                    for i in range(n)]
            salt = engine.install(loaded, steering) if coeffs[0] else ""
            try:
                start = time.perf_counter()
                out = engine.raw(rows, config, coeffs, [0] * n, salt=salt)
                elapsed = time.perf_counter() - start
            finally:
                engine.remove()
            rates.append(sum(len(t) for t, _ in out) / elapsed)
        result[label] = {"tokens_per_s": rates, "median": float(np.median(rates))}
    result["steered_over_unsteered"] = result["steered"]["median"] / result["unsteered"]["median"]
    record_property("vllm_graph_overhead", json.dumps(result))
    print("vllm graph op overhead:", json.dumps(result))
    assert all(r > 0 for r in result["steered"]["tokens_per_s"])


def test_unknown_steering_path_is_an_error() -> None:
    from pytest_persona.engines.vllm import VLLMEngine

    with pytest.raises(EngineError, match="unknown steering path 'graphs'"):
        VLLMEngine(steering="graphs")


MULTIPROCESS_SCRIPT = """
import json, os, sys
import numpy as np
from pytest_persona.core.requests import GenerationConfig, Steering, as_messages
from pytest_persona.engines.vllm import VLLMEngine
from pytest_persona.models.loading import LazyLoadedModel


def pid(worker):
    return os.getpid()


if __name__ == "__main__":
    loaded = LazyLoadedModel("smollm2-135m", device="cpu", dtype="float32")
    engine = VLLMEngine(dtype="float32", steering="graph")
    rows = [as_messages("Name a colour."), as_messages("Name a fruit.")]
    config = GenerationConfig(max_new_tokens=8, temperature=0.0)
    vector = np.random.default_rng(7).standard_normal(576).astype(np.float32) * 0.25
    plain = engine.generate(loaded, rows, config, steering=None, coeffs=None, seeds=[0, 0])
    steered = engine.generate(loaded, rows, config, steering=Steering(vector, 12, "all"),
                              coeffs=[8.0, 0.0], seeds=[0, 0])
    json.dump({"main": os.getpid(), "workers": engine._llm.collective_rpc(pid),
               "plain": plain, "steered": steered, "hits": engine.hits()},
              open(sys.argv[1], "w"))
"""


def test_worker_processes_patch_through_the_plugin(tmp_path: Any) -> None:
    """vLLM with its engine core and worker in their own (spawned) processes: the model is
    built where only the installed plugin entry point can patch it, and steering works there
    (eager, to keep the start short; the op is the same)."""
    script = tmp_path / "multiprocess.py"
    script.write_text(MULTIPROCESS_SCRIPT)
    out = tmp_path / "out.json"
    env = {k: v for k, v in os.environ.items() if k != "PERSONA_VLLM_STEERING"}
    env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1"
    proc = subprocess.run([sys.executable, str(script), str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(out.read_text())
    assert found["main"] not in found["workers"]  # the model lives in another process
    assert found["hits"][0] > 0  # the op steered tokens there
    assert found["steered"][0] != found["plain"][0]
    assert found["steered"][1] == found["plain"][1]  # the coefficient-0 row is untouched


def test_qwen2_blocks_steer_like_hf(tmp_path: Any) -> None:
    """The patch on vLLM's Qwen2DecoderLayer: a small random Qwen2 saved to a directory
    (head_dim 64: vLLM's CPU attention needs it), eager, graph path, against hf."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from pytest_persona.engines.vllm import VLLMEngine

    tok = LazyLoadedModel("smollm2-135m", device="cpu", dtype="float32").tokenizer
    tok.save_pretrained(tmp_path)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tok), hidden_size=256, intermediate_size=256,
                         num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, tie_word_embeddings=True,
                         initializer_range=0.3, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id)
    Qwen2ForCausalLM(config).save_pretrained(tmp_path, safe_serialization=True)
    model = LazyLoadedModel(str(tmp_path), device="cpu", dtype="float32")
    rows = [as_messages(q) for q in ("Name a colour.", "Name a fruit.", "Say hi.",
                                     "Count to three.")]
    greedy = GenerationConfig(max_new_tokens=12, temperature=0.0, batch_size=4)
    steering = Steering(np.random.default_rng(3).standard_normal(256).astype(np.float32), 1,
                        "response")
    coeffs = [8.0, 0.0, -8.0, 8.0]
    engine = VLLMEngine(dtype="float32", steering="graph")
    plain = engine.generate(model, rows, greedy, steering=None, coeffs=None, seeds=[0] * 4)
    steered = engine.generate(model, rows, greedy, steering=steering, coeffs=coeffs,
                              seeds=[0] * 4)
    assert plain == HFEngine().generate(model, rows, greedy, steering=None, coeffs=None,
                                        seeds=[0] * 4)
    assert steered == HFEngine().generate(model, rows, greedy, steering=steering,
                                          coeffs=coeffs, seeds=[0] * 4)
    assert steered[1] == plain[1]
    assert any(s != p for s, p, c in zip(steered, plain, coeffs) if c != 0)
    assert engine.hits()[0] > 0
