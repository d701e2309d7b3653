from __future__ import annotations

import math
import random

import numpy as np
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


# -- against independent computations ----------------------------------------------------------
SAMPLE = [3.0, 97.0, 41.0, 12.0, 66.0, 58.0, 0.0, 25.0, 80.0, 33.0, 71.0, 9.0]


def _resample_means(values: list[float], resamples: int, seed: int) -> np.ndarray:
    """The bootstrap means of the documented procedure: seeded ``random.Random.choices``."""
    rng = random.Random(seed)
    n = len(values)
    return np.array([sum(rng.choices(values, k=n)) / n for _ in range(resamples)])


@pytest.mark.parametrize("seed, resamples", [(0, 2000), (3, 2000), (0, 501), (1, 41)])
def test_bootstrap_is_numpy_percentiles_of_the_same_resamples(seed: int, resamples: int) -> None:
    means = _resample_means(SAMPLE, resamples, seed)
    lo95 = float(np.percentile(means, 2.5, method="lower"))
    hi95 = float(np.percentile(means, 97.5, method="higher"))
    got = bootstrap_ci(SAMPLE, resamples=resamples, seed=seed)
    assert got == (lo95, hi95)
    if resamples == 2000:  # the defaults: 95%, 2000 resamples
        assert bootstrap_ci(SAMPLE, seed=seed) == got
    lo90 = float(np.percentile(means, 5.0, method="lower"))
    hi90 = float(np.percentile(means, 95.0, method="higher"))
    assert lo90 > lo95 and hi90 < hi95  # a 90% interval is visibly different
    assert got != (lo90, hi90)
    if resamples == 2000:  # 0.05 * 1999 is no integer: no float tie at the 90% index
        assert bootstrap_ci(SAMPLE, level=0.9, resamples=resamples, seed=seed) == (lo90, hi90)


def test_summarize_is_mean_and_default_bootstrap() -> None:
    values: list[float | None] = [*SAMPLE, None, None]
    s = summarize(values, seed=5)
    assert (s.n, s.missing) == (12, 2)
    assert s.mean == pytest.approx(float(np.mean(SAMPLE)))
    assert (s.ci_low, s.ci_high) == bootstrap_ci(SAMPLE, seed=5) != bootstrap_ci(SAMPLE, seed=6)
    assert summarize(values).ci_low == bootstrap_ci(SAMPLE)[0]
    assert s.to_dict() == {"n": 12, "mean": s.mean, "ci_low": s.ci_low, "ci_high": s.ci_high,
                           "missing": 2, "n_questions": 12, "samples_per_question": 1}
    assert s.describe() == (f"mean {s.mean:.1f} (95% CI {s.ci_low:.1f}-{s.ci_high:.1f}, "
                            "n=12)")
    none = summarize([None, None])
    assert none.n == 0 and none.missing == 2 and math.isnan(none.ci_low) and math.isnan(
        none.ci_high)


def test_bootstrap_width_matches_normal_theory_at_95_percent() -> None:
    """Independent of the resampling procedure: for n=400 the percentile interval is about
    mean +- 1.96 sd/sqrt(n) (a 90% interval would be 16% narrower)."""
    rng = np.random.default_rng(1)
    values = rng.normal(50.0, 10.0, 400).tolist()
    lo, hi = bootstrap_ci(values)
    se = float(np.std(values)) / math.sqrt(len(values))
    assert (hi - lo) / (2 * 1.96 * se) == pytest.approx(1.0, abs=0.07)
    assert (lo + hi) / 2 == pytest.approx(float(np.mean(values)), abs=0.2 * se)


def test_two_values_and_resample_count() -> None:
    lo, hi = bootstrap_ci([0.0, 10.0], resamples=4000)
    assert lo == 0.0 and hi == 10.0  # both extreme resamples occur often (1/4 each)
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
