"""generate_cached through an engine: the engine's identity keys the responses, only misses
reach it, a warm rerun makes no engine call, and the hf engine is today's path exactly."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.requests import GenerationConfig, Messages, Steering
from pytest_persona.engines import Engine, HFEngine
from pytest_persona.engines.base import OnBatch, Progress
from pytest_persona.models.loading import LoadedModel, cache_identity, load_model
from pytest_persona.pipeline.responses import generate_cached

CFG = GenerationConfig(max_new_tokens=5, temperature=0.0, batch_size=4)
ITEMS = [f"Tell me about topic {i}." for i in range(5)]


class Recording(HFEngine):
    """The hf engine under another identity, recording every call it gets."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[int, list[float] | None]] = []

    def identity(self, loaded: Any) -> str:
        return f"{cache_identity(loaded)}|recording-1"

    def generate(self, loaded: Any, messages: Sequence[Messages], config: GenerationConfig, *,
                 steering: Steering | None, coeffs: Sequence[float] | None,
                 seeds: Sequence[int], progress: Progress | None = None,
                 on_batch: OnBatch | None = None) -> list[str]:
        self.calls.append((len(messages), None if coeffs is None else list(coeffs)))
        return super().generate(loaded, messages, config, steering=steering, coeffs=coeffs,
                                seeds=seeds, progress=progress, on_batch=on_batch)


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model("tiny-random-llama", device="cpu")


def test_recording_engine_satisfies_the_protocol() -> None:
    assert isinstance(Recording(), Engine)


def test_engine_identity_keys_responses_and_warm_run_skips_it(loaded: LoadedModel,
                                                               tmp_path: Path) -> None:
    cache = PersonaCache(tmp_path)
    engine = Recording()
    vec = np.ones(loaded.d_model, dtype=np.float32)
    steering = Steering(vec, 1, "response")
    coeffs = [0.0, 4.0, -4.0, 0.0, 4.0]
    first = generate_cached(loaded, ITEMS, CFG, cache, steering=steering, coeffs=coeffs,
                            engine=engine)
    assert engine.calls == [(5, coeffs)]
    # its texts live under its own identity, not the hf engine's
    assert cache.responses(engine.identity(loaded)).path.exists()
    assert not cache.responses(cache_identity(loaded)).path.exists()
    again = generate_cached(loaded, ITEMS, CFG, cache, steering=steering, coeffs=coeffs,
                            engine=engine)
    assert again == first and len(engine.calls) == 1  # warm: no engine call
    more = generate_cached(loaded, [*ITEMS, "One more question."], CFG, cache,
                           steering=steering, coeffs=[*coeffs, 4.0], engine=engine)
    assert more[:5] == first and engine.calls[-1] == (1, [4.0])  # only the miss


def test_hf_engine_is_the_default_path(loaded: LoadedModel, tmp_path: Path) -> None:
    vec = np.linspace(-1, 1, loaded.d_model).astype(np.float32)
    steering = Steering(vec, 0, "all")
    coeffs = [0.0, 3.0, -3.0, 1.0, 0.0]
    plain = generate_cached(loaded, ITEMS, CFG, PersonaCache(tmp_path / "a"),
                            steering=steering, coeffs=coeffs)
    cache = PersonaCache(tmp_path / "b")
    via = generate_cached(loaded, ITEMS, CFG, cache, steering=steering, coeffs=coeffs,
                          engine=HFEngine())
    assert via == plain
    # same identity, same keys: caches written before engines existed stay valid
    assert HFEngine().identity(loaded) == cache_identity(loaded)
    assert (tmp_path / "a" / cache.responses(cache_identity(loaded)).path.relative_to(
        tmp_path / "b")).read_text() == cache.responses(cache_identity(loaded)).path.read_text()
