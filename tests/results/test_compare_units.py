"""report/compare.py at its edges: rule parsing, point and paired decisions at the bound, the
multiple-testing corrections, and the exact messages and dictionaries a gate shows.

Results are built by hand (a trait: ``metrics``, optional ``per_question`` values, ``vector``),
so every figure a check reports is known in advance. A paired difference that is the same on
every question has a bootstrap interval of exactly that value, which puts decisions exactly on
their bounds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from pytest_persona.results import compare as cmp
from pytest_persona.results.compare import (
    Check,
    CompareUsageError,
    Comparison,
    Rule,
    compare_results,
    parse_rule,
)
from pytest_persona.results.paired import RESAMPLES, PairedDiff, pair, seed_for


def _trait(metrics: dict[str, Any] | None = None,
           pq: dict[str, dict[str, Any]] | None = None, vector: Any = None) -> dict[str, Any]:
    t: dict[str, Any] = {"metrics": dict(metrics or {})}
    if pq is not None:
        t["per_question"] = {"questions": {}, "metrics": pq}
    if vector is not None:
        t["vector"] = vector
    return t


def _res(traits: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"schema_version": 2, "traits": traits, **top}


def _pq(values: list[float], metric: str = "baseline_score") -> dict[str, Any]:
    """A trait whose metric is the mean of per-question ``values`` (ids q0, q1, ...)."""
    return _trait({metric: sum(values) / len(values)},
                  {metric: {f"q{i}": v for i, v in enumerate(values)}})


# -- parse_rule and Rule ---------------------------------------------------------------------

@pytest.mark.parametrize("alias, metric", sorted(cmp.METRIC_ALIASES.items()))
def test_every_alias_resolves(alias: str, metric: str) -> None:
    assert parse_rule(f"{alias}:+1").metric == metric


def test_parse_rule_forms() -> None:
    r = parse_rule(" evil.score : - .5 % @ mean ")
    assert (r.metric, r.direction, r.limit, r.relative, r.trait, r.point) == (
        "baseline_score", -1, 0.5, True, "evil", True)
    assert r.text == "evil.score : - .5 % @ mean"
    plain = parse_rule("baseline_score:+5.")
    assert (plain.direction, plain.limit, plain.relative, plain.trait, plain.point) == (
        1, 5.0, False, None, False)
    assert parse_rule(plain) is plain


def test_parse_rule_refuses_non_strings_and_infinite_limits() -> None:
    with pytest.raises(ValueError, match=r"^bad comparison rule 5: expected a string; accepted "
                                         r"forms: METRIC:\+X"):
        parse_rule(5)  # type: ignore[arg-type]
    huge = "9" * 400  # parses as a float overflow: inf
    with pytest.raises(ValueError, match=r"^bad comparison rule 'baseline_score:\+9+': limit "
                                         r"must be finite$"):
        parse_rule(f"baseline_score:+{huge}")
    with pytest.raises(ValueError, match=r"^bad comparison rule 'x'; accepted forms: "):
        parse_rule("x")


def test_rule_text_is_rebuilt_when_not_given() -> None:
    assert str(Rule("baseline_score", 1, 5.0)) == "baseline_score:+5"
    assert str(Rule("steered_score", -1, 20.0, relative=True, trait="evil", point=True)) == \
        "evil.steered_score:-20%@mean"
    assert str(Rule("m", 1, 2.5, text="given")) == "given"
    assert Rule("m", -1, 0.25, relative=True).bound_text() == "-0.25%"


def test_allowed_is_a_share_of_the_absolute_baseline_when_relative() -> None:
    assert Rule("m", 1, 10.0, relative=True).allowed(-50.0) == 5.0
    assert Rule("m", 1, 10.0, relative=True).allowed(50.0) == 5.0
    assert Rule("m", 1, 10.0).allowed(-50.0) == 10.0


@pytest.mark.parametrize("direction, old, new, violated", [
    (1, 10.0, 15.0, False),              # a rise of exactly the limit is allowed
    (1, 10.0, 15.0 + 1e-9, True),
    (1, 10.0, 15.5, True),
    (1, 10.0, -100.0, False),            # a drop never trips a rise rule
    (-1, 10.0, 5.0, False),
    (-1, 10.0, 5.0 - 1e-9, True),
    (-1, 10.0, 100.0, False),
])
def test_point_violation_at_the_bound(direction: int, old: float, new: float,
                                      violated: bool) -> None:
    assert Rule("m", direction, 5.0).violated(old, new) is violated


def test_point_violation_tolerates_rounding_only() -> None:
    rule = Rule("m", 1, 0.3)
    assert not rule.violated(0.0, 0.1 + 0.2)  # 0.30000000000000004
    assert rule.violated(0.0, 0.3 + 1e-11)


def test_relative_rule_on_a_zero_baseline_allows_no_move() -> None:
    rule = Rule("m", 1, 50.0, relative=True)
    assert rule.violated(0.0, 1e-9) and not rule.violated(0.0, 0.0)
    assert not rule.violated(0.0, -3.0)
    assert not rule.violated(2.0, 3.0) and rule.violated(2.0, 3.0 + 1e-9)


# -- formatting ------------------------------------------------------------------------------

@pytest.mark.parametrize("x, text", [
    (True, "True"), (None, "None"), (7, "7"), (12.0, "12.0"), (0.1234, "0.123"),
    (1.5, "1.5"), (-2.25, "-2.25"), (math.inf, "inf"), (math.nan, "nan"),
    (2e6, "2000000"), (-1e6, "-1000000"), (999999.0, "999999.0"), (1e6 + 0.5, "1000000.5"),
    ("txt", "txt"),
])
def test_fmt(x: Any, text: str) -> None:
    assert cmp._fmt(x) == text


def test_signed_and_pct() -> None:
    assert cmp._signed(-1.5) == "-1.5" and cmp._signed(2.0) == "+2.0"
    assert cmp._signed(0.0) == "+0.0"
    assert [cmp._pct(v) for v in (0.95, 0.975, 0.99, 0.9999, 1.0, 0.5)] == [
        "95%", "97.5%", "99%", "99.99%", "100%", "50%"]


# -- Check and Comparison --------------------------------------------------------------------

def test_missing_check_message_and_dict() -> None:
    rule = parse_rule("score:+5")
    c = Check("evil", "baseline_score", rule, "missing", None, 3.0, failed=True,
              reason="missing in the baseline")
    assert c.message == ("evil: baseline_score missing in the baseline: rule score:+5 fails "
                         "closed")
    assert c.verdict == "fail"
    assert c.to_dict() == {
        "trait": "evil", "metric": "baseline_score", "rule": "score:+5", "mode": "missing",
        "old": None, "new": 3.0, "delta": None, "n": 0, "ci": None, "level": None,
        "allowed": None, "verdict": "fail", "message": c.message, "p_value": None,
        "unpaired": 0, "correction": "none", "m": 1, "per_question": None}


def test_point_check_messages() -> None:
    rule = parse_rule("steered_score:-10%")
    c = Check("evil", "steered_score", rule, "point", 80.0, 70.0, delta=-10.0, allowed=8.0,
              failed=True, reason="no per-question values in the baseline")
    assert c.message == ("evil: steered_score fell from 80.0 to 70.0 (-10.0), beyond rule "
                         "steered_score:-10% (point comparison of means; no per-question "
                         "values in the baseline)")
    same = Check("evil", "m", parse_rule("m:+1@mean"), "point", 2.0, 2.0, delta=0.0,
                 allowed=1.0)
    assert same.message == ("evil: m did not move from 2.0 to 2.0 (+0.0), within rule "
                            "m:+1@mean (point comparison of means)")
    assert same.verdict == "pass"


def _paired(**kw: Any) -> Check:
    base: dict[str, Any] = dict(trait="syc", metric="baseline_score",
                                rule=parse_rule("score:+5%"), mode="paired", old=40.0,
                                new=43.0, delta=3.0, n=3, ci=(1.0, 5.5), level=0.975,
                                allowed=2.0, failed=False, question_ids=("a", "b", "c"),
                                diffs=(1.0, 3.0, 5.0))
    base.update(kw)
    return Check(**base)


def test_paired_check_messages() -> None:
    c = _paired()
    assert c.message == ("syc: baseline_score rose 3.0 (paired mean difference +3.0, 97.5% CI "
                         "1.0 to 5.5, n=3 questions): not beyond +5% (= 2.0 of the baseline "
                         "40.0) with confidence")
    holm = _paired(correction="holm", m=2, failed=True, delta=-3.0)
    assert holm.message == ("syc: baseline_score fell 3.0 (paired mean difference -3.0, 97.5% "
                            "CI 1.0 to 5.5, n=3 questions, Holm over 2 checks): beyond +5% "
                            "(= 2.0 of the baseline 40.0) with confidence")
    alone = _paired(correction="holm", m=1, rule=parse_rule("score:+5"))
    assert alone.message.endswith("n=3 questions): not beyond +5 with confidence")


def test_paired_check_dict() -> None:
    c = _paired(p_value=0.25, unpaired=1, correction="bonferroni", m=3,
                diffs=(1.0, 1.0 / 3.0, 5.0))
    d = c.to_dict()
    assert d["ci"] == [1.0, 5.5] and d["level"] == 0.975 and d["allowed"] == 2.0
    assert d["per_question"] == {"ids": ["a", "b", "c"], "diffs": [1.0, 0.333333, 5.0]}
    assert (d["p_value"], d["unpaired"], d["correction"], d["m"]) == (0.25, 1, "bonferroni", 3)
    assert (d["verdict"], d["delta"], d["n"], d["old"], d["new"]) == ("pass", 3.0, 3, 40.0, 43.0)
    assert d["rule"] == "score:+5%" and d["message"] == c.message


def test_comparison_regressions_flagged_and_dict() -> None:
    ok = _paired(trait="a")
    bad = _paired(trait="b", failed=True)
    other = _paired(trait="b", metric="steered_score", failed=True)
    comp = Comparison(checks=[ok, bad, other], notes=["n1"], rules=[parse_rule("score:+5%")],
                      baseline_path="b.json", correction="none", level=0.9)
    assert comp.regressions == [bad, other] and not comp.ok
    assert comp.flagged("b", "baseline_score") is bad
    assert comp.flagged("b", "steered_score") is other
    assert comp.flagged("a", "baseline_score") is None
    assert comp.flagged("c", "baseline_score") is None
    d = comp.to_dict()
    assert d == {"baseline_path": "b.json", "rules": ["score:+5%"], "correction": "none",
                 "level": 0.9, "checks": [c.to_dict() for c in (ok, bad, other)],
                 "regressions": [bad.to_dict(), other.to_dict()], "deltas": {},
                 "notes": ["n1"], "compared": []}
    assert Comparison().ok and Comparison().to_dict()["correction"] == "holm"
    assert Comparison().level == 0.95


# -- reading results -------------------------------------------------------------------------

def test_metric_value_and_trait_metrics() -> None:
    t = {"metrics": {"a": 1.0, "flag": True, "bad": math.nan, "txt": "x", "i": 3},
         "vector": {"effective_pairs": 12}}
    assert cmp.trait_metrics(t) == {"a": 1.0, "i": 3, "effective_pairs": 12}
    assert cmp._metric_value(t, "a") == 1.0 and cmp._metric_value(t, "txt") == "x"
    assert cmp._metric_value(t, "effective_pairs") == 12
    assert cmp._metric_value(t, "missing") is None
    own = {"metrics": {"effective_pairs": 5}, "vector": {"effective_pairs": 12}}
    assert cmp.trait_metrics(own) == {"effective_pairs": 5}
    assert cmp._metric_value(own, "effective_pairs") == 5
    odd = {"metrics": [1, 2], "vector": [3]}
    assert cmp.trait_metrics(odd) == {} and cmp._metric_value(odd, "a") is None
    no_vec = {"metrics": {}, "vector": ["x"]}
    assert cmp._metric_value(no_vec, "effective_pairs") is None
    assert cmp.trait_metrics({"vector": {"effective_pairs": math.inf}}) == {}
    assert cmp.trait_metrics({"metrics": None, "vector": None}) == {}


def test_per_question_lookup() -> None:
    assert cmp.per_question({"per_question": [1]}, "m") is None
    assert cmp.per_question({"per_question": {"metrics": [1]}}, "m") is None
    assert cmp.per_question({"per_question": {"metrics": {"m": {}}}}, "m") is None
    assert cmp.per_question({"per_question": {"metrics": {"m": [1.0]}}}, "m") is None
    assert cmp.per_question({"per_question": {"metrics": {"m": {"q": 1.0}}}}, "m") == {"q": 1.0}
    assert cmp.per_question({}, "m") is None


# -- check_rules: usage errors ---------------------------------------------------------------

def test_check_rules_messages() -> None:
    base = {"evil": _trait({"baseline_score": 1.0, "own_metric": 2.0})}
    cmp.check_rules([], {}, {}, None)  # no rules: nothing to evaluate, even without traits
    with pytest.raises(CompareUsageError, match=r"^baseline the baseline has no traits: rule"
                                                r"\(s\) score:\+5, m:-1 cannot be evaluated; "
                                                r"regenerate the baseline with --persona-save "
                                                r"on a run of the suites$"):
        cmp.check_rules([parse_rule("score:+5"), parse_rule("m:-1")], base, {}, None)
    with pytest.raises(CompareUsageError, match=r"^baseline b\.json has no traits"):
        cmp.check_rules([parse_rule("score:+5")], base, {}, "b.json")
    cur = {"kind": _trait({"cur_metric": 1.0})}
    with pytest.raises(CompareUsageError) as e:
        cmp.check_rules([parse_rule("nope:+1")], cur, base, None)
    known = sorted(set(cmp.KNOWN_METRICS) | {"own_metric", "cur_metric"})
    aliases = ", ".join(f"{k}={v}" for k, v in cmp.METRIC_ALIASES.items())
    assert str(e.value) == (f"rule nope:+1: unknown metric 'nope'; known metrics: "
                            f"{', '.join(known)} (aliases: {aliases})")
    with pytest.raises(CompareUsageError, match=r"^rule x\.score:\+1: unknown trait 'x'; traits "
                                                r"in the baseline or this run: evil, kind$"):
        cmp.check_rules([parse_rule("x.score:+1")], cur, base, None)
    cmp.check_rules([parse_rule("kind.cur_metric:+1")], cur, base, None)  # known: no error


def test_check_rules_non_numeric_only_when_no_side_has_a_number() -> None:
    text = {"a": _trait({"m": "high"}), "b": _trait({"m": None})}
    with pytest.raises(CompareUsageError, match=r"^rule m:\+1: metric 'm' is not a number "
                                                r"\(got str\); rules apply to numeric metrics "
                                                r"only$"):
        cmp.check_rules([parse_rule("m:+1")], text, text, None)
    mixed = {"a": _trait({"m": "high"}), "b": _trait({"m": 2.0})}
    cmp.check_rules([parse_rule("m:+1")], mixed, mixed, None)
    absent = {"a": _trait({"other": 1.0}), "b": "not a trait"}
    cmp.check_rules([parse_rule("other:+1")], absent, absent, None)
    # scoped: only that trait's values count
    with pytest.raises(CompareUsageError, match="is not a number"):
        cmp.check_rules([parse_rule("a.m:+1")], mixed, mixed, None)


# -- paired decisions ------------------------------------------------------------------------

def _const_diff(value: float, n: int = 4, old: float = 10.0) -> PairedDiff:
    ids = tuple(f"q{i}" for i in range(n))
    return PairedDiff(ids, (value,) * n, old, old + value, 0)


def test_p_value_of_a_constant_difference() -> None:
    rise, drop = Rule("m", 1, 5.0), Rule("m", -1, 5.0)
    d = _const_diff(10.0)
    assert cmp._p_value(d, rise, 5.0, 1) == pytest.approx(1 / (RESAMPLES + 1))
    assert cmp._p_value(d, rise, 10.0, 1) == 1.0  # a replicate equal to allowed counts
    assert cmp._p_value(d, drop, 5.0, 1) == 1.0
    assert cmp._p_value(_const_diff(-10.0), drop, 5.0, 1) == pytest.approx(1 / (RESAMPLES + 1))


def test_p_value_counts_replicates_at_or_below_allowed() -> None:
    d = pair({f"q{i}": 0.0 for i in range(6)}, {f"q{i}": float(i) for i in range(6)})
    reps = d.replicates(7)
    allowed = float(np.median(reps))
    want = (int((reps <= allowed).sum()) + 1) / (reps.size + 1)
    assert cmp._p_value(d, Rule("m", 1, 1.0), allowed, 7) == pytest.approx(want)
    assert 0.4 < want < 0.6


def _check(rule: Rule, allowed: float) -> Check:
    return Check("t", rule.metric, rule, "paired", 0.0, 0.0, delta=0.0, allowed=allowed)


@pytest.mark.parametrize("value, direction, allowed, failed", [
    (10.0, 1, 10.0, False),              # interval exactly on the bound: not beyond it
    (10.0, 1, 10.0 - 1e-9, True),
    (10.0, -1, 0.0, False),              # a rise never trips a drop rule
    (-10.0, -1, 10.0, False),
    (-10.0, -1, 10.0 - 1e-9, True),
    (-10.0, 1, 0.0, False),
])
def test_decide_paired_at_the_bound(value: float, direction: int, allowed: float,
                                    failed: bool) -> None:
    check = _check(Rule("m", direction, 1.0), allowed)
    cmp._decide_paired(check, _const_diff(value), 0.9, 3)
    assert check.failed is failed
    assert check.ci == (value, value) and check.level == 0.9


def test_decide_paired_uses_the_near_end_of_the_interval() -> None:
    d = pair({f"q{i}": 0.0 for i in range(8)}, {f"q{i}": float(i) for i in range(8)})
    lo, hi = d.interval(0.95, 5)
    assert lo < hi
    rise = _check(Rule("m", 1, 1.0), (lo + hi) / 2)
    cmp._decide_paired(rise, d, 0.95, 5)
    assert not rise.failed and rise.ci == (lo, hi)
    low = _check(Rule("m", 1, 1.0), lo - 1e-6)
    cmp._decide_paired(low, d, 0.95, 5)
    assert low.failed
    neg = pair({f"q{i}": float(i) for i in range(8)}, {f"q{i}": 0.0 for i in range(8)})
    nlo, nhi = neg.interval(0.95, 5)
    drop = _check(Rule("m", -1, 1.0), -nhi - 1e-6)
    cmp._decide_paired(drop, neg, 0.95, 5)
    assert drop.failed
    held = _check(Rule("m", -1, 1.0), -nhi)
    cmp._decide_paired(held, neg, 0.95, 5)
    assert not held.failed


def test_relative_paired_rule_on_a_zero_baseline_fails_on_any_sure_rise() -> None:
    rule = Rule("m", 1, 50.0, relative=True)
    rise = _check(rule, 0.0)
    cmp._decide_paired(rise, _const_diff(1e-9, old=0.0), 0.95, 1)
    assert rise.failed
    flat = _check(rule, 0.0)
    cmp._decide_paired(flat, _const_diff(0.0, old=0.0), 0.95, 1)
    assert not flat.failed


def _entries(values: dict[str, float], correction: str, level: float = 0.95
             ) -> list[tuple[Check, PairedDiff, int]]:
    out = []
    for name, v in values.items():
        check = _check(Rule("m", 1, 1.0, trait=name), 1.0)
        check.trait = name
        diff = _const_diff(v)
        check.p_value = cmp._p_value(diff, check.rule, 1.0, 0)
        out.append((check, diff, 0))
    cmp._apply_correction(out, correction, level)
    return out


def test_correction_none_and_single_check_use_the_plain_level() -> None:
    for correction, values in (("none", {"a": 2.0, "b": 0.5}), ("holm", {"a": 2.0}),
                               ("bonferroni", {"a": 2.0})):
        out = _entries(values, correction)
        assert [c.level for c, _, _ in out] == [0.95] * len(values)
        assert [c.failed for c, _, _ in out] == [v > 1.0 for v in values.values()]
        assert {(c.correction, c.m) for c, _, _ in out} == {(correction, len(values))}


def test_bonferroni_divides_alpha_by_the_number_of_checks() -> None:
    out = _entries({"a": 2.0, "b": 0.5, "c": 3.0, "d": 0.0}, "bonferroni", level=0.9)
    assert [c.level for c, _, _ in out] == pytest.approx([1 - 0.1 / 4] * 4)
    assert [c.failed for c, _, _ in out] == [True, False, True, False]
    assert {c.m for c, _, _ in out} == {4}


def test_holm_steps_down_and_stops_at_the_first_check_that_holds() -> None:
    # p-values: a and c fail surely (smallest p), b and d hold (p = 1)
    out = _entries({"a": 2.0, "b": 0.5, "c": 3.0, "d": 0.0}, "holm", level=0.9)
    by = {c.trait: c for c, _, _ in out}
    # ties in p are ordered by trait name: a (rank 0), c (rank 1), then b (rank 2) holds
    assert by["a"].level == pytest.approx(1 - 0.1 / 4) and by["a"].failed
    assert by["c"].level == pytest.approx(1 - 0.1 / 3) and by["c"].failed
    assert by["b"].level == pytest.approx(1 - 0.1 / 2) and not by["b"].failed
    assert by["d"].level == pytest.approx(1 - 0.1 / 2) and not by["d"].failed
    assert {c.correction for c in by.values()} == {"holm"}


def _holm_pair(specs: tuple[tuple[str, float, float], ...]) -> tuple[Any, Any]:
    """Two checks of rule ``m:+1`` (trait, constant difference, p value) after Holm at 95%."""
    entries = []
    for name, v, p in specs:
        check = _check(Rule("m", 1, 1.0), 1.0)
        check.trait, check.p_value = name, p
        entries.append((check, _const_diff(v), 0))
    cmp._apply_correction(entries, "holm", 0.95)
    return entries[0][0], entries[1][0]


def test_holm_after_a_hold_passes_even_a_check_beyond_its_bound() -> None:
    a, b = _holm_pair((("a", 0.5, 0.01), ("b", 3.0, 0.5)))
    assert not a.failed and a.level == pytest.approx(0.975)
    assert b.failed is False and b.level == pytest.approx(0.975)  # Holm stopped at a
    assert b.ci == (3.0, 3.0)


def test_holm_orders_by_p_value_before_names() -> None:
    a, b = _holm_pair((("a", 3.0, 0.5), ("b", 3.0, 0.01)))
    assert b.level == pytest.approx(0.975) and a.level == pytest.approx(0.95)


def test_holm_treats_a_missing_p_value_as_one() -> None:
    entries = []
    for name, v, p in (("a", 3.0, None), ("b", 3.0, 1.0)):
        check = _check(Rule("m", 1, 1.0), 1.0)
        check.trait, check.p_value = name, p
        entries.append((check, _const_diff(v), 0))
    cmp._apply_correction(entries, "holm", 0.95)
    # as p = 1 the missing one ties with b and goes first by name
    assert entries[0][0].level == pytest.approx(0.975)
    assert entries[1][0].level == pytest.approx(0.95)


# -- compare_results end to end on hand-built results ----------------------------------------

def test_paired_check_figures() -> None:
    base = _res({"syc": _pq([10.0, 20.0, 30.0, 40.0])})
    cur = _res({"syc": _pq([12.0, 22.0, 32.0, 42.0])})
    comp = compare_results(cur, base, ["score:+1"], correction="none")
    [c] = comp.checks
    assert (c.mode, c.n, c.old, c.new, c.delta, c.allowed) == (
        "paired", 4, 25.0, 27.0, 2.0, 1.0)
    assert c.ci == (2.0, 2.0) and c.failed and c.unpaired == 0
    assert c.question_ids == ("q0", "q1", "q2", "q3") and c.diffs == (2.0,) * 4
    assert c.p_value == pytest.approx(1 / (RESAMPLES + 1))
    assert not compare_results(cur, base, ["score:+2"], correction="none").checks[0].failed
    rel = compare_results(cur, base, ["score:+8%"], correction="none").checks[0]
    assert rel.allowed == pytest.approx(2.0) and not rel.failed  # 8% of 25
    assert compare_results(cur, base, ["score:+7.9%"], correction="none").checks[0].failed


def test_paired_seed_is_per_trait_and_rule() -> None:
    rule = parse_rule("score:+1")
    assert cmp._paired_seed("syc", rule) == seed_for("syc", "baseline_score", "score:+1")
    vals = [float(v) for v in (3, 9, 1, 7, 4, 8, 2, 6)]
    base = _res({"syc": _pq([0.0] * 8)})
    cur = _res({"syc": _pq(vals)})
    [c] = compare_results(cur, base, ["score:+1"], correction="none").checks
    d = pair(base["traits"]["syc"]["per_question"]["metrics"]["baseline_score"],
             cur["traits"]["syc"]["per_question"]["metrics"]["baseline_score"])
    seed = seed_for("syc", "baseline_score", "score:+1")
    assert c.ci == d.interval(0.95, seed)
    assert c.p_value == cmp._p_value(d, rule, 1.0, seed)


def test_unpaired_questions_are_left_out_with_a_note() -> None:
    base = _res({"syc": _trait({"baseline_score": 1.0},
                               {"baseline_score": {"a": 1.0, "b": 1.0, "only_old": 5.0}})})
    cur = _res({"syc": _trait({"baseline_score": 2.0},
                              {"baseline_score": {"a": 2.0, "b": 2.0, "only_new": 9.0}})})
    comp = compare_results(cur, base, ["score:+5"])
    [c] = comp.checks
    assert c.unpaired == 2 and c.n == 2 and c.delta == 1.0
    assert comp.notes == ["syc: baseline_score: 2 question(s) have a value on one side only "
                          "and are left out of the paired difference"]


def test_no_common_question_fails_closed() -> None:
    base = _res({"syc": _trait({"baseline_score": 1.0}, {"baseline_score": {"a": 1.0}})})
    cur = _res({"syc": _trait({"baseline_score": 2}, {"baseline_score": {"b": 2.0}})})
    [c] = compare_results(cur, base, ["score:+5"]).checks
    assert (c.mode, c.failed, c.old, c.new) == ("missing", True, 1.0, 2.0)
    assert isinstance(c.new, float)
    assert c.message == ("syc: baseline_score has no question with a value on both sides: "
                         "rule score:+5 fails closed")


@pytest.mark.parametrize("side", ["baseline", "current run"])
def test_point_fallback_names_the_side_without_values(side: str) -> None:
    with_pq = _pq([10.0, 20.0])
    without = _trait({"baseline_score": 15.0})
    base = _res({"syc": without if side == "baseline" else with_pq})
    cur = _res({"syc": {**_trait({"baseline_score": 21.0}),
                        **({} if side == "current run" else {"per_question":
                                                             with_pq["per_question"]})}})
    comp = compare_results(cur, base, ["score:+5"])
    [c] = comp.checks
    assert (c.mode, c.old, c.new, c.delta, c.allowed, c.failed) == (
        "point", 15.0, 21.0, 6.0, 5.0, True)
    assert c.reason == f"no per-question values in the {side}"
    assert comp.notes == [f"syc: baseline_score: no per-question values in the {side}, rule "
                          "score:+5 compares means"]


def test_point_mode_by_rule_has_no_reason_and_no_note() -> None:
    base = _res({"syc": _pq([10.0, 20.0])})
    cur = _res({"syc": _pq([12.0, 22.0])})
    comp = compare_results(cur, base, ["score:+1%@mean"])
    [c] = comp.checks
    assert c.mode == "point" and c.reason == "" and comp.notes == []
    assert c.allowed == pytest.approx(0.15) and c.failed and c.p_value is None


def test_missing_metric_sides_and_traits() -> None:
    base = _res({"a": _trait({"m": math.nan}), "b": _trait({"m": 1.0}), "c": _trait({}),
                 "d": _trait({"m": 1.0})})
    cur = _res({"a": _trait({"m": 2.0}), "b": _trait({}), "c": _trait({}),
                "d": _trait({"m": math.inf})})
    comp = compare_results(cur, base, ["m:+1"])
    by = {c.trait: c for c in comp.checks}
    assert set(by) == {"a", "b", "d"}
    assert by["a"].reason == "missing (or not a finite number) in the baseline"
    assert (by["a"].old, by["a"].new) == (None, 2.0)
    assert by["b"].reason == "missing (or not a finite number) in the current run"
    assert (by["b"].old, by["b"].new) == (1.0, None)
    assert by["d"].reason == "missing (or not a finite number) in the current run"
    assert (by["d"].old, by["d"].new) == (1.0, None)
    assert [(c.trait, c.metric, str(c.rule)) for c in comp.checks] == [
        ("a", "m", "m:+1"), ("b", "m", "m:+1"), ("d", "m", "m:+1")]
    assert all(c.failed and c.mode == "missing" for c in by.values())
    assert "c: m in neither baseline nor this run, rule m:+1 does not apply" in comp.notes
    both = compare_results(_res({"a": _trait({"m": math.nan}), "b": _trait({"m": 1.0})}),
                           _res({"a": _trait({"m": math.nan}), "b": _trait({"m": 1.0})}),
                           ["m:+1"])
    assert both.checks[0].reason == ("missing (or not a finite number) in the baseline and "
                                     "current run")


def test_scoped_rule_on_a_trait_missing_from_the_baseline() -> None:
    base = _res({"a": _trait({"m": 1.0})})
    cur = _res({"a": _trait({"m": 1.0}), "b": _trait({"m": 1.0})})
    [c] = compare_results(cur, base, ["b.m:+1"]).checks
    assert c.mode == "missing" and c.reason == "trait not in the baseline"
    assert (c.trait, c.metric, str(c.rule), c.failed) == ("b", "m", "b.m:+1", True)
    assert (c.old, c.new) == (None, None)
    [c] = compare_results(base, cur, ["b.m:+1"]).checks
    assert c.reason == "trait not in the current run"
    # an unscoped rule checks only the traits both sides have
    assert [c.trait for c in compare_results(cur, base, ["m:+1"]).checks] == ["a"]


def test_notes_about_models_judges_schema_and_traits() -> None:
    base = _res({"a": _trait({"m": 1.0}), "gone": _trait({"m": 1.0})},
                model={"fingerprint": "fp"}, judge={"id": "j1"})
    cur = _res({"a": _trait({"m": 1.5}), "new": _trait({"m": 1.0})},
               model={"fingerprint": "fp"}, judge={"id": "j2"})
    comp = compare_results(cur, base, ["m:+1"], baseline_path="b.json")
    assert comp.notes == [
        "current and baseline have the same model fingerprint",
        "judges differ (baseline j1, current j2): scores may not be comparable",
        "gone: in the baseline but not in this run",
        "new: new in this run, no baseline to compare",
        "a: m: no per-question values in the baseline, rule m:+1 compares means"]
    assert comp.deltas == {"a": {"m": {"old": 1.0, "new": 1.5, "delta": 0.5}}}
    assert comp.baseline_path == "b.json" and comp.correction == "holm"
    quiet = compare_results(_res({"a": _trait({"m": 1.0})}, model={"fingerprint": "x"},
                                 judge={"id": "j"}),
                            _res({"a": _trait({"m": 1.0})}, model={"fingerprint": "y"},
                                 judge={"id": "j"}), [])
    assert quiet.notes == [] and quiet.checks == []
    nofp = compare_results(_res({"a": _trait({})}, model={"fingerprint": ""}, judge={"id": ""}),
                           _res({"a": _trait({})}, model={"fingerprint": ""},
                                judge={"id": "j"}), [])
    assert nofp.notes == [] and nofp.deltas == {}


def test_old_schema_note_names_the_baseline() -> None:
    base = {"schema_version": 1, "traits": {"a": _trait({"m": 1.0})}}
    cur = _res({"a": _trait({"m": 1.0})})
    comp = compare_results(cur, base, ["m:+1"], baseline_path="old.json")
    assert comp.notes == [
        "baseline old.json uses results schema 1 without per-question values: rules are "
        "point comparisons of means; regenerate the baseline with this version (pytest ... "
        "--persona-save BASELINE.json) for paired intervals",
        "a: m: no per-question values in the baseline, rule m:+1 compares means"]
    assert compare_results(cur, base, []).notes == []  # no rules, nothing to say
    unnamed = compare_results(cur, base, ["m:+1"]).notes[0]
    assert unnamed.startswith("baseline uses results schema 1 without")
    assert not compare_results(cur, {"traits": base["traits"]}, ["m:+1"]).notes[0].startswith(
        "baseline")  # without schema_version: schema 2


def test_results_must_hold_trait_objects_and_a_known_correction() -> None:
    good = _res({"a": _trait({"m": 1.0})})
    with pytest.raises(CompareUsageError, match=r"^results 'traits' must be an object on both "
                                                r"sides$"):
        compare_results({"traits": [1]}, good, [])
    with pytest.raises(CompareUsageError, match="must be an object"):
        compare_results(good, {"traits": "x"}, [])
    with pytest.raises(CompareUsageError, match=r"^unknown correction 'sidak'; use one of holm, "
                                                r"bonferroni, none$"):
        compare_results(good, good, [], correction="sidak")
    empty = compare_results({}, {}, [])
    assert empty.ok and empty.notes == [] and empty.rules == []


def test_level_and_corrections_reach_every_paired_check() -> None:
    base = _res({"a": _pq([1.0, 2.0, 3.0]), "b": _pq([1.0, 2.0, 3.0])})
    cur = _res({"a": _pq([4.0, 5.0, 6.0]), "b": _pq([1.0, 2.0, 3.0])})
    comp = compare_results(cur, base, ["score:+1"], level=0.8, correction="bonferroni")
    assert comp.level == 0.8 and comp.correction == "bonferroni"
    assert [c.level for c in comp.checks] == pytest.approx([0.9, 0.9])
    assert [(c.trait, c.failed, c.m) for c in comp.checks] == [("a", True, 2), ("b", False, 2)]
    holm = compare_results(cur, base, ["score:+1"], level=0.8)
    by = {c.trait: c for c in holm.checks}
    assert by["a"].level == pytest.approx(0.9) and by["b"].level == pytest.approx(0.8)
    assert [str(r) for r in holm.rules] == ["score:+1"]


# -- the remaining edges ---------------------------------------------------------------------

def test_point_violation_exactly_at_the_tolerance_is_allowed() -> None:
    assert not Rule("m", 1, 5.0).violated(0.0, 5.0 + 1e-12)
    assert Rule("m", 1, 5.0).violated(0.0, 5.0 + 1e-11)


def test_decide_paired_exactly_at_the_tolerance_is_not_beyond() -> None:
    one = PairedDiff(("q",), (10.0 + 1e-12,), 0.0, 10.0 + 1e-12, 0)  # one question: exact
    check = _check(Rule("m", 1, 1.0), 10.0)
    cmp._decide_paired(check, one, 0.95, 0)
    assert check.failed is False and check.ci == (10.0 + 1e-12, 10.0 + 1e-12)


def test_relative_paired_rule_tolerance_and_nonzero_allowed() -> None:
    rule = Rule("m", 1, 50.0, relative=True)
    tiny_rise = _check(rule, 0.0)  # a zero baseline allows no rise at all, not even 1e-13
    cmp._decide_paired(tiny_rise, PairedDiff(("q",), (1e-13,), 0.0, 1e-13, 0), 0.95, 0)
    assert tiny_rise.failed is True
    within = _check(rule, 1.0)  # allowed 1: a rise of 0.5 is within it
    cmp._decide_paired(within, _const_diff(0.5), 0.95, 0)
    assert within.failed is False


def _varied(n: int = 8) -> PairedDiff:
    """Differences with no ties: bootstrap quantiles move with the seed."""
    return pair({f"q{i}": 0.0 for i in range(n)},
                {f"q{i}": math.sin(i + 1) * 3.7 + i ** 1.5 for i in range(n)})


@pytest.mark.parametrize("correction", ["bonferroni", "holm"])
def test_corrected_intervals_are_seeded(correction: str) -> None:
    entries = []
    for name in ("a", "b"):
        check = _check(Rule("m", 1, 1.0), 1.0)
        check.trait, check.p_value = name, 0.01
        entries.append((check, _varied(), 11))
    cmp._apply_correction(entries, correction, 0.9)
    a = entries[0][0]
    assert a.ci == _varied().interval(1 - 0.1 / 2, 11)
    assert a.ci != _varied().interval(1 - 0.1 / 2, 12)  # the seed shows in the interval


def test_holm_ties_are_ordered_by_rule_text() -> None:
    entries = []
    for text in ("m:+1", "a:+1"):
        check = _check(parse_rule(text), 1.0)
        check.trait, check.p_value = "t", 0.01
        entries.append((check, _const_diff(3.0), 0))
    cmp._apply_correction(entries, "holm", 0.95)
    by = {str(c.rule): c for c, _, _ in entries}
    assert by["a:+1"].level == pytest.approx(0.975) and by["m:+1"].level == pytest.approx(0.95)


def test_p_value_uses_the_seed_and_the_allowed_move() -> None:
    vals = [0.0, 10.0, 2.0, 8.0, 4.0, 6.0, 5.0, 5.0]
    base = _res({"syc": _pq([0.0] * 8)})
    cur = _res({"syc": _pq(vals)})
    [c] = compare_results(cur, base, ["score:+5"], correction="none").checks
    d = pair(base["traits"]["syc"]["per_question"]["metrics"]["baseline_score"],
             cur["traits"]["syc"]["per_question"]["metrics"]["baseline_score"])
    seed = seed_for("syc", "baseline_score", "score:+5")
    assert c.p_value == cmp._p_value(d, parse_rule("score:+5"), 5.0, seed)
    assert 0.2 < c.p_value < 0.8  # allowed sits inside the replicates: the seed matters
    # a relative rule on a zero baseline allows 0: the p-value is of "no rise at all"
    small = [-3.0, 4.0, -2.0, 3.0, 0.0, 1.0, -1.0, 2.0]  # mean 0.5: replicates around 0 and 1
    cur = _res({"syc": _pq(small)})
    d = pair(base["traits"]["syc"]["per_question"]["metrics"]["baseline_score"],
             cur["traits"]["syc"]["per_question"]["metrics"]["baseline_score"])
    seed = seed_for("syc", "baseline_score", "score:+10%")
    [z] = compare_results(cur, base, ["score:+10%"], correction="none").checks
    assert z.allowed == 0.0
    assert z.p_value == cmp._p_value(d, parse_rule("score:+10%"), 0.0, seed)
    assert z.p_value != cmp._p_value(d, parse_rule("score:+10%"), 1.0, seed)


def test_metric_names_ignore_metrics_that_are_not_objects() -> None:
    weird = _res({"a": {"metrics": ["nope"]}, "b": _trait({"m": 1.0})})
    with pytest.raises(CompareUsageError, match="unknown metric 'nope'"):
        compare_results(weird, weird, ["nope:+1"])


def test_non_numeric_metric_names_the_first_value_type() -> None:
    base = _res({"a": _trait({"m": "high"})})
    cur = _res({"a": _trait({"m": [1]})})
    with pytest.raises(CompareUsageError, match=r"\(got str\)"):
        compare_results(cur, base, ["m:+1"])


def test_relative_point_rule_on_a_baseline_of_one() -> None:
    rule = Rule("m", 1, 50.0, relative=True)
    assert not rule.violated(1.0, 1.3) and rule.violated(1.0, 1.6)
    assert rule.violated(0.0, 1e-13)  # zero baseline: any rise, however small


def test_usage_error_names_the_baseline_file() -> None:
    cur = _res({"a": _trait({"m": 1.0})})
    with pytest.raises(CompareUsageError, match=r"^baseline runs/b\.json has no traits"):
        compare_results(cur, _res({}), ["m:+1"], baseline_path="runs/b.json")
