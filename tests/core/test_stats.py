from __future__ import annotations

import math

import pytest

from pytest_persona.core.stats import bootstrap_ci, summarize


def test_summary_of_known_sample() -> None:
    s = summarize([10.0, 20.0, 30.0, None])
    assert s.n == 3 and s.missing == 1 and s.mean == pytest.approx(20.0)
    assert 10.0 <= s.ci_low < 20.0 < s.ci_high <= 30.0
    assert "n=3" in s.describe()


def test_bootstrap_is_deterministic_and_narrows_with_n() -> None:
    small = bootstrap_ci([0.0, 100.0] * 5)
    large = bootstrap_ci([0.0, 100.0] * 200)
    assert small == bootstrap_ci([0.0, 100.0] * 5)
    assert (large[1] - large[0]) < (small[1] - small[0])
    assert large[0] < 50 < large[1]


def test_degenerate_samples() -> None:
    assert summarize([]).n == 0 and math.isnan(summarize([]).mean)
    assert bootstrap_ci([7.0]) == (7.0, 7.0)
