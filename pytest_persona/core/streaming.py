"""A mean with a bootstrap interval, computed in constant memory while values stream past.

The interval is a Poisson bootstrap (each value enters each of ``resamples`` replicates with
a Poisson(1) weight; Hanley & MacGibbon 2006, Chamandy et al. 2012): the streaming form of
the ordinary percentile bootstrap in :mod:`pytest_persona.core.stats`. Weights are drawn per
block from ``(seed, block index)``, so a resumed run that feeds the same blocks in the same
order gives the same interval, whatever was cached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000


@dataclass(frozen=True)
class StreamSummary:
    """n, mean, the 95% interval and how many values exceeded the threshold."""

    n: int
    mean: float
    ci_low: float
    ci_high: float
    above: int
    threshold: float | None

    @property
    def fraction_above(self) -> float:
        return self.above / self.n if self.n else math.nan


class StreamingMean:
    """Accumulates values block by block; memory is ``O(resamples)`` whatever the stream."""

    def __init__(self, threshold: float | None = None, resamples: int = RESAMPLES,
                 seed: int = 0, level: float = 0.95) -> None:
        self.threshold = threshold
        self.resamples = resamples
        self.seed = seed
        self.level = level
        self.n = 0
        self.total = 0.0
        self.above = 0
        self._sums = np.zeros(resamples)
        self._weights = np.zeros(resamples)

    def add_block(self, block: int, values: Sequence[float]) -> None:
        """Add the values of block number ``block`` (numbers must be unique per stream)."""
        if not len(values):
            return
        x = np.asarray(values, dtype=np.float64)
        rng = np.random.default_rng([self.seed, block])
        w = rng.poisson(1.0, size=(self.resamples, len(x)))
        self._sums += w @ x
        self._weights += w.sum(axis=1)
        self.n += len(x)
        self.total += float(x.sum())
        if self.threshold is not None:
            self.above += int((x > self.threshold).sum())

    def summary(self) -> StreamSummary:
        if self.n == 0:
            return StreamSummary(0, math.nan, math.nan, math.nan, 0, self.threshold)
        mean = self.total / self.n
        if self.n == 1:
            return StreamSummary(1, mean, mean, mean, self.above, self.threshold)
        kept = self._weights > 0
        means = self._sums[kept] / self._weights[kept]
        alpha = (1 - self.level) / 2
        lo, hi = np.quantile(means, [alpha, 1 - alpha])
        return StreamSummary(self.n, mean, float(lo), float(hi), self.above, self.threshold)
