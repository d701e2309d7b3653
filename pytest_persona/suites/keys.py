"""The keys of the session's in-memory memo of sweeps and unsteered runs.

They index dictionaries of one process and are never written anywhere: the generation and judge
caches on disk have keys of their own (``cache/keys.py``), so changing these cannot invalidate
a cache. Fields are named so that "the sweep whose coefficient-0 row is this unsteered run" is
``sweep_key.unsteered == key``, not a comparison of tuple positions.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_persona.core.requests import GenerationConfig
from pytest_persona.pipeline.extraction import ExtractionConfig


@dataclass(frozen=True)
class UnsteeredKey:
    """What the model's unsteered (coefficient 0) answers and their scores depend on."""

    model: str  #: fingerprint of the model under test
    trait: str  #: sha256 of the trait's data
    questions: tuple[str, ...]
    generation: GenerationConfig
    samples_per_question: int
    judge_repeats: int


@dataclass(frozen=True)
class SweepKey:
    """What a steering sweep depends on: its unsteered row's key and the steering itself."""

    unsteered: UnsteeredKey
    layer: int
    positions: str
    coefficients: tuple[float, ...]
    max_missing_fraction: float
    extraction: ExtractionConfig
