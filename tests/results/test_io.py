"""results/io.py: load and save apart from the types; the old import path is the same code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_persona.errors import ResultsError
from pytest_persona.results import document, io, validate
from tests.report.synthetic import make_results


def test_document_module_reexports_the_one_implementation() -> None:
    assert document.load_results is io.load_results
    assert document.save_results is io.save_results
    assert document.dumps_results is io.dumps_results
    assert document.non_finite_paths is io.non_finite_paths
    assert document.validate_results is validate.validate_results


def test_load_returns_the_validated_document(tmp_path: Path) -> None:
    path = io.save_results(make_results(seed=4), tmp_path / "r.json")
    assert io.load_results(path) == json.loads(path.read_text())


def test_load_names_the_file_and_the_field(tmp_path: Path) -> None:
    doc = make_results(seed=4)
    doc["expectations"][0]["outcome"] = "maybe"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(
        ResultsError,
        match=r"r\.json: expectations\[0\]\.outcome: expected one "
        r"of passed",
    ):
        io.load_results(path)
