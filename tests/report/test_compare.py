from __future__ import annotations

import pytest

from pytest_persona.report.compare import Rule, compare_results, parse_rule
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
    assert r.message == ("sycophantic: baseline_score rose from 12.0 to 25.3 (+13.3), "
                         "beyond rule baseline_score:+5")


def test_drop_rule():
    base = _with({"evil": {"effective_pairs": 40}})
    cur = _with({"evil": {"effective_pairs": 25}})
    [r] = compare_results(cur, base, ["effective_pairs:-10"]).regressions
    assert r.message == "evil: effective_pairs fell from 40 to 25 (-15), beyond rule effective_pairs:-10"
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


def test_missing_traits_and_metrics_are_notes():
    base = make_results(("sycophantic", "evil"))
    cur = make_results(("sycophantic", "optimistic"))
    del cur["traits"]["sycophantic"]["metrics"]["baseline_score"]
    comp = compare_results(cur, base, ["baseline_score:+5", "checkpoint_shift:+0.1",
                                       "missing_metric:+1", Rule("steered_score", 1, 1.0)])
    notes = "\n".join(comp.notes)
    assert "evil: in the baseline but not in this run" in notes
    assert "optimistic: new in this run" in notes
    assert "sycophantic: baseline_score missing in current" in notes
    assert "checkpoint_shift missing in baseline and current" in notes
    assert comp.ok
    d = comp.to_dict()
    assert d["rules"][0] == "baseline_score:+5" and d["regressions"] == []
    assert "sycophantic" in d["deltas"]


def test_to_dict_is_json_and_fits_results_schema(tmp_path):
    from pytest_persona.report.results import load_results, save_results

    base = make_results(("sycophantic", "evil"))
    cur = make_results(("sycophantic", "evil"), shift=13, seed=1)
    comp = compare_results(cur, base, ["baseline_score:+5"], baseline_path="base.json")
    cur["comparison"] = comp.to_dict()
    loaded = load_results(save_results(cur, tmp_path / "r.json"))
    regs = loaded["comparison"]["regressions"]
    assert regs and regs[0]["message"].startswith("sycophantic: baseline_score rose from")
    assert loaded["comparison"]["baseline_path"] == "base.json"
