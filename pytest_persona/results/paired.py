"""Per-question values and paired differences with a seeded bootstrap over questions.

A question id is a short hash of the question text, so two runs pair the same question even
when their question lists are ordered differently. Several samples of one question are averaged
into one value (the question is the unit of resampling, never the single answer).
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_persona._util.numbers import finite_or_none

RESAMPLES = 4000


def question_id(question: Any) -> str:
    """``q-`` and 12 hex digits of the sha256 of the question (text, or its messages as JSON)."""
    import json

    text = question if isinstance(question, str) else json.dumps(question, sort_keys=True,
                                                                 default=str)
    return "q-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


_finite = finite_or_none


def per_question_means(questions: Sequence[Any], values: Sequence[Any]) -> dict[str, float | None]:
    """``{question id: mean of its finite values}`` (``None`` where a question has none).

    A question listed several times (several samples) gets the mean of its samples.
    """
    sums: dict[str, list[float]] = {}
    for q, v in zip(questions, values):
        bucket = sums.setdefault(question_id(q), [])
        x = _finite(v)
        if x is not None:
            bucket.append(x)
    return {k: (sum(b) / len(b) if b else None) for k, b in sums.items()}


def question_texts(questions: Iterable[Any]) -> dict[str, str]:
    """``{question id: question text}`` for display (messages shown as their last user turn)."""
    out: dict[str, str] = {}
    for q in questions:
        text = q
        if isinstance(q, list) and q and isinstance(q[-1], Mapping):
            text = q[-1].get("content", q)
        out[question_id(q)] = str(text)
    return out


@dataclass(frozen=True)
class PairedDiff:
    """Paired differences ``new - old`` over the questions both sides have a value for."""

    ids: tuple[str, ...]
    diffs: tuple[float, ...]
    old_mean: float
    new_mean: float
    unpaired: int  # questions with a value on one side only

    @property
    def n(self) -> int:
        return len(self.diffs)

    @property
    def mean(self) -> float:
        return sum(self.diffs) / len(self.diffs) if self.diffs else math.nan

    def replicates(self, seed: int, resamples: int = RESAMPLES) -> np.ndarray:
        """Sorted bootstrap means of the differences (questions resampled with replacement)."""
        d = np.asarray(self.diffs, dtype=np.float64)
        if d.size < 2:
            return np.full(1, self.mean)
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, d.size, size=(resamples, d.size))
        return np.sort(d[idx].mean(axis=1))

    def interval(self, level: float, seed: int, resamples: int = RESAMPLES
                 ) -> tuple[float, float]:
        """Two-sided percentile bootstrap interval of the mean difference at ``level``."""
        reps = self.replicates(seed, resamples)
        if reps.size == 1:
            return (float(reps[0]), float(reps[0]))
        alpha = (1.0 - level) / 2.0
        lo = float(np.quantile(reps, alpha, method="lower"))
        hi = float(np.quantile(reps, 1.0 - alpha, method="higher"))
        return (lo, hi)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def pair(old: Mapping[str, Any], new: Mapping[str, Any]) -> PairedDiff:
    """Pair two ``{question id: value}`` maps; questions missing or null on a side are dropped."""
    ids, diffs, olds, news = [], [], [], []
    unpaired = 0
    for qid in sorted(set(old) | set(new)):
        a, b = _finite(old.get(qid)), _finite(new.get(qid))
        if a is None or b is None:
            unpaired += int(a is not None or b is not None)
            continue
        ids.append(qid)
        diffs.append(b - a)
        olds.append(a)
        news.append(b)
    return PairedDiff(tuple(ids), tuple(diffs), _mean(olds), _mean(news), unpaired)


def seed_for(*parts: str) -> int:
    """A stable seed from names (the same rule on the same trait always resamples alike)."""
    return zlib.crc32("\x1f".join(parts).encode("utf-8"))


def record_per_question(section: dict[str, Any], metric: str, questions: Sequence[Any],
                        values: Sequence[Any]) -> None:
    """Store per-question means of ``metric`` in a results trait section (schema 2 layout:
    ``per_question.questions`` id -> text, ``per_question.metrics.<metric>`` id -> value)."""
    pq = section.setdefault("per_question", {})
    pq.setdefault("questions", {}).update(question_texts(questions))
    pq.setdefault("metrics", {})[metric] = per_question_means(questions, values)
