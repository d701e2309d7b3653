from __future__ import annotations

import copy
import json
import os
import re

import pytest

from pytest_persona.results.document import (
    SCHEMA_VERSION,
    ResultsError,
    load_results,
    save_results,
    validate_results,
)
from tests.report.synthetic import make_results


def test_synthetic_results_are_valid():
    validate_results(make_results())
    validate_results(make_results(("a", "b", "c", "d"), payload=True))


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d["traits"]["evil"]["sweep"][2].__setitem__("mean", "high"),
         "traits.evil.sweep[2].mean: expected number"),
        (lambda d: d["traits"]["evil"]["sweep"][1].pop("coeff"), "traits.evil.sweep[1].coeff"),
        (lambda d: d["traits"]["evil"]["sweep"][0].__setitem__("ci", [1]),
         "traits.evil.sweep[0].ci"),
        (lambda d: d["traits"]["evil"]["vector"]["norms"].__setitem__(3, "x"),
         "traits.evil.vector.norms[3]"),
        (lambda d: d["traits"]["evil"]["sweep"][0]["examples"][1].__setitem__("answer", 3),
         "traits.evil.sweep[0].examples[1].answer: expected string"),
        (lambda d: d["traits"]["evil"]["projections"]["steered"].__setitem__("mean", [1]),
         "traits.evil.projections.steered.mean"),
        (lambda d: d["traits"]["evil"]["metrics"].__setitem__("baseline_score", True),
         "traits.evil.metrics.baseline_score"),
        (lambda d: d.pop("model"), "model: missing"),
        (lambda d: d["model"].pop("name"), "model.name: missing"),
        (lambda d: d.__setitem__("traits", []), "traits: expected object"),
        (lambda d: d["expectations"][3].__setitem__("outcome", "exploded"),
         "expectations[3].outcome: expected one of"),
        (lambda d: d["expectations"][0].pop("nodeid"), "expectations[0].nodeid: missing"),
        (lambda d: d["cosine"]["matrix"].pop(), "cosine.matrix: expected 2 rows"),
        (lambda d: d["judge"].__setitem__("offline", "yes"), "judge.offline: expected boolean"),
        (lambda d: d.__setitem__("duration_s", float("nan")), "duration_s: expected finite"),
        (lambda d: d.__setitem__("schema_version", 3), "newer than"),
        (lambda d: d.__setitem__("schema_version", 0), "schema_version: expected one of (1, 2)"),
        (lambda d: d.pop("schema_version"), "schema_version: missing"),
    ],
)
def test_validation_errors_name_the_field(mutate, field):
    d = make_results(("sycophantic", "evil"))
    mutate(d)
    with pytest.raises(ResultsError) as e:
        validate_results(d)
    assert field in str(e.value)
    assert isinstance(e.value, ValueError)


def test_partial_traits_are_valid():
    d = make_results(("sycophantic", "evil"))
    t = d["traits"]["evil"]
    for k in ("sweep", "projections", "vector"):
        t.pop(k)
    t["metrics"] = {"baseline_score": 12.0}
    d["traits"]["bare"] = {}
    d["cosine"] = None
    d["extra_future_field"] = {"anything": 1}
    validate_results(d)


def test_round_trip(tmp_path):
    d = make_results(("sycophantic", "evil", "hallucinating"), payload=True)
    p = save_results(d, tmp_path / "sub" / "persona-results.json")
    assert load_results(p) == json.loads(json.dumps(d))
    assert SCHEMA_VERSION == 2


def test_save_writes_nan_as_null(tmp_path):
    d = make_results()
    d["traits"]["evil"]["metrics"]["checkpoint_shift"] = float("nan")
    p = save_results(d, tmp_path / "r.json")
    text = p.read_text()
    assert "NaN" not in text
    assert load_results(p)["traits"]["evil"]["metrics"]["checkpoint_shift"] is None


def test_atomic_save_invalid_leaves_old_file(tmp_path):
    p = tmp_path / "r.json"
    save_results(make_results(), p)
    before = p.read_text()
    bad = make_results()
    bad["expectations"] = "nope"
    with pytest.raises(ResultsError):
        save_results(bad, p)
    assert p.read_text() == before
    assert os.listdir(tmp_path) == ["r.json"]


def test_atomic_save_failure_midway_leaves_no_partial_file(tmp_path, monkeypatch):
    p = tmp_path / "r.json"
    save_results(make_results(seed=1), p)
    before = p.read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_results(make_results(seed=2), p)
    assert p.read_text() == before
    assert sorted(os.listdir(tmp_path)) == ["r.json"]


def test_load_errors(tmp_path):
    with pytest.raises(ResultsError, match="not found"):
        load_results(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "schema_version": 1,\n  "model": {,\n}')
    with pytest.raises(ResultsError, match=r"bad.json: invalid JSON at line 3"):
        load_results(bad)
    newer = tmp_path / "newer.json"
    d = make_results()
    d["schema_version"] = 7
    newer.write_text(json.dumps(d))
    with pytest.raises(ResultsError, match="schema version 7.*upgrade"):
        load_results(newer)
    wrong = tmp_path / "wrong.json"
    d = make_results()
    d["traits"]["evil"]["sweep"][2]["mean"] = "x"
    wrong.write_text(json.dumps(d))
    with pytest.raises(ResultsError, match=r"wrong.json: traits.evil.sweep\[2\].mean"):
        load_results(wrong)


def test_save_does_not_mutate_input(tmp_path):
    d = make_results()
    snapshot = copy.deepcopy(d)
    save_results(d, tmp_path / "r.json")
    assert d == snapshot


def test_non_finite_values_anywhere_are_written_and_shown(tmp_path):
    """Issue 13.2: whatever an item produced, the results file and the report are written."""
    from pytest_persona.report import render_persona_section, render_report

    d = make_results(("sycophantic", "evil"))
    t = d["traits"]["evil"]
    t["coefficients"] = [-4.0, 0.0, 4.0, float("inf")]
    t["sweep"][0]["coeff"] = float("nan")
    t["sweep"][1]["mean"] = float("-inf")
    t["vector"]["norms"][2] = float("nan")  # a NaN vector
    t["projections"]["baseline"]["mean"] = float("nan")
    d["expectations"][0]["figures"]["mean"] = float("nan")
    p = save_results(d, tmp_path / "r.json")
    loaded = load_results(p)
    assert loaded["traits"]["evil"]["coefficients"] == [-4.0, 0.0, 4.0, None]
    bad = loaded["non_finite"]
    assert "traits.evil.coefficients[3]: inf" in bad
    assert "traits.evil.sweep[0].coeff: nan" in bad
    assert "traits.evil.vector.norms[2]: nan" in bad
    html = render_report(loaded)
    assert "traits.evil.coefficients[3]: inf" in html
    assert "nan" in render_persona_section(d)  # the raw document renders too


def test_lenient_save_writes_what_breaks_the_schema(tmp_path):
    bad = make_results()
    bad["expectations"] = "nope"
    p = save_results(bad, tmp_path / "r.json", strict=False)
    written = json.loads(p.read_text())
    assert written["invalid"] == ["expectations: expected list, got 'nope'"]


def test_deeply_nested_results_file_is_a_clear_error(tmp_path):
    """Issue 13.9: a deeply nested baseline is a ResultsError, not a RecursionError."""
    p = tmp_path / "deep.json"
    p.write_text('{"schema_version": 2, "traits": ' + "[" * 200000 + "]" * 200000 + "}")
    with pytest.raises(ResultsError, match="nested too deeply"):
        load_results(p)


@pytest.mark.parametrize("comparison, field", [
    ({"regressions": [1]}, "comparison.regressions[0]: expected object"),
    ({"rules": "baseline_score:+5"}, "comparison.rules: expected list"),
    ({"deltas": {"evil": [1]}}, "comparison.deltas.evil: expected object"),
    ({"checks": [{"ci": "wide"}]}, "comparison.checks[0].ci"),
])
def test_malformed_comparison_is_located(comparison, field):
    d = make_results()
    d["comparison"] = comparison
    with pytest.raises(ResultsError, match=re.escape(field)):
        validate_results(d)
