"""The vllm engine against the hf reference on the embedded SmolLM2-135M (float32, CPU,
greedy): unsteered and steered texts equal, coefficient-0 rows bit-identical to unsteered
rows, sampled rows a function of their key, impossible requests refused. Runs only in
``make test-vllm`` (vLLM's CPU build in .venv-vllm)."""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def loaded() -> LazyLoadedModel:
    return LazyLoadedModel("smollm2-135m", device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def engine(loaded: LazyLoadedModel) -> Iterator[Any]:
    from pytest_persona.engines.vllm import VLLMEngine

    eng = VLLMEngine(dtype="float32")
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


def test_unsteered_rows_equal_hf_on_every_row(unsteered: tuple[list[str], list[str]]) -> None:
    hf, vl = unsteered
    unequal = [(a, b) for a, b in zip(hf, vl) if a != b]
    assert not unequal, unequal
    assert all(t for t in vl)  # real texts, not empty rows


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
    # the steering did something: most steered rows differ from the unsteered text
    changed = sum(v != u for v, u, c in zip(vl, unsteered[1], COEFFS) if c != 0)
    assert changed >= 0.5 * sum(c != 0 for c in COEFFS), (positions, changed)
    # and zero rows are the unsteered text
    assert [v for v, c in zip(vl, COEFFS) if c == 0] == \
        [u for u, c in zip(unsteered[1], COEFFS) if c == 0]


def test_coeff_zero_rows_bit_identical_to_unsteered_rows(
        loaded: LazyLoadedModel, engine: Any, messages: list[Messages],
        vector: np.ndarray) -> None:
    n = len(messages)
    plain = engine.raw(messages, GREEDY, [0.0] * n, [0] * n, logprobs=True)
    salt = engine.install(loaded, Steering(vector, LAYER, "all"))
    try:
        mixed = engine.raw(messages, GREEDY, COEFFS, [0] * n, salt=salt, logprobs=True)
    finally:
        engine.remove()
    for i, c in enumerate(COEFFS):
        if c == 0:
            assert mixed[i] == plain[i], i  # token ids and float logprobs, exactly
    assert any(mixed[i][0] != plain[i][0] for i, c in enumerate(COEFFS) if c != 0)


def test_sampled_row_depends_on_its_key_only(loaded: LazyLoadedModel, engine: Any,
                                             messages: list[Messages]) -> None:
    sampled = GenerationConfig(max_new_tokens=16, temperature=1.0, top_p=1.0, seed=5)
    alone = engine.generate(loaded, messages[:1], sampled, steering=None, coeffs=None,
                            seeds=[1234])
    among = engine.generate(loaded, messages[3:8] + messages[:1], sampled, steering=None,
                            coeffs=None, seeds=[1, 2, 3, 4, 5, 1234])
    other_seed = engine.generate(loaded, messages[:1], sampled, steering=None, coeffs=None,
                                 seeds=[99])
    assert alone[0] == among[-1]
    assert other_seed[0] != alone[0]


def test_many_sampled_rows_with_long_prompts(loaded: LazyLoadedModel, engine: Any) -> None:
    """More prompt tokens than one scheduler step holds, every row seeded: on vLLM 0.32's CPU
    runner chunked prefill then rewinds a CPU generator and crashes; the engine must not."""
    filler = "Please answer carefully and think about the details of the situation. " * 12
    rows = [as_messages(f"{filler} Question {i}: name a colour.") for i in range(96)]
    sampled = GenerationConfig(max_new_tokens=4, temperature=1.0, seed=1)
    texts = engine.generate(loaded, rows, sampled, steering=None, coeffs=None,
                            seeds=list(range(96)))
    assert len(texts) == 96 and sum(bool(t) for t in texts) >= 90


def test_self_check_recorded_and_cached(loaded: LazyLoadedModel, engine: Any) -> None:
    from pytest_persona.engines.vllm import VLLMEngine

    engine.generate(loaded, [as_messages("hi")], GREEDY, steering=None, coeffs=None, seeds=[0])
    check = engine.describe()["batch_invariance"]
    assert isinstance(check["equal"], bool) and check["batch"] == 8 and check["tokens"] == 16
    assert check["fingerprint"]["vllm"] == engine.version
    assert check["fingerprint"]["dtype"] == "float32"
    again = VLLMEngine(dtype="float32").self_check(loaded)
    assert again["cached"] is True and again["equal"] == check["equal"]


@pytest.mark.parametrize("steering, needle", [
    (lambda v: Steering(v, 30, "response"), "layer 30 is out of range"),
    (lambda v: Steering(v[:10], 3, "response"), "hidden size is 576"),
    (lambda v: Steering(v, 3, "middle"), "unknown steering positions"),
])
def test_impossible_requests_are_errors(loaded: LazyLoadedModel, engine: Any,
                                        messages: list[Messages], vector: np.ndarray,
                                        steering: Any, needle: str) -> None:
    with pytest.raises(EngineError, match=needle):
        engine.generate(loaded, messages[:2], GREEDY, steering=steering(vector),
                        coeffs=[1.0, 1.0], seeds=[0, 0])


def test_compiled_engine_refuses_steering_before_starting(loaded: LazyLoadedModel,
                                                          vector: np.ndarray) -> None:
    from pytest_persona.engines.vllm import VLLMEngine

    compiled = VLLMEngine(dtype="float32", enforce_eager=False)
    with pytest.raises(EngineError, match="needs enforce_eager"):
        compiled.generate(loaded, [as_messages("hi")], GREEDY,
                          steering=Steering(vector, 3, "all"), coeffs=[2.0], seeds=[0])
    assert compiled.describe()["started"] is False
