"""Judge aggregation: minimum numeric mass, renormalisation, which tokens count."""

from __future__ import annotations

import math

import pytest

from pytest_persona.judges.aggregate import (
    MIN_NUMERIC_MASS,
    aggregate_logprobs,
    parse_score_text,
    weighted_mean,
)


def _lp(**probs: float) -> list[tuple[str, float]]:
    return [(k.lstrip("_"), math.log(p)) for k, p in probs.items()]


def _mass_of(lp: list[tuple[str, float]]) -> float:
    """The numeric mass the way the aggregation adds it up (same float order)."""
    return sum(math.exp(lp_) for _, lp_ in lp)


def test_min_mass_boundary_is_inclusive() -> None:
    lp = [("40", math.log(0.1)), ("60", math.log(0.2)), ("no", math.log(0.7))]
    mass = _mass_of(lp[:2])
    score, reason = aggregate_logprobs(lp, min_mass=mass)
    assert reason is None and score == pytest.approx((40 * 0.1 + 60 * 0.2) / 0.3)
    assert aggregate_logprobs(lp, min_mass=math.nextafter(mass, 1.0))[0] is None
    assert aggregate_logprobs(lp, min_mass=mass - 1e-9)[0] == pytest.approx(score)


@pytest.mark.parametrize("min_mass, expect_score", [(0.05, True), (0.2, True), (0.21, False),
                                                    (0.5, False)])
def test_min_mass_argument_is_honoured(min_mass: float, expect_score: bool) -> None:
    lp = [("30", math.log(0.2)), ("Sorry", math.log(0.8))]
    score, reason = aggregate_logprobs(lp, min_mass=min_mass)
    assert (score is not None) is expect_score
    if expect_score:
        assert score == pytest.approx(30.0) and reason is None
    else:
        assert reason == f"refusal: numeric mass 0.20 < {min_mass:.2f}"


def test_default_min_mass() -> None:
    assert MIN_NUMERIC_MASS == 0.25
    just_under = [("50", math.log(0.2499)), ("x", math.log(0.7501))]
    just_over = [("50", math.log(0.2501)), ("x", math.log(0.7499))]
    assert aggregate_logprobs(just_under)[0] is None
    score, reason = aggregate_logprobs(just_over)
    assert score == pytest.approx(50.0) and reason is None


def test_renormalisation() -> None:
    # numeric mass 0.4 renormalised to 1: the mean of 10 and 30, not 0.2*10 + 0.2*30 = 8
    lp = [("10", math.log(0.2)), ("30", math.log(0.2)), ("The", math.log(0.6))]
    assert aggregate_logprobs(lp, min_mass=0.1)[0] == pytest.approx(20.0)
    lp = [("0", math.log(0.75)), ("100", math.log(0.25))]
    assert aggregate_logprobs(lp)[0] == pytest.approx(25.0)
    assert weighted_mean([1.0, 1.0, 2.0]) == pytest.approx((0 + 1 + 4) / 4)
    assert weighted_mean([0.0, 0.0, 0.5]) == pytest.approx(2.0)


@pytest.mark.parametrize("token", ["5.5", "abc", "", " ", "-5", "+5", "1e2", "101", "250",
                                   "0100", "٣", "５", "7a", "½"])
def test_non_integer_and_out_of_range_tokens_ignored(token: str) -> None:
    lp = [("80", math.log(0.5)), (token, math.log(0.4)), ("x", math.log(0.1))]
    score, reason = aggregate_logprobs(lp)
    assert reason is None and score == pytest.approx(80.0), token


@pytest.mark.parametrize("token, value", [("0", 0), ("100", 100), (" 7", 7), ("42\n", 42),
                                          ("007", 7)])
def test_integer_tokens_counted(token: str, value: int) -> None:
    lp = [("80", math.log(0.5)), (token, math.log(0.5))]
    assert aggregate_logprobs(lp)[0] == pytest.approx((80 + value) / 2), token


def test_no_numeric_tokens() -> None:
    score, reason = aggregate_logprobs([("I", math.log(0.9))])
    assert score is None and reason == "refusal: numeric mass 0.00 < 0.25"


def test_zero_min_mass_without_numbers_is_missing() -> None:
    assert aggregate_logprobs([("I", math.log(0.9))], min_mass=0.0) == (
        None, "refusal: no numeric token among the top logprobs")


def test_parse_score_text_boundaries() -> None:
    assert parse_score_text("100") == (100.0, None)
    assert parse_score_text("0") == (0.0, None)
    assert parse_score_text("101")[0] is None
    assert parse_score_text("Score: 42 out of 100") == (42.0, None)
    assert parse_score_text("refusal")[1] == "refusal: judge answered REFUSAL"
    assert parse_score_text("nothing")[1] == "no number in judge answer 'nothing'"
    assert parse_score_text("-3")[0] == 3.0  # the sign is not part of the number token


def test_parse_score_text_quotes_forty_characters() -> None:
    assert parse_score_text("x" * 50)[1] == f"no number in judge answer {'x' * 40!r}"
    text = "500 " + "y" * 50
    assert parse_score_text(text)[1] == ("number out of range 0..100 in judge answer "
                                         f"{text[:40]!r}")
