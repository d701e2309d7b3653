"""Summaries of noisy judge scores: n, mean and a seeded 95% bootstrap interval.

With several samples per question the samples are not independent draws: the mean is taken
per question first, and the bootstrap resamples questions (clusters), not single answers.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    """n, mean and a percentile bootstrap interval of a sample (missing values dropped).

    ``n`` counts scored answers; ``n_questions`` the questions with at least one score;
    ``samples_per_question`` the samples asked per question (1: one answer per question).
    """

    n: int
    mean: float
    ci_low: float
    ci_high: float
    missing: int = 0
    n_questions: int | None = None
    samples_per_question: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        ci = f"95% CI {self.ci_low:.1f}-{self.ci_high:.1f}"
        if self.samples_per_question > 1:
            return (f"mean {self.mean:.1f} ({ci} resampling questions, n={self.n_questions} "
                    f"questions x {self.samples_per_question} samples = {self.n})")
        return f"mean {self.mean:.1f} ({ci}, n={self.n})"


def bootstrap_ci(
    values: Sequence[float], level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (deterministic for a given seed, so
    memoised: a run summarises the same scores for several expectations)."""
    return _bootstrap_ci(tuple(float(v) for v in values), level, resamples, seed)


@functools.lru_cache(maxsize=1024)
def _bootstrap_ci(values: tuple[float, ...], level: float, resamples: int, seed: int
                  ) -> tuple[float, float]:
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


def cluster_means(values: Sequence[float | None], clusters: Sequence[Hashable]
                  ) -> list[float]:
    """Mean of the non-missing values of each cluster, clusters in order of first appearance;
    a cluster with no value left is dropped."""
    if len(values) != len(clusters):
        raise ValueError(f"{len(values)} values but {len(clusters)} cluster labels")
    groups: dict[Hashable, list[float]] = {}
    for label, value in zip(clusters, values):
        bucket = groups.setdefault(label, [])
        if value is not None:
            bucket.append(float(value))
    return [sum(g) / len(g) for g in groups.values() if g]


def summarize(values: Sequence[float | None], seed: int = 0,
              clusters: Sequence[Hashable] | None = None) -> Summary:
    """Summary of a sample; ``None`` entries count as missing.

    ``clusters`` labels each value with its question: the mean is then the mean of question
    means and the interval resamples questions. Without it every value is its own question.
    """
    labels: Sequence[Hashable] = clusters if clusters is not None else range(len(values))
    kept = [float(v) for v in values if v is not None]
    missing = len(values) - len(kept)
    sizes: dict[Hashable, int] = {}
    for label in labels:
        sizes[label] = sizes.get(label, 0) + 1
    per_question = max(sizes.values(), default=1)
    means = cluster_means(values, labels)
    if not means:
        return Summary(0, math.nan, math.nan, math.nan, missing, 0, per_question)
    lo, hi = bootstrap_ci(means, seed=seed)
    return Summary(len(kept), sum(means) / len(means), lo, hi, missing, len(means),
                   per_question)
