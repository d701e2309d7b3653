"""validate_results: hands back the document typed, or names the field that breaks the schema."""

from __future__ import annotations

import pytest

from pytest_persona.errors import ResultsError
from pytest_persona.results.schema import SCHEMA_VERSION
from pytest_persona.results.validate import validate_results
from tests.report.synthetic import make_results


def test_returns_the_same_document() -> None:
    doc = make_results(seed=3)
    assert validate_results(doc) is doc


def test_bad_field_is_named_with_its_path() -> None:
    doc = make_results(seed=3)
    trait = next(iter(doc["traits"]))
    doc["traits"][trait]["sweep"][1]["coherence_ci"] = [0.0, "x"]
    with pytest.raises(
        ResultsError,
        match=rf"^traits\.{trait}\.sweep\[1\]\.coherence_ci\[1\]: "
        r"expected number, got 'x'$",
    ):
        validate_results(doc)


def test_newer_schema_is_refused_with_advice() -> None:
    doc = make_results(seed=3)
    doc["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ResultsError, match="newer than the 2 .* upgrade pytest-persona"):
        validate_results(doc)


def test_judge_identity_is_optional_and_a_string() -> None:
    doc = make_results(seed=3)
    trait = next(iter(doc["traits"]))
    assert "judge_identity" not in doc["traits"][trait]
    validate_results(doc)  # an older file without it
    doc["traits"][trait]["judge_identity"] = "offline"
    validate_results(doc)
    doc["traits"][trait]["coherence_judge_identity"] = 3
    with pytest.raises(ResultsError,
                       match=rf"^traits\.{trait}\.coherence_judge_identity: expected string"):
        validate_results(doc)
