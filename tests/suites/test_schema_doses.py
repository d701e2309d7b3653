"""Suites written with relative doses: parsing, located errors, per-model conversion."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_persona.core.dose import DoseScale
from pytest_persona.suites.schema import SuiteError, load_suite

DOSED = """\
trait: evil
layer: 1
doses: [-0.5, 0, 0.25, 0.5]
models:
  other: {layer: 2, doses: [0, 1]}
  fixed: {coefficients: [0, 4]}
expectations:
  - {kind: steering_raises, dose: 0.5}
  - {kind: projection_order, dose: 0.25}
  - {kind: coherence_guard, doses: [0.25, 0.5]}
  - {kind: monotonic}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_doses_convert_per_model_by_hand(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, DOSED))
    assert [e.id for e in suite.expectations] == [
        "steering_raises[dose=0.5]", "projection_order[dose=0.25]",
        "coherence_guard[dose=0.25..0.5]", "monotonic"]
    rs = suite.for_model("any")
    assert rs.doses == [-0.5, 0.0, 0.25, 0.5] and rs.coefficients == []
    with pytest.raises(ValueError, match="not measured yet"):
        rs.sweep_coefficients()
    # ||v|| = 2, mean ||h|| = 8: coeff = dose * 8 / 2 = 4 * dose
    scaled = rs.with_scale(DoseScale(vector_norm=2.0, mean_norm=8.0, n_tokens=10, layer=1))
    assert scaled.coefficients == [-2.0, 0.0, 1.0, 2.0]
    raises, order, guard, mono = suite.expectations
    assert scaled.coeff_of(raises) == 2.0 and scaled.steered_coeff(order) == 1.0
    assert scaled.coeffs_of(guard) == [1.0, 2.0] and scaled.coeffs_of(mono) is None
    assert scaled.sweep_coefficients() == [-2.0, 0.0, 1.0, 2.0]
    conv = scaled.conversion()
    assert conv is not None and conv["given"] == "doses"
    assert conv["coefficients"] == [-2.0, 0.0, 1.0, 2.0]
    assert conv["doses"] == [0.5, 0.0, 0.25, 0.5]  # |c| * ||v|| / mean ||h||
    assert conv["vector_norm"] == 2.0 and conv["mean_norm"] == 8.0 and "procedure" in conv
    # a wider model with a 10x larger residual: the same dose, 10x the coefficient
    wide = rs.with_scale(DoseScale(vector_norm=2.0, mean_norm=80.0, n_tokens=10, layer=1))
    assert wide.coefficients == [-20.0, 0.0, 10.0, 20.0] and wide.coeff_of(raises) == 20.0


def test_profiles_replace_doses_or_coefficients(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, DOSED))
    other = suite.for_model("other")
    assert other.layer == 2 and other.doses == [0.0, 1.0]
    fixed = suite.for_model("fixed")
    assert fixed.doses is None and fixed.coefficients == [0.0, 4.0]
    with pytest.raises(ValueError, match="layer 1, suite steers at layer 2"):
        other.with_scale(DoseScale(1.0, 1.0, 1, layer=1))


def test_coefficient_suites_get_doses_beside(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, "trait: evil\nlayer: 0\ncoefficients: [-2, 0, 2]\n"
                              "expectations:\n  - {kind: steering_raises, coeff: 2}\n"))
    rs = suite.for_model("m")
    assert rs.dose_of(2.0) is None and rs.conversion() is None
    scaled = rs.with_scale(DoseScale(vector_norm=3.0, mean_norm=12.0, n_tokens=5, layer=0))
    assert scaled.coefficients == [-2.0, 0.0, 2.0] and scaled.dose_of(-2.0) == 0.5
    assert scaled.conversion()["given"] == "coefficients"  # type: ignore[index]


@pytest.mark.parametrize("text, line, field, match", [
    ("trait: x\ncoefficients: [0, 1]\ndoses: [0, 1]\nexpectations:\n  - {kind: monotonic}\n",
     3, "doses", "coefficients or doses, not both"),
    ("trait: x\ndoses: [0]\nexpectations:\n  - {kind: monotonic}\n",
     2, "doses", "at least two numbers"),
    ("trait: x\ndoses: [0, a]\nexpectations:\n  - {kind: monotonic}\n",
     2, "doses", "at least two numbers"),
    ("trait: x\nmodels:\n  m:\n    coefficients: [0, 1]\n    doses: [0, 1]\n"
     "expectations:\n  - {kind: monotonic}\n", 5, "models.m.doses", "not both"),
    ("trait: x\nmodels:\n  m: {doses: 3}\nexpectations:\n  - {kind: monotonic}\n",
     3, "models.m.doses", "at least two numbers"),
    ("trait: x\nexpectations:\n  - kind: steering_raises\n    coeff: 3\n    dose: 0.5\n",
     5, "expectations[0].dose", "give coeff or dose, not both"),
    ("trait: x\nexpectations:\n  - kind: steering_lowers\n    threshold: 3\n",
     3, "expectations[0].coeff", "give 'coeff' or 'dose'"),
    ("trait: x\nexpectations:\n  - kind: steering_raises\n    dose: high\n",
     4, "expectations[0].dose", "must be a number"),
    ("trait: x\nexpectations:\n  - kind: coherence_guard\n    coefficients: [1, 2]\n"
     "    doses: [0.1, 0.2]\n", 5, "expectations[0].doses", "not both"),
])
def test_bad_doses_are_located(tmp_path: Path, text: str, line: int, field: str,
                               match: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SuiteError, match=match) as info:
        load_suite(path)
    assert info.value.path == path and info.value.line == line and info.value.field == field
