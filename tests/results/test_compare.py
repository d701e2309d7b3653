from __future__ import annotations

import random
import re
from typing import Any

import pytest

from pytest_persona.results.compare import (
    Check,
    CompareUsageError,
    Rule,
    compare_results,
    parse_rule,
)
from pytest_persona.results.paired import question_id
from tests.report.synthetic import make_results


def _with(metric_values: dict[str, dict[str, float]]):
    d = make_results(("sycophantic", "evil"))
    for trait, ms in metric_values.items():
        d["traits"][trait]["metrics"].update(ms)
    return d


@pytest.mark.parametrize(
    "text, metric, direction, limit, relative, trait",
    [
        ("baseline_score:+5", "baseline_score", 1, 5.0, False, None),
        ("effective_pairs:-10", "effective_pairs", -1, 10.0, False, None),
        ("steered_score:-20%", "steered_score", -1, 20.0, True, None),
        ("baseline_score:+12.5%", "baseline_score", 1, 12.5, True, None),
        ("projection:+0.5", "baseline_projection", 1, 0.5, False, None),
        ("sycophantic.baseline_score:+3", "baseline_score", 1, 3.0, False, "sycophantic"),
        (" baseline_score : +5 ", "baseline_score", 1, 5.0, False, None),
    ],
)
def test_parse_rule(text, metric, direction, limit, relative, trait):
    r = parse_rule(text)
    assert (r.metric, r.direction, r.limit, r.relative, r.trait) == (
        metric, direction, limit, relative, trait)
    assert str(r) == text.strip()


@pytest.mark.parametrize("bad", ["baseline_score", "baseline_score:5", "baseline_score:+x",
                                 ":+5", "baseline score:+5", "baseline_score:+5%%", "",
                                 "baseline_score:+-5"])
def test_bad_rule_error_names_rule_and_forms(bad):
    with pytest.raises(ValueError) as e:
        parse_rule(bad)
    msg = str(e.value)
    assert repr(bad) in msg
    assert "METRIC:+X" in msg and "METRIC:-X" in msg and "%" in msg


def test_within_rules_passes():
    base = _with({"sycophantic": {"baseline_score": 12.0}})
    cur = _with({"sycophantic": {"baseline_score": 16.9}})
    comp = compare_results(cur, base, ["baseline_score:+5"])
    assert comp.ok and comp.regressions == []


def test_beyond_rule_fails_with_message():
    base = _with({"sycophantic": {"baseline_score": 12.0}})
    cur = _with({"sycophantic": {"baseline_score": 25.3}})
    comp = compare_results(cur, base, ["baseline_score:+5"])
    assert not comp.ok
    [r] = comp.regressions
    assert (r.trait, r.metric, r.old, r.new) == ("sycophantic", "baseline_score", 12.0, 25.3)
    assert r.message.startswith("sycophantic: baseline_score rose from 12.0 to 25.3 (+13.3), "
                                "beyond rule baseline_score:+5 (point comparison of means")


def test_drop_rule():
    base = _with({"evil": {"effective_pairs": 40}})
    cur = _with({"evil": {"effective_pairs": 25}})
    [r] = compare_results(cur, base, ["effective_pairs:-10"]).regressions
    assert r.message.startswith(
        "evil: effective_pairs fell from 40 to 25 (-15), beyond rule effective_pairs:-10")
    assert compare_results(cur, base, ["effective_pairs:-15"]).ok
    # a rise never trips a drop rule
    assert compare_results(base, cur, ["effective_pairs:-1"]).ok


def test_percent_rule():
    base = _with({"evil": {"steered_score": 80.0}})
    assert compare_results(_with({"evil": {"steered_score": 65.0}}), base,
                           ["steered_score:-20%"]).ok
    comp = compare_results(_with({"evil": {"steered_score": 63.0}}), base, ["steered_score:-20%"])
    assert [r.trait for r in comp.regressions] == ["evil"]
    assert comp.regressions[0].rule.relative


def test_trait_scoped_rule_and_alias():
    base = _with({"sycophantic": {"baseline_projection": 1.0}, "evil": {"baseline_projection": 1.0}})
    cur = _with({"sycophantic": {"baseline_projection": 2.0}, "evil": {"baseline_projection": 2.0}})
    comp = compare_results(cur, base, ["evil.projection:+0.5"])
    assert [(r.trait, r.metric) for r in comp.regressions] == [("evil", "baseline_projection")]
    assert "beyond rule evil.projection:+0.5" in comp.regressions[0].message


def test_missing_traits_are_notes_missing_metrics_fail_closed():
    base = make_results(("sycophantic", "evil"))
    cur = make_results(("sycophantic", "optimistic"))
    del cur["traits"]["sycophantic"]["metrics"]["baseline_score"]
    comp = compare_results(cur, base, ["baseline_score:+5", "checkpoint_shift:+0.1",
                                       Rule("steered_score", 1, 1.0)])
    notes = "\n".join(comp.notes)
    assert "evil: in the baseline but not in this run" in notes
    assert "optimistic: new in this run" in notes
    assert "checkpoint_shift in neither baseline nor this run" in notes
    assert not comp.ok
    [r] = comp.regressions
    assert (r.trait, r.metric, r.mode) == ("sycophantic", "baseline_score", "missing")
    assert "missing (or not a finite number) in the current run" in r.message
    assert "fails closed" in r.message
    d = comp.to_dict()
    assert d["rules"][0] == "baseline_score:+5" and len(d["regressions"]) == 1
    assert "sycophantic" in d["deltas"]


def test_to_dict_is_json_and_fits_results_schema(tmp_path):
    from pytest_persona.results.document import load_results, save_results

    base = make_results(("sycophantic", "evil"))
    cur = make_results(("sycophantic", "evil"), shift=13, seed=1)
    comp = compare_results(cur, base, ["baseline_score:+5"], baseline_path="base.json")
    cur["comparison"] = comp.to_dict()
    loaded = load_results(save_results(cur, tmp_path / "r.json"))
    comparison = loaded["comparison"]
    assert comparison is not None
    regs = comparison["regressions"]
    assert regs and (regs[0]["message"] or "").startswith("sycophantic: baseline_score rose from")
    assert comparison["baseline_path"] == "base.json"


# ---------------------------------------------------------------- paired comparisons (issue 12)


def _pq_results(values: dict[str, list[float]], *, schema: int = 2) -> dict[str, Any]:
    """Results whose traits carry per-question baseline scores (and their mean as the metric)."""
    d = make_results(tuple(values))
    d["schema_version"] = schema
    for trait, vals in values.items():
        ids = [question_id(f"question {i}") for i in range(len(vals))]
        t = d["traits"][trait]
        t["metrics"]["baseline_score"] = sum(vals) / len(vals)
        t["per_question"] = {"questions": {q: f"question {i}" for i, q in enumerate(ids)},
                             "metrics": {"baseline_score": dict(zip(ids, vals))}}
    return d


def _noisy_pair(shift: float, noise: float, n: int = 20, seed: int = 3):
    """Per-question differences of mean exactly ``shift`` and spread ``noise``."""
    rng = random.Random(seed)
    base = [rng.uniform(10, 60) for _ in range(n)]
    cur = [b + shift + noise * (1 if i % 2 else -1) * (0.5 + i / n) for i, b in enumerate(base)]
    correction = (sum(cur) - sum(base)) / n - shift
    cur = [c - correction for c in cur]
    return _pq_results({"sycophantic": base}), _pq_results({"sycophantic": cur})


def test_noise_beyond_the_bound_passes_a_real_shift_fails():
    # noise: the means differ by more than 5, but the paired interval includes 5
    base, noisy = _noisy_pair(shift=7.6, noise=12.0)
    gap = noisy["traits"]["sycophantic"]["metrics"]["baseline_score"] - \
        base["traits"]["sycophantic"]["metrics"]["baseline_score"]
    assert gap > 5
    comp = compare_results(noisy, base, ["baseline_score:+5"])
    [c] = comp.checks
    assert c.mode == "paired" and c.n == 20 and not c.failed and comp.ok
    assert c.ci is not None and c.ci[0] < 5 < c.ci[1]
    assert c.delta == pytest.approx(gap)
    assert re.fullmatch(r"sycophantic: baseline_score rose \d+\.\d+ \(paired mean difference "
                        r"\+\d+\.\d+, 95% CI -?\d+\.?\d* to \d+\.?\d*, n=20 questions\): "
                        r"not beyond \+5 with confidence", c.message), c.message
    # the point mode of the same rule does fail: the gap of the means is beyond 5
    assert not compare_results(noisy, base, ["baseline_score:+5@mean"]).ok
    # a real shift: every question rose by about 12
    base, shifted = _noisy_pair(shift=12.0, noise=2.0)
    comp = compare_results(shifted, base, ["baseline_score:+5"])
    [c] = comp.regressions
    assert c.ci is not None and c.ci[0] > 5
    assert c.message.endswith(": beyond +5 with confidence")
    assert "95% CI" in c.message and "n=20 questions" in c.message


def test_paired_interval_is_seeded_and_pairs_by_question_id():
    base, cur = _noisy_pair(shift=6.0, noise=12.0)
    a = compare_results(cur, base, ["baseline_score:+5"]).checks[0]
    # reorder the candidate's questions: pairing goes by id, not position
    pq = cur["traits"]["sycophantic"]["per_question"]["metrics"]["baseline_score"]
    cur["traits"]["sycophantic"]["per_question"]["metrics"]["baseline_score"] = dict(
        reversed(list(pq.items())))
    b = compare_results(cur, base, ["baseline_score:+5"]).checks[0]
    assert (a.delta, a.ci) == (b.delta, b.ci)
    # hand computation of the paired mean
    old = base["traits"]["sycophantic"]["per_question"]["metrics"]["baseline_score"]
    assert a.delta == pytest.approx(sum(pq[k] - old[k] for k in old) / len(old))


def test_drop_rule_paired_and_relative():
    base, cur = _noisy_pair(shift=-15.0, noise=1.0)
    [c] = compare_results(cur, base, ["baseline_score:-5"]).regressions
    assert c.message.startswith("sycophantic: baseline_score fell 15")
    assert compare_results(cur, base, ["baseline_score:+5"]).ok  # a drop never trips a rise
    assert compare_results(cur, base, ["baseline_score:-80%"]).ok


def test_old_baseline_falls_back_to_point_comparison_with_a_note():
    base, cur = _noisy_pair(shift=6.0, noise=12.0)
    old = make_results(("sycophantic",))  # schema 1, no per-question values
    old["traits"]["sycophantic"]["metrics"]["baseline_score"] = \
        base["traits"]["sycophantic"]["metrics"]["baseline_score"]
    comp = compare_results(cur, old, ["baseline_score:+5"], baseline_path="old.json")
    [c] = comp.checks
    assert c.mode == "point" and c.failed
    notes = "\n".join(comp.notes)
    assert "schema 1 without per-question values" in notes and "--persona-save" in notes
    assert "no per-question values in the baseline" in c.message


def test_holm_and_bonferroni_widen_intervals():
    base = _pq_results({"sycophantic": [20.0 + i for i in range(20)],
                        "evil": [30.0 - i for i in range(20)]})
    rng = random.Random(1)
    cur = _pq_results({"sycophantic": [20.0 + i + 7 + rng.gauss(0, 4) for i in range(20)],
                       "evil": [30.0 - i + rng.gauss(0, 4) for i in range(20)]})
    none = compare_results(cur, base, ["baseline_score:+5"], correction="none")
    holm = compare_results(cur, base, ["baseline_score:+5"], correction="holm")
    bonf = compare_results(cur, base, ["baseline_score:+5"], correction="bonferroni")
    by = {c.trait: c for c in bonf.checks}
    assert all(c.level == pytest.approx(0.975) for c in bonf.checks)
    assert {c.level for c in none.checks} == {0.95}
    # Holm: the smallest p-value is tested at 1 - 0.05/2; it fails, so the next is tested at
    # 1 - 0.05/1
    h = {c.trait: c for c in holm.checks}
    assert h["sycophantic"].failed and h["sycophantic"].level == pytest.approx(0.975)
    assert not h["evil"].failed and h["evil"].level == pytest.approx(0.95)
    # when the first check holds, Holm stops: every later one holds at that level
    calm = compare_results(base, base, ["baseline_score:+5"], correction="holm")
    assert [c.level for c in calm.checks] == pytest.approx([0.975, 0.975])
    assert calm.ok
    assert "Bonferroni over 2 checks" in by["sycophantic"].message
    n = {c.trait: c for c in none.checks}
    def width(c: Check) -> float:
        assert c.ci is not None
        return c.ci[1] - c.ci[0]

    assert width(by["sycophantic"]) > width(n["sycophantic"])
    with pytest.raises(CompareUsageError, match="unknown correction"):
        compare_results(cur, base, ["baseline_score:+5"], correction="sidak")


# ---------------------------------------------------------------- fail closed (issue 13.1)


@pytest.mark.parametrize("rule, match", [
    ("baseline_scroe:+5", r"rule baseline_scroe:\+5: unknown metric 'baseline_scroe'; known "
                          r"metrics: .*baseline_score"),
    ("sycophantc.baseline_score:+5", r"unknown trait 'sycophantc'; traits in the baseline or "
                                     r"this run: evil, sycophantic"),
])
def test_rules_that_cannot_be_evaluated_are_usage_errors(rule, match):
    base = make_results(("sycophantic", "evil"))
    with pytest.raises(CompareUsageError, match=match):
        compare_results(base, base, [rule])


def test_baseline_without_traits_and_non_numeric_metric_are_usage_errors():
    cur = make_results(("sycophantic",))
    empty = dict(cur, traits={})
    with pytest.raises(CompareUsageError, match="has no traits.*--persona-save"):
        compare_results(cur, empty, ["baseline_score:+5"], baseline_path="b.json")
    odd = make_results(("sycophantic",))
    odd["traits"]["sycophantic"]["metrics"]["label"] = "high"
    with pytest.raises(CompareUsageError, match="rule label:\\+1: metric 'label' is not a number"):
        compare_results(odd, odd, ["label:+1"])


def test_scoped_rule_on_trait_missing_from_this_run_fails():
    base = make_results(("sycophantic", "evil"))
    cur = make_results(("sycophantic",))
    [c] = compare_results(cur, base, ["evil.baseline_score:+5"]).regressions
    assert c.mode == "missing" and "trait not in the current run" in c.message
