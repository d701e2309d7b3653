"""Projections of activations onto a trait vector, cached: a warm run needs no forward pass.

Two poolings: ``response_avg`` (hidden states averaged over an answer's tokens) and
``prompt_last`` (the last prompt token, i.e. the position that produces the first answer token:
the reference's fine-tuning-shift measure, which needs no generation at all).
"""

from __future__ import annotations

from typing import Any

from pytest_persona._util.deprecated import renamed_keyword
from pytest_persona.cache.keys import ProjectionKey
from pytest_persona.cache.store import PersonaCache, stable_hash
from pytest_persona.core.arrays import Vector, float32_bytes
from pytest_persona.core.projection import project
from pytest_persona.models.loading import cache_identity


def projection_vector_hash(vector: Vector) -> str:
    """The vector field of a :class:`ProjectionKey` (the same from a tensor or an array)."""
    return stable_hash(float32_bytes(vector).hex(), 32)


@renamed_keyword("kind", "pooling")
def projections(loaded: Any, prompts: list[Any], answers: list[str], vector: Vector,
                layer: int, cache: PersonaCache | None, batch_size: int = 16,
                pooling: str = "response_avg") -> list[float]:
    """``a . v / |v|`` of block-``layer`` outputs, one per (prompt, answer): averaged over the
    answer (``pooling="response_avg"``) or at the last prompt token (``"prompt_last"``)."""
    if pooling not in ("response_avg", "prompt_last"):
        raise ValueError(f"unknown projection pooling {pooling!r}: response_avg or prompt_last")
    key = ProjectionKey(model=cache_identity(loaded), prompts=prompts, answers=answers,
                        vector=projection_vector_hash(vector), layer=layer,
                        pooling=pooling).digest()
    if cache is not None:
        found = cache.load_projections(key, len(answers))  # validated: recomputed if bad
        if found is not None:
            return found
    from pytest_persona.core.activations import collect_activations  # torch: misses only

    acts = collect_activations(loaded.model, loaded.tokenizer, prompts, answers,
                               batch_size=batch_size, layers=[layer])
    values = project(acts.get(pooling)[:, 0], vector).tolist()
    if cache is not None:
        cache.save_projections(key, values)
    return values


def prompt_last_projections(loaded: Any, prompts: list[Any], vector: Vector, layer: int,
                            cache: PersonaCache | None, batch_size: int = 16) -> list[float]:
    """Projections at the last prompt token of each prompt (one forward pass, no generation)."""
    return projections(loaded, prompts, [""] * len(prompts), vector, layer, cache, batch_size,
                       pooling="prompt_last")
