"""Noise-floor calibration and ``--persona-compare-fail auto`` (issue 12 item 3)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_persona.results.calibration import auto_rules, calibrate, expand_rules
from pytest_persona.results.compare import CompareUsageError, compare_results
from tests.results.test_compare import _noisy_pair, _pq_results


def _runs(offsets: list[float]) -> list[dict[str, Any]]:
    base = [20.0 + i for i in range(10)]
    return [_pq_results({"sycophantic": [b + o + (0.5 if i % 2 else -0.5) * k
                                         for i, b in enumerate(base)]})
            for k, o in enumerate(offsets)]


def test_calibrate_measures_null_shifts_and_takes_a_quantile():
    runs = _runs([0.0, 1.0, -2.0])
    cal = calibrate(runs, quantile=1.0, how={"perturb": 0.0})
    spec = cal["figures"]["sycophantic"]["baseline_score"]
    # every pair of runs: 1 - 0, -2 - 0, -2 - 1 (paired mean differences)
    assert spec["shifts"] == pytest.approx([1.0, -2.0, -3.0])
    assert spec["bound"] == pytest.approx(3.0) and spec["direction"] == "+"
    assert cal["runs"] == 3 and cal["perturb"] == 0.0 and "quantile" in cal["procedure"]
    assert calibrate(runs, quantile=0.5)["figures"]["sycophantic"]["baseline_score"][
        "bound"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="at least 2 runs"):
        calibrate(runs[:1])


def test_auto_rules_use_the_stored_bounds():
    base, cur = _noisy_pair(shift=12.0, noise=2.0)
    cal = calibrate(_runs([0.0, 1.0, -2.0]), quantile=1.0)
    cal["figures"]["sycophantic"] = {"baseline_score": cal["figures"]["sycophantic"][
        "baseline_score"]}
    base["calibration"] = cal
    [rule] = auto_rules(base)
    assert str(rule) == "sycophantic.baseline_score:+3" and rule.limit == pytest.approx(3.0)
    rules = expand_rules(["auto", "steered_score:+5"], base)
    assert [str(r) for r in rules] == ["sycophantic.baseline_score:+3", "steered_score:+5"]
    comp = compare_results(cur, base, expand_rules(["auto"], base))
    assert not comp.ok and "beyond +3 with confidence" in comp.regressions[0].message


def test_auto_without_calibration_is_a_usage_error():
    base, _ = _noisy_pair(shift=0.0, noise=1.0)
    with pytest.raises(CompareUsageError, match="needs a calibrated baseline.*persona calibrate"):
        expand_rules(["auto"], base, "b.json")
    base["calibration"] = {"figures": {"sycophantic": {"baseline_score": {"bound": "x"}}}}
    with pytest.raises(CompareUsageError, match="bound: expected a non-negative number"):
        auto_rules(base)
