"""The persona shift of a model in training against a reference, framework-independent.

A check is the figure of the ``checkpoint_shift`` expectation (``at: prompt_last``), computed on
weights in memory: every evaluation question of a trait is rendered as a chat prompt, one
forward pass gives block ``layer``'s output at its last prompt token, that is projected onto
the trait's ``response_avg`` vector (``a . v / |v|``), and the shift is the mean over questions
of (now - reference), with a 95% percentile bootstrap interval over questions (4000
resamples, seed ``crc32(trait, "checkpoint_shift", "prompt_last")``). No generation.

The reference is a fingerprint plus its per-question projections, never a model copy.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.arrays import vector_sha256
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.errors import PersonaUsageError, VectorFileError
from pytest_persona.models.loading import LoadedModel
from pytest_persona.pipeline.extraction import ExtractionConfig
from pytest_persona.pipeline.projections import prompt_last_projections
from pytest_persona.results.paired import pair, per_question_means, seed_for
from pytest_persona.suites.schema import EXTRACTION_FIELDS
from pytest_persona.traits.loader import TraitData, load_trait

LEVEL = 0.95
MEASURE = ("paired per-question shift of the projection of block {layer}'s output at the last "
           "prompt token onto the trait's response_avg vector (a.v/|v|), now minus reference; "
           "95% percentile bootstrap over questions, 4000 resamples, seed "
           "crc32(trait, checkpoint_shift, prompt_last): the checkpoint_shift expectation's "
           "figure (at: prompt_last). No generation: one forward pass per question.")


@dataclass(frozen=True)
class TraitSpec:
    """A trait to watch: its data (evaluation questions) and, optionally, a vector file."""

    name: str
    data: TraitData
    vector_file: Path | None = None
    vectors: TraitVectors | None = None


@dataclass(frozen=True)
class Probe:
    """A resolved trait: the vector at the watched layer and the questions it is read on."""

    name: str
    questions: tuple[str, ...]
    vector: np.ndarray[Any, Any]
    source: str
    vector_sha256: str


@dataclass(frozen=True)
class Shift:
    """One trait's shift at one check."""

    trait: str
    shift: float
    ci_low: float
    ci_high: float
    n: int
    reference_mean: float
    mean: float

    def to_dict(self) -> dict[str, Any]:
        return {"trait": self.trait, "shift": self.shift, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "n": self.n, "reference_mean": self.reference_mean,
                "mean": self.mean}


def trait_specs(traits: str | Path | Sequence[str | Path],
                trait_paths: Sequence[str | Path] = ()) -> list[TraitSpec]:
    """Trait names (built-in, or found in ``trait_paths``), trait JSON files, or vector files
    (``.safetensors``: the trait's name is read from the file and its questions looked up)."""
    items = [traits] if isinstance(traits, (str, Path)) else list(traits)
    if not items:
        raise PersonaUsageError("PersonaCallback(traits=...): name at least one trait")
    specs: list[TraitSpec] = []
    for item in items:
        if str(item).endswith(".safetensors"):
            vectors = TraitVectors.load(item)
            name = vectors.trait
            if not name:
                raise VectorFileError(f"{item}: the vector file names no trait (metadata "
                                      "'trait'); its evaluation questions cannot be found")
            specs.append(TraitSpec(name, load_trait(name, trait_paths), Path(item), vectors))
        else:
            data = load_trait(item, trait_paths)
            specs.append(TraitSpec(data.name, data))
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PersonaUsageError(f"PersonaCallback(traits=...): {', '.join(dupes)} named twice")
    return specs


def extraction_config(extraction: ExtractionConfig | Mapping[str, Any] | None,
                      batch_size: int | None) -> ExtractionConfig:
    """An ExtractionConfig from one, or from a suite's ``extraction:`` mapping (same fields,
    same defaults, so a vector extracted by a suite run is found in the cache)."""
    if isinstance(extraction, ExtractionConfig):
        return extraction
    params = dict(extraction or {})
    for name in params:
        if name not in EXTRACTION_FIELDS:
            raise PersonaUsageError(
                f"PersonaCallback(extraction=...): unknown extraction field {name!r}; allowed: "
                f"{', '.join(sorted(EXTRACTION_FIELDS))}")
    try:
        return ExtractionConfig(**params, batch_size=batch_size)
    except TypeError as exc:
        raise PersonaUsageError(f"PersonaCallback(extraction=...): {exc}") from exc


def model_view(model: Any, tokenizer: Any, fingerprint: str, name: str | None = None
               ) -> LoadedModel:
    """The model being trained as the pipeline sees a loaded model (no copy is made)."""
    param = next(model.parameters())
    model_id = str(getattr(getattr(model, "config", None), "_name_or_path", "") or
                   type(model).__name__)
    return LoadedModel(model=model, tokenizer=tokenizer, name=name or model_id,
                       model_id=model_id, fingerprint=fingerprint,
                       device=str(param.device),
                       dtype=str(param.dtype).replace("torch.", ""))


def resolve_probe(spec: TraitSpec, layer: int, max_questions: int | None,
                  vectors: TraitVectors, source: str, n_layers: int, d_model: int) -> Probe:
    """The vector of ``spec`` at ``layer``, checked against the model's shape."""
    vectors.check_model(n_layers, d_model, str(spec.vector_file or source))
    if not 0 <= layer < vectors.n_layers:
        raise PersonaUsageError(f"PersonaCallback(layer={layer}): the model has "
                                f"{vectors.n_layers} decoder blocks (layer is 0-based)")
    vec = np.asarray(vectors.array(layer), dtype=np.float32)
    if not np.isfinite(vec).all() or not np.any(vec):
        raise VectorFileError(f"{spec.vector_file or source}: the {spec.name} vector at layer "
                              f"{layer} is zero or not finite; nothing to project onto")
    questions = tuple(spec.data.eval_questions[:max_questions])
    if len(questions) < 2:
        raise PersonaUsageError(f"{spec.name}: {len(questions)} evaluation question(s); a "
                                "bootstrap interval needs at least 2")
    return Probe(spec.name, questions, vec, source, vector_sha256(vec))


class ShiftMonitor:
    """Reference projections per trait, and checks of a model view against them."""

    def __init__(self, probes: Sequence[Probe], layer: int, batch_size: int = 16) -> None:
        self.probes = list(probes)
        self.layer = layer
        self.batch_size = batch_size
        self.reference: dict[str, dict[str, float | None]] = {}
        self.last_seconds = 0.0

    @property
    def forward_passes(self) -> int:
        """Forward passes (one per question per trait) that one check costs."""
        return sum(len(p.questions) for p in self.probes)

    def _project(self, view: LoadedModel, probe: Probe, cache: PersonaCache | None
                 ) -> dict[str, float | None]:
        values = prompt_last_projections(view, list(probe.questions), probe.vector,
                                         self.layer, cache, self.batch_size)
        return per_question_means(list(probe.questions), values)

    def set_reference(self, view: LoadedModel, cache: PersonaCache | None) -> None:
        """Project the reference weights (cached under their fingerprint)."""
        with eval_mode(view.model):
            self.reference = {p.name: self._project(view, p, cache) for p in self.probes}

    def check(self, view: LoadedModel) -> list[Shift]:
        """Each trait's paired shift of ``view`` against the reference (never cached: the
        weights change at every step)."""
        if set(self.reference) != {p.name for p in self.probes}:
            raise RuntimeError("ShiftMonitor.check before set_reference")
        start = time.perf_counter()
        out = []
        with eval_mode(view.model):
            for p in self.probes:
                diff = pair(self.reference[p.name], self._project(view, p, None))
                lo, hi = diff.interval(LEVEL, seed_for(p.name, "checkpoint_shift",
                                                       "prompt_last"))
                out.append(Shift(p.name, diff.mean, lo, hi, diff.n, diff.old_mean,
                                 diff.new_mean))
        self.last_seconds = time.perf_counter() - start
        return out


class eval_mode:
    """Dropout off for the measurement; the training mode is restored afterwards."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.was_training = bool(getattr(model, "training", False))

    def __enter__(self) -> None:
        self.model.eval()

    def __exit__(self, *exc: object) -> None:
        if self.was_training:
            self.model.train()
