from __future__ import annotations

from pathlib import Path

import pytest

from pytest_persona.suites.schema import SuiteError, expectation_id, load_suite

GOOD = """\
trait: sycophantic
layer: 19
coefficients: [-3, 0, 3]
models:
  smollm2-135m: {layer: 12, coefficients: [-8, 0, 8]}
expectations:
  - kind: steering_raises
    coeff: {default: 3, smollm2-135m: 8}
    threshold: 50
    xfail: {smollm2-135m: "measured 40"}
  - {kind: monotonic, coefficients: [-3, 0, 3]}
  - {kind: cross_trait_cosine, traits: [evil, hallucinating]}
  - {kind: baseline_ceiling, max: 30, name: ceiling}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_parse_ids_and_per_model_values(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    suite = load_suite(path, "qwen2.5-7b")
    assert [e.id for e in suite.expectations] == [
        "steering_raises[coeff=3]", "monotonic[-3..3]",
        "cross_trait_cosine[evil,hallucinating]", "ceiling"]
    rs = suite.for_model("qwen2.5-7b")
    assert rs.layer == 19 and rs.coefficients == [-3.0, 0.0, 3.0]
    small = load_suite(path, "smollm2-135m")
    assert small.expectations[0].id == "steering_raises[coeff=8]"
    assert small.expectations[0].xfail_reason("smollm2-135m") == "measured 40"
    assert small.expectations[0].xfail_reason("qwen2.5-7b") is None
    rs2 = small.for_model("smollm2-135m")
    assert rs2.layer == 12 and rs2.sweep_coefficients() == [-8.0, -3.0, 0.0, 3.0, 8.0]


@pytest.mark.parametrize("text,line,field,msg", [
    ("trait: x\nexpectations: [\n", 3, "", "YAML syntax error"),
    ("- a\n- b\n", 1, "", "must be a YAML mapping"),
    ("expectations: [{kind: baseline_ceiling, max: 1}]\n", 1, "", "missing required field 'trait'"),
    ("trait: x\nlayer: -2\nexpectations: [{kind: baseline_ceiling, max: 1}]\n", 2, "layer",
     "non-negative integer"),
    ("trait: x\nexpectations: []\n", 2, "expectations", "non-empty list"),
    ("trait: x\nexpectations:\n  - kind: nope\n", 3, "expectations[0].kind",
     "unknown expectation kind 'nope'"),
    ("trait: x\nexpectations:\n  - kind: baseline_ceiling\n    max: high\n", 4,
     "expectations[0].max", "must be a number"),
    ("trait: x\nexpectations:\n  - kind: baseline_ceiling\n    maxx: 3\n", 4,
     "expectations[0].maxx", "unknown field for baseline_ceiling"),
    ("trait: x\nexpectations:\n  - kind: steering_raises\n", 3, "expectations[0].coeff",
     "missing required field"),
    ("trait: x\ncolor: red\nexpectations: [{kind: baseline_ceiling, max: 1}]\n", 2, "color",
     "unknown suite field"),
    ("trait: x\nexpectations:\n  - {kind: baseline_ceiling, max: 1}\n  - {kind: baseline_ceiling,"
     " max: 2}\n", 4, "expectations[1]", "duplicate expectation id 'baseline_ceiling'"),
    ("trait: x\nmodels:\n  m1: {layr: 3}\nexpectations: [{kind: baseline_ceiling, max: 1}]\n", 3,
     "models.m1.layr", "unknown per-model field"),
    ("trait: x\nexpectations:\n  - kind: baseline_ceiling\n    max: {m1: 3}\n", 4,
     "expectations[0].max", "no 'default'"),
])
def test_bad_suites_name_file_line_field(tmp_path: Path, text: str, line: int, field: str,
                                         msg: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SuiteError) as info:
        load_suite(path, "other")
    err = info.value
    assert err.line == line and err.field == field and msg in str(err)
    assert str(err).startswith(f"{path}:{line}:")


def test_expectation_id_formats() -> None:
    assert expectation_id("steering_lowers", {"coeff": -1.5}) == "steering_lowers[coeff=-1.5]"
    assert expectation_id("coherence_guard", {"coefficients": [1, 3]}) == "coherence_guard[1..3]"
    assert expectation_id("vector_drift", {"file": "x"}) == "vector_drift"


def test_null_per_model_value_marks_the_field_absent(tmp_path: Path) -> None:
    path = _write(tmp_path, "trait: x\nexpectations:\n  - kind: baseline_ceiling\n"
                            "    max: {default: null, m1: 30}\n")
    other = load_suite(path, "other").expectations[0]
    assert other.absent == ["max"] and other.params["max"] is None
    mine = load_suite(path, "m1").expectations[0]
    assert mine.absent == [] and mine.params["max"] == 30
