"""Turning judge outputs into 0-100 scores."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

MIN_NUMERIC_MASS = 0.25


def _as_int_0_100(token: str) -> int | None:
    t = token.strip()
    if not t or not t.isascii() or not t.isdigit() or len(t) > 3:
        return None
    v = int(t)
    return v if 0 <= v <= 100 else None


def _bad_logprob(logprob: object) -> str | None:
    """Why ``logprob`` is not a log-probability, or None when it is one (``-inf`` included)."""
    if isinstance(logprob, bool) or not isinstance(logprob, (int, float)):
        return f"of type {type(logprob).__name__}"
    if math.isnan(logprob):
        return "NaN"
    if logprob > 0.0:
        return f"{logprob!r} > 0 (probability above 1)"
    return None


def aggregate_logprobs(
    top_logprobs: Iterable[tuple[str, float]], min_mass: float = MIN_NUMERIC_MASS
) -> tuple[float | None, str | None]:
    """Probability-weighted mean of the integer tokens 0..100 among ``top_logprobs``.

    ``top_logprobs`` holds (token, logprob) pairs. The weights of the numeric tokens are
    renormalised to sum to one. Returns ``(score, None)``, or ``(None, reason)`` when the
    numeric probability mass is under ``min_mass`` (the judge refused or answered in words).

    A logprob that is NaN, +inf or positive (a probability above one) on any token makes the
    whole answer malformed: ``(None, "malformed answer: ...")``, never a score. ``-inf`` is a
    probability of zero.
    """
    mass = 0.0
    total = 0.0
    for token, logprob in top_logprobs:
        bad = _bad_logprob(logprob)
        if bad is not None:
            return None, f"malformed answer: logprob {bad} for token {token[:20]!r}"
        v = _as_int_0_100(token)
        if v is None:
            continue
        p = math.exp(logprob)
        mass += p
        total += p * v
    if mass < min_mass:
        return None, f"refusal: numeric mass {mass:.2f} < {min_mass:.2f}"
    if mass <= 0.0:
        return None, "refusal: no numeric token among the top logprobs"
    return total / mass, None


def weighted_mean(probs: Iterable[float]) -> float:
    """Mean of 0..len-1 weighted by ``probs`` (renormalised)."""
    ps = list(probs)
    z = sum(ps)
    return sum(i * p for i, p in enumerate(ps)) / z


_INT = re.compile(r"(?<![\d.])(\d+)(?![\d])")


def parse_score_text(text: str) -> tuple[float | None, str | None]:
    """Parse the first integer 0..100 from a short judge answer.

    REFUSAL (any case) or no number gives ``(None, reason)``.
    """
    stripped = text.strip()
    if "REFUSAL" in stripped.upper():
        return None, "refusal: judge answered REFUSAL"
    m = _INT.search(stripped)
    if m is None:
        return None, f"no number in judge answer {stripped[:40]!r}"
    v = int(m.group(1))
    if not 0 <= v <= 100:
        return None, f"number out of range 0..100 in judge answer {stripped[:40]!r}"
    return float(v), None
