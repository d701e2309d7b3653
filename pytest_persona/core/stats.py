"""Summaries of noisy judge scores: n, mean and a seeded 95% bootstrap interval."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    """n, mean and a percentile bootstrap interval of a sample (missing values dropped)."""

    n: int
    mean: float
    ci_low: float
    ci_high: float
    missing: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return f"mean {self.mean:.1f} (95% CI {self.ci_low:.1f}-{self.ci_high:.1f}, n={self.n})"


def bootstrap_ci(
    values: Sequence[float], level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (deterministic for a given seed)."""
    if not values:
        return (math.nan, math.nan)
    if len(values) == 1:
        return (float(values[0]), float(values[0]))
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    alpha = (1 - level) / 2
    lo = means[int(math.floor(alpha * (resamples - 1)))]
    hi = means[int(math.ceil((1 - alpha) * (resamples - 1)))]
    return (float(lo), float(hi))


def summarize(values: Sequence[float | None], seed: int = 0) -> Summary:
    """Summary of a sample; ``None`` entries count as missing."""
    kept = [float(v) for v in values if v is not None]
    missing = len(values) - len(kept)
    if not kept:
        return Summary(0, math.nan, math.nan, math.nan, missing)
    lo, hi = bootstrap_ci(kept, seed=seed)
    return Summary(len(kept), sum(kept) / len(kept), lo, hi, missing)
