"""Generation through the response cache: only misses are generated, each finished batch is
written at once, so an interrupted run resumes where it stopped.

Each sampled row is seeded from its own messages, sample index and config seed (part of its
key; the model and the steering coefficient are left out on purpose, so a base model and a
checkpoint, or the coefficients of a sweep, see the same random numbers: paired comparisons
with less noise). So a response is a function of its key alone: an interrupted-then-resumed run, two processes sharing a cache and one uninterrupted
run store the same texts (and the first writer of a key wins if they ever differ).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.requests import (
    GenerationConfig,
    Messages,
    Steering,
    as_messages,
    request_key,
    row_seed,
)
from pytest_persona.engines.base import Engine
from pytest_persona.models.loading import LoadedModel, cache_identity


def generate(*args: Any, **kwargs: Any) -> list[str]:
    """:func:`pytest_persona.core.generation.generate`, imported on the first cache miss (it
    needs torch; a fully cached run never calls this)."""
    from pytest_persona.core.generation import generate as run

    return run(*args, **kwargs)


def generate_cached(
    loaded: LoadedModel,
    items: Sequence[str | Messages],
    config: GenerationConfig,
    cache: PersonaCache | None,
    *,
    steering: Steering | None = None,
    coeffs: Sequence[float] | None = None,
    salts: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine: Engine | None = None,
) -> list[str]:
    """Like :func:`generate`, reading and writing the response cache.

    ``salts`` distinguishes repeated samples of the same prompt (sample index). ``engine``
    generates the misses (default: the hf reference path); its identity keys the responses,
    so two engines' texts are different cache entries (the hf engine's identity is the plain
    model identity: caches written before engines existed stay valid).
    """
    messages = [as_messages(item) for item in items]
    row_coeffs = [float(c) for c in coeffs] if coeffs is not None else [0.0] * len(items)
    row_salts = list(salts) if salts is not None else [0] * len(items)
    salted = [m + [{"role": "_sample", "content": str(s)}] if s else m
              for m, s in zip(messages, row_salts)]
    identity = engine.identity(loaded) if engine is not None else cache_identity(loaded)
    keys = [request_key(identity, m, config, steering, c) for m, c in zip(salted, row_coeffs)]
    store = cache.responses(identity) if cache is not None else None
    found = store.get_many(keys) if store is not None and not cache.refresh else {}  # type: ignore[union-attr]
    todo = [i for i, k in enumerate(keys) if k not in found]
    if store is not None:
        store.hits += len(keys) - len(todo)
        store.misses += len(todo)
    results = [found.get(k, "") for k in keys]
    if todo:
        stored: dict[str, str] = {}

        def on_batch(idx: list[int], texts: list[str]) -> None:
            if store is not None:
                stored.update(store.put_many({keys[todo[i]]: t for i, t in zip(idx, texts)}))

        todo_steering = steering if coeffs is not None else None
        todo_coeffs = [row_coeffs[i] for i in todo] if coeffs is not None else None
        seeds = [row_seed(config.seed, salted[i]) for i in todo]
        if engine is None:
            texts = generate(loaded.model, loaded.tokenizer, [messages[i] for i in todo], config,
                             steering=todo_steering, coeffs=todo_coeffs, progress=progress,
                             on_batch=on_batch, seeds=seeds)
        else:
            texts = engine.generate(loaded, [messages[i] for i in todo], config,
                                    steering=todo_steering, coeffs=todo_coeffs, seeds=seeds,
                                    progress=progress, on_batch=on_batch)
        for i, text in zip(todo, texts):
            results[i] = stored.get(keys[i], text)  # another writer's text, if it was first
    elif progress is not None:
        progress(len(keys), len(keys))
    return results
