"""Cached responses are a function of their key: cold, resumed and parallel runs agree
(issue 13.4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_persona.cache.store import CacheWarning, PersonaCache
from pytest_persona.core.generation import GenerationConfig
from pytest_persona.models.loading import LoadedModel, cache_identity, load_model
from pytest_persona.pipeline.responses import generate_cached

ROOT = Path(__file__).resolve().parents[2]
ITEMS = [f"Question number {i}: what do you think about {w}?"
         for i, w in enumerate(["cats", "rain", "tea", "maps", "jazz", "ice", "code", "salt"])]
CFG = GenerationConfig(max_new_tokens=6, temperature=1.0, seed=3, batch_size=3)


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model("tiny-random-llama", device="cpu")


def _lines(cache: PersonaCache, loaded: LoadedModel) -> list[dict[str, str]]:
    path = cache.responses(cache_identity(loaded)).path
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_interrupted_then_resumed_equals_uninterrupted(loaded: LoadedModel,
                                                       tmp_path: Path) -> None:
    """Regression: seeds were seed + offset into the misses, so a resumed run (whose misses
    are a different list) sampled different texts than one uninterrupted run."""
    whole = generate_cached(loaded, ITEMS, CFG, PersonaCache(tmp_path / "a"))
    cache = PersonaCache(tmp_path / "b")
    calls = 0

    def stop_after_first_batch(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if done > 0:
            raise Interrupt

    with pytest.raises(Interrupt):
        generate_cached(loaded, ITEMS, CFG, cache, progress=stop_after_first_batch)
    assert len(_lines(cache, loaded)) == 3  # the first batch was kept
    resumed_cache = PersonaCache(tmp_path / "b")
    resumed = generate_cached(loaded, ITEMS, CFG, resumed_cache)
    assert resumed_cache.stats() == {"hits": 3, "misses": 5}
    assert resumed == whole
    assert len(_lines(resumed_cache, loaded)) == len(ITEMS)


def test_two_concurrent_processes_equal_one_run(loaded: LoadedModel, tmp_path: Path) -> None:
    """Two processes share a cache, each with a different order and batch size: the texts
    and the cache equal one uninterrupted run, every key stored once."""
    script = textwrap.dedent(f"""
        import json, sys
        from pytest_persona.cache.store import PersonaCache
        from pytest_persona.core.generation import GenerationConfig
        from pytest_persona.models.loading import load_model
        from pytest_persona.pipeline.responses import generate_cached
        items = {ITEMS!r}
        order = list(reversed(items)) if sys.argv[2] == "rev" else items
        cfg = GenerationConfig(max_new_tokens=6, temperature=1.0, seed=3,
                               batch_size=int(sys.argv[3]))
        loaded = load_model("tiny-random-llama", device="cpu")
        out = generate_cached(loaded, order, cfg, PersonaCache(sys.argv[1]))
        print(json.dumps(dict(zip(order, out))))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    shared = tmp_path / "shared"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(shared), order, size],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
             for order, size in (("fwd", "2"), ("rev", "3"))]
    outs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-2000:]
        assert "CacheWarning" not in stderr, stderr[-2000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    one = dict(zip(ITEMS, generate_cached(loaded, ITEMS, CFG, PersonaCache(tmp_path / "one"))))
    assert outs[0] == one and outs[1] == one
    lines = _lines(PersonaCache(shared), loaded)
    assert len({e["k"] for e in lines}) == len(lines) == len(ITEMS)
    assert sorted(e["t"] for e in lines) == sorted(one.values())


def test_first_writer_wins_and_a_conflict_warns(tmp_path: Path) -> None:
    first = PersonaCache(tmp_path).responses("m")
    second = PersonaCache(tmp_path).responses("m")  # another process's view
    assert first.put_many({"k1": "alpha"}) == {"k1": "alpha"}
    with pytest.warns(CacheWarning, match="differ from the text another writer stored first"):
        assert second.put_many({"k1": "beta", "k2": "gamma"}) == {"k1": "alpha", "k2": "gamma"}
    assert second.conflicts == 1
    assert first.get_many(["k1", "k2"]) == {"k1": "alpha", "k2": "gamma"}
    assert second.put_many({"k2": "gamma"}) == {"k2": "gamma"}  # same text: verified, no dup
    assert len(first.path.read_text().splitlines()) == 2


def test_generate_cached_returns_the_first_writers_text(loaded: LoadedModel,
                                                        tmp_path: Path) -> None:
    cache = PersonaCache(tmp_path)
    texts = generate_cached(loaded, ITEMS[:2], CFG, cache)
    planted = PersonaCache(tmp_path)
    store = planted.responses(cache_identity(loaded))
    # Simulate another process that stored a different text for ITEMS[2] first.
    from pytest_persona.core.generation import as_messages, request_key
    key = request_key(cache_identity(loaded), as_messages(ITEMS[2]), CFG, None, 0.0)
    store.put_many({key: "someone else's text"})
    fresh = PersonaCache(tmp_path)
    fresh.refresh = True  # regenerates, then finds the planted text on write

    with pytest.warns(CacheWarning):
        out = generate_cached(loaded, ITEMS[:3], CFG, fresh)
    assert out[:2] == texts and out[2] == "someone else's text"


def test_cached_and_direct_generation_agree(loaded: LoadedModel, tmp_path: Path) -> None:
    from pytest_persona.core.generation import generate

    direct = generate(loaded.model, loaded.tokenizer, ITEMS[:4], CFG)
    assert generate_cached(loaded, ITEMS[:4], CFG, PersonaCache(tmp_path)) == direct
    salted = generate_cached(loaded, ITEMS[:2] * 2, CFG, None, salts=[0, 0, 1, 1])
    assert salted[:2] == direct[:2] and salted[2:] != direct[:2]  # the sample index matters
