"""The TypedDicts of results/schema.py describe the documents that are actually written."""

from __future__ import annotations

import types
import typing
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest

from pytest_persona.results import schema
from pytest_persona.results.schema import ResultsDocument
from tests.report.synthetic import make_results


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _mismatches(value: Any, tp: Any, path: str) -> list[str]:
    """Where ``value`` holds a key its TypedDict does not declare, or lacks a required one."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [t for t in get_args(tp) if t is not type(None)]
        if value is None:
            return []
        found = [_mismatches(value, t, path) for t in options]
        return min(found, key=len)
    if _is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{path}: not an object"]
        hints = get_type_hints(tp)
        out = [f"{path}.{k}: not declared in {tp.__name__}" for k in value if k not in hints]
        out += [
            f"{path}.{k}: required by {tp.__name__}, missing"
            for k in tp.__required_keys__
            if k not in value
        ]
        for k, v in value.items():
            if k in hints:
                out += _mismatches(v, hints[k], f"{path}.{k}")
        return out
    if origin is list and isinstance(value, list):
        (item,) = get_args(tp)
        return [m for i, v in enumerate(value) for m in _mismatches(v, item, f"{path}[{i}]")]
    if origin is dict and isinstance(value, dict):
        _, item = get_args(tp)
        return [m for k, v in value.items() for m in _mismatches(v, item, f"{path}.{k}")]
    return []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_documents_match_the_declared_types(seed: int) -> None:
    assert _mismatches(make_results(seed=seed), ResultsDocument, "results") == []


def test_an_undeclared_key_is_found() -> None:
    doc = make_results(seed=0)
    doc["traits"][next(iter(doc["traits"]))]["sweep"][0]["surprise"] = 1
    found = _mismatches(doc, ResultsDocument, "results")
    assert len(found) == 1 and found[0].endswith(".sweep[0].surprise: not declared in SweepRow")


def test_required_keys_follow_the_validator() -> None:
    assert ResultsDocument.__required_keys__ == {
        "schema_version",
        "model",
        "traits",
        "expectations",
    }
    assert schema.SweepRow.__required_keys__ == {"coeff"}
    assert schema.ExpectationRecord.__required_keys__ == {"nodeid", "outcome"}
    assert schema.DamageRow.__required_keys__ == {"coeff", "kl"}
    assert schema.DoseConversion.__required_keys__ == {
        "vector_norm",
        "mean_norm",
        "n_tokens",
        "layer",
    }
    assert typing.get_type_hints(schema.ModelInfo)["name"] is str
