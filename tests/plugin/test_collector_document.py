"""ResultsCollector.build: the document is assembled by ResultsBuilder and follows the schema."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest

from pytest_persona.plugin.collector import ResultsCollector
from pytest_persona.results.validate import validate_results


def _report(
    nodeid: str, outcome: Literal["passed", "failed"], payload: dict[str, Any] | None
) -> pytest.TestReport:
    report = pytest.TestReport(nodeid, ("s.yaml", 0, nodeid), {}, outcome, None, "call")
    if payload is not None:
        report.persona = json.dumps(payload)  # type: ignore[attr-defined]
    return report


def _payload(trait: str, section: dict[str, Any], pid: int) -> dict[str, Any]:
    return {
        "suite": "s.yaml",
        "trait": trait,
        "kind": "steering_raises",
        "name": "raises",
        "message": "ok",
        "figures": {"delta": 1.0},
        "duration_s": 0.5,
        "section": section,
        "session": {
            "pid": pid,
            "model": {"name": "tiny", "fingerprint": "fp"},
            "judge_usage": {"calls": 2, "cost_usd": None},
            "model_usage": {"generated_tokens": 5},
            "cache": {"hits": 1},
        },
    }


def test_workers_sections_merge_into_a_valid_document(pytester: pytest.Pytester) -> None:
    collector = ResultsCollector(pytester.parseconfig())
    # two xdist workers report on one trait; the second knows no baseline_score (null)
    collector.pytest_runtest_logreport(
        _report(
            "s.yaml::b",
            "passed",
            _payload("evil", {"layer": 2, "metrics": {"baseline_score": 20.0}}, pid=1),
        )
    )
    collector.pytest_runtest_logreport(
        _report(
            "s.yaml::a",
            "failed",
            _payload("evil", {"metrics": {"baseline_score": None, "steered_score": 60.0}}, pid=2),
        )
    )
    doc = collector.build()
    assert validate_results(doc) is doc
    assert doc["traits"]["evil"] == {
        "metrics": {"baseline_score": 20.0, "steered_score": 60.0},
        "layer": 2,
    }
    assert [(e["nodeid"], e["outcome"]) for e in doc["expectations"]] == [
        ("s.yaml::a", "failed"),
        ("s.yaml::b", "passed"),
    ]
    assert doc["model"] == {"name": "tiny", "fingerprint": "fp"}
    usage = doc.get("usage") or {}
    assert (usage.get("judge") or {}).get("calls") == 4
    assert (usage.get("model") or {}).get("generated_tokens") == 10
    assert collector.build()["expectations"] == doc["expectations"]  # building again: same
