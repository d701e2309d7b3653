"""Pick the most effective steering layer, as the persona-vectors paper does: steer the
evaluation questions at one coefficient at each candidate layer, judge trait and coherence, and
keep the layer with the highest trait score among those that stay coherent."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TypedDict

from pytest_persona._util.progress import Progress, bind
from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.generation import GenerationConfig, Steering
from pytest_persona.core.stats import summarize
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.judges import COHERENCE_PROMPT, Judge, JudgeRequest
from pytest_persona.pipeline.dose import dose_scale
from pytest_persona.pipeline.responses import generate_cached
from pytest_persona.traits.loader import TraitData


@dataclass(frozen=True)
class LayerScore:
    """Mean trait score and coherence when steering at one layer."""

    layer: int
    trait_mean: float
    coherence_mean: float
    n: int
    dose: float | None = None  # relative dose of the sweep coefficient at this layer
    vector_norm: float | None = None
    mean_norm: float | None = None  # mean block-output norm over the sweep questions


class LayerSweepRecord(TypedDict):
    """A :class:`LayerSweep` as JSON (the vectors' ``layer_sweep`` metadata)."""

    coeff: float
    best_layer: int | None
    min_coherence: float
    dose_procedure: str
    scores: list[dict[str, float | None]]  # one LayerScore each, by field name


@dataclass(frozen=True)
class LayerSweep:
    """The per-layer results and the chosen layer (None when no layer stayed coherent)."""

    coeff: float
    scores: tuple[LayerScore, ...]
    best_layer: int | None
    min_coherence: float

    def to_dict(self) -> LayerSweepRecord:
        return {"coeff": self.coeff, "best_layer": self.best_layer,
                "min_coherence": self.min_coherence,
                "dose_procedure": "dose = |coeff| * ||v_layer|| / mean L2 norm of block-layer "
                                  "outputs over every token but the first (the attention "
                                  "sink) of each sweep question (chat template, unsteered)",
                "scores": [asdict(s) for s in self.scores]}


def sweep_layers(
    loaded: object,
    trait: TraitData,
    vectors: TraitVectors,
    judge: Judge,
    layers: Sequence[int],
    coeff: float,
    *,
    coherence_judge: Judge | None = None,
    n_questions: int = 10,
    config: GenerationConfig = GenerationConfig(max_new_tokens=48),
    min_coherence: float = 50.0,
    cache: PersonaCache | None = None,
    progress: Progress | None = None,
) -> LayerSweep:
    """Steer ``n_questions`` evaluation questions at ``coeff`` at each layer; pick the best."""
    coherence_judge = coherence_judge or judge
    questions = list(trait.eval_questions[:n_questions])
    results: list[LayerScore] = []
    for layer in layers:
        steering = Steering(vectors[layer], layer, "response")
        answers = generate_cached(loaded, questions, config, cache,  # type: ignore[arg-type]
                                  steering=steering, coeffs=[coeff] * len(questions),
                                  progress=bind(progress, f"layer sweep {trait.name} L{layer}"))
        t = judge.score_many_sync([JudgeRequest(q, a, trait.eval_prompt, trait=trait.name)
                                   for q, a in zip(questions, answers)])
        c = coherence_judge.score_many_sync([JudgeRequest(q, a, COHERENCE_PROMPT,
                                                          trait="coherence")
                                             for q, a in zip(questions, answers)])
        ts, cs = summarize([r.score for r in t]), summarize([r.score for r in c])
        scale = dose_scale(loaded, vectors[layer], layer, questions, cache,
                           batch_size=config.batch_size or 16)
        results.append(LayerScore(layer, ts.mean, cs.mean, ts.n, scale.dose(coeff),
                                  scale.vector_norm, scale.mean_norm))
    coherent = [s for s in results if not math.isnan(s.trait_mean)
                and s.coherence_mean >= min_coherence]
    best = max(coherent, key=lambda s: s.trait_mean).layer if coherent else None
    return LayerSweep(float(coeff), tuple(results), best, min_coherence)
