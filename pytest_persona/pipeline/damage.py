"""Steering damage over a benign prompt set, cached: KL(steered || unsteered), teacher-forced.

The prompts and their reference continuations come from a JSONL file (``{"prompt",
"continuation"}`` per line; the project ships ``data/benign/everyday.jsonl``, written for it).
Per-prompt KL values are cached under ``<cache>/damage/<key>.json``, keyed by the model
identity, the vector's bytes, layer, positions, coefficient and the prompt set, and checked on
every read (a wrong length, a negative or non-finite value warns and is measured again).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_persona._util.deprecated import module_alias
from pytest_persona._util.textfile import read_bounded_text
from pytest_persona.cache.store import (
    PersonaCache,
    check_projection_entry,
    stable_hash,
)
from pytest_persona.core.arrays import Vector, float32_bytes
from pytest_persona.core.stats import bootstrap_ci
from pytest_persona.errors import LocatedError
from pytest_persona.models.loading import cache_identity

FOLDER = "damage"  # the cache folder of these records

if TYPE_CHECKING:
    KIND = FOLDER  # deprecated alias (at runtime the module __getattr__ below warns)
else:

    def __getattr__(name: str) -> Any:
        return module_alias(__name__, name, {"KIND": "FOLDER"})
MAX_BENIGN_BYTES = 4 << 20


@dataclass(frozen=True)
class BenignSet:
    """Benign prompts with their reference continuations."""

    prompts: list[str]
    continuations: list[str]
    source: str

    def head(self, n: int | None) -> BenignSet:
        if n is None:
            return self
        return BenignSet(self.prompts[:n], self.continuations[:n], self.source)


def default_benign_path() -> Path:
    return Path(str(resources.files("pytest_persona") / "data" / "benign" / "everyday.jsonl"))


def load_benign(path: str | Path | None = None) -> BenignSet:
    """Read a benign set; every bad line is a LocatedError naming file, line and field."""
    file = Path(path) if path is not None else default_benign_path()
    text = read_bounded_text(file, MAX_BENIGN_BYTES, "benign prompt set")
    prompts, conts = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise LocatedError(file, number, None, f"not a JSON object: {exc}") from exc
        if not isinstance(row, dict):
            raise LocatedError(file, number, None, "each line must be a JSON object with "
                               "'prompt' and 'continuation'")
        for name in ("prompt", "continuation"):
            value = row.get(name)
            if not isinstance(value, str) or not value.strip():
                raise LocatedError(file, number, name, "must be a non-empty string")
        extra = sorted(set(row) - {"prompt", "continuation"})
        if extra:
            raise LocatedError(file, number, extra[0], "unknown field; allowed: prompt, "
                               "continuation")
        prompts.append(row["prompt"])
        conts.append(row["continuation"])
    if not prompts:
        raise LocatedError(file, 1, None, "no prompts in the benign set")
    return BenignSet(prompts, conts, str(file))


@dataclass(frozen=True)
class DamageKey:
    """Key of cached per-prompt steering KL values."""

    model: str  # cache identity: weights fingerprint | dtype | device type
    vector: str  # sha256 of the vector's float32 bytes
    layer: int
    positions: str
    coeff: float
    prompts: list[str]
    continuations: list[str]
    measure: str = "kl_steered_unsteered_next_token_teacher_forced_mean_over_continuation"
    v: int = 1

    def digest(self) -> str:
        return stable_hash(asdict(self))


def check_damage_entry(data: Any, n: int) -> list[float]:
    """The ``n`` per-prompt KL values of a cache entry (finite, >= 0), or ValueError."""
    values = check_projection_entry(data, n)
    for i, v in enumerate(values):
        if v < 0:
            raise ValueError(f"field 'values[{i}]' is {v!r}, a KL divergence is >= 0")
    return values


def steering_kl(loaded: Any, vector: Vector, layer: int, positions: str, coeff: float,
                benign: BenignSet, cache: PersonaCache | None, batch_size: int = 8
                ) -> list[float]:
    """Per prompt: mean KL(steered || unsteered) in nats over the positions that predict its
    reference continuation (:func:`pytest_persona.core.damage.teacher_forced_kl`)."""
    key = DamageKey(cache_identity(loaded), stable_hash(float32_bytes(vector).hex(), 32),
                    int(layer), positions, float(coeff), list(benign.prompts),
                    list(benign.continuations)).digest()
    n = len(benign.prompts)
    if cache is not None:
        found = cache.load_checked(FOLDER, key, lambda d: check_damage_entry(d, n),
                                   "steering-damage")
        if found is not None:
            return found
    from pytest_persona.core.damage import teacher_forced_kl  # torch: misses only

    values = teacher_forced_kl(loaded.model, loaded.tokenizer, benign.prompts,
                               benign.continuations, vector, float(coeff), layer,
                               positions=positions, batch_size=batch_size)  # type: ignore[arg-type]
    # float rounding can give -1e-17 for identical distributions: a KL is never below 0
    values = [max(0.0, float(v)) for v in values]
    if cache is not None and all(math.isfinite(v) for v in values):
        cache.save_record(FOLDER, key, {"values": values})
    return values


@dataclass(frozen=True)
class DamageSummary:
    """Mean per-prompt KL with a percentile bootstrap interval over prompts."""

    coeff: float
    kl: float
    ci_low: float
    ci_high: float
    n: int
    dose: float | None = None

    def to_row(self) -> dict[str, Any]:
        return {"coeff": self.coeff, "dose": self.dose, "kl": self.kl,
                "ci": [self.ci_low, self.ci_high], "n": self.n}


def summarize_kl(coeff: float, values: Sequence[float], dose: float | None = None,
                 seed: int = 0) -> DamageSummary:
    """Mean and 95% bootstrap interval (2000 resamples of prompts, seeded)."""
    if not values:
        raise ValueError("no KL values to summarise")
    lo, hi = bootstrap_ci(list(values), seed=seed)
    return DamageSummary(float(coeff), sum(values) / len(values), lo, hi, len(values), dose)
