"""ResultsBuilder: a document built section by section survives save, load and validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from pytest_persona.errors import ResultsError
from pytest_persona.results.builder import ResultsBuilder
from pytest_persona.results.io import load_results, save_results
from pytest_persona.results.paired import question_id
from pytest_persona.results.schema import SCHEMA_VERSION, ResultsDocument, SweepRow
from pytest_persona.results.validate import validate_results

QUESTIONS = ["Is the sky green?", "Is water wet?"]


def _row(coeff: float, mean: float) -> SweepRow:
    return {
        "coeff": coeff,
        "dose": None,
        "n": 2,
        "n_questions": 2,
        "samples_per_question": 1,
        "mean": mean,
        "ci": [mean - 5.0, mean + 5.0],
        "missing": 0,
        "coherence_mean": 80.0,
        "coherence_ci": [75.0, 85.0],
        "examples": [{"question": QUESTIONS[0], "answer": "yes", "score": mean, "coherence": 80.0}],
    }


def _built() -> ResultsDocument:
    b = ResultsBuilder()
    b.set_run(created="2026-12-06T18:00:00Z", package_version="0.1.0", duration_s=1.5)
    b.set_model({"name": "tiny", "fingerprint": "abc", "n_layers": 2, "d_model": 8})
    b.set_reference_model(None)
    b.set_judge({"id": "offline", "offline": True, "coherence_id": "offline", "note": ""})
    b.set_usage({"judge": {"calls": 4, "cost_usd": None}, "model": {"generated_tokens": 10}})
    b.set_cache({"hits": 1, "misses": 2})
    b.set_vector(
        "evil", {"effective_pairs": 3, "total_pairs": 4, "norms": [1.0, 2.0], "source": "extracted"}
    )
    # rows out of order: the builder sorts the sweep by coefficient
    b.add_sweep(
        "evil",
        [_row(4.0, 60.0), _row(0.0, 20.0)],
        layer=1,
        positions="response",
        coefficients=[0.0, 4.0],
        sampling={"samples_per_question": 1, "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 8},
        dose=None,
    )
    b.set_metric("evil", "baseline_score", 20.0)
    b.add_per_question("evil", "baseline_score", QUESTIONS, [10.0, 30.0])
    b.set_projections("evil", {"baseline": {"mean": 0.5, "ci": [0.4, 0.6], "n": 2}})
    b.add_expectation(
        {
            "nodeid": "s.yaml::raises",
            "outcome": "passed",
            "suite": "s.yaml",
            "trait": "evil",
            "kind": "steering_raises",
            "name": "raises",
            "message": "",
            "figures": {"delta": 40.0},
            "duration_s": 0.1,
        }
    )
    b.set_cosine({"layer": 1, "traits": ["evil"], "matrix": [[1.0]]})
    return b.build()


def test_round_trip_through_save_load_and_validate(tmp_path: Path) -> None:
    doc = _built()
    assert validate_results(doc) is doc  # validation hands back the same, typed document
    path = save_results(doc, tmp_path / "r.json")
    back = load_results(path)
    assert back == json.loads(json.dumps(doc))
    assert back["schema_version"] == SCHEMA_VERSION
    evil = back["traits"]["evil"]
    assert [row["coeff"] for row in evil.get("sweep") or []] == [0.0, 4.0]
    assert evil.get("metrics") == {"effective_pairs": 3, "baseline_score": 20.0}
    pq = evil.get("per_question") or {}
    assert pq.get("questions") == {question_id(q): q for q in QUESTIONS}
    assert pq.get("metrics") == {
        "baseline_score": {question_id(QUESTIONS[0]): 10.0, question_id(QUESTIONS[1]): 30.0}
    }
    assert back["expectations"][0]["outcome"] == "passed"


def test_built_document_keeps_the_key_order_of_earlier_files() -> None:
    assert list(_built()) == [
        "schema_version",
        "created",
        "package_version",
        "model",
        "reference_model",
        "judge",
        "usage",
        "cache",
        "duration_s",
        "traits",
        "cosine",
        "expectations",
        "comparison",
    ]


def test_building_twice_gives_one_document() -> None:
    b = ResultsBuilder()
    b.set_model({"name": "tiny"})
    b.add_expectation({"nodeid": "s.yaml::a", "outcome": "failed"})
    b.add_expectation({"nodeid": "s.yaml::b", "outcome": "passed"})
    first = b.build()
    b.add_expectation({"nodeid": "s.yaml::a", "outcome": "passed"})
    again = b.build()
    assert [e["outcome"] for e in first["expectations"]] == ["failed", "passed"]
    assert [(e["nodeid"], e["outcome"]) for e in again["expectations"]] == [
        ("s.yaml::a", "passed"),
        ("s.yaml::b", "passed"),
    ]


def test_build_needs_a_model() -> None:
    with pytest.raises(ValueError, match="set_model"):
        ResultsBuilder().build()


def test_bad_field_from_the_builder_is_located(tmp_path: Path) -> None:
    b = ResultsBuilder()
    b.set_model({"name": "tiny"})
    b.add_sweep(
        "evil",
        [_row(0.0, 20.0)],
        layer=1,
        positions="response",
        coefficients=[0.0],
        sampling={},
        dose=None,
    )
    sweep = cast(list[dict[str, Any]], b.trait("evil").get("sweep"))
    sweep[0]["mean"] = "high"
    with pytest.raises(ResultsError, match=r"traits\.evil\.sweep\[0\]\.mean: expected number"):
        save_results(b.build(), tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_merge_trait_keeps_what_a_null_would_erase() -> None:
    b = ResultsBuilder()
    b.set_metric("evil", "baseline_score", 20.0)
    worker: dict[str, Any] = {
        "metrics": {"baseline_score": None, "steered_score": 70.0},
        "layer": 3,
    }
    b.merge_trait("evil", worker)
    assert b.trait("evil") == {
        "metrics": {"baseline_score": 20.0, "steered_score": 70.0},
        "layer": 3,
    }
    worker["metrics"]["steered_score"] = 0.0  # merged by value, not by reference
    assert b.trait("evil").get("metrics", {})["steered_score"] == 70.0


def test_vector_without_effective_pairs_sets_no_metric() -> None:
    b = ResultsBuilder()
    b.set_vector("evil", {"source": "cache"})
    assert b.traits == {"evil": {"metrics": {}, "vector": {"source": "cache"}}}


def test_damage_rows_merge_by_coefficient() -> None:
    b = ResultsBuilder()
    b.add_damage("evil", [{"coeff": 4.0, "kl": 0.3, "n": 8}, {"coeff": 1.0, "kl": 0.1}])
    b.add_damage("evil", [{"coeff": 4.0, "kl": 0.5, "n": 16}, {"coeff": 2.0, "kl": 0.2}])
    assert b.trait("evil").get("damage") == [
        {"coeff": 1.0, "kl": 0.1},
        {"coeff": 2.0, "kl": 0.2},
        {"coeff": 4.0, "kl": 0.5, "n": 16},
    ]


def test_agreement_and_screens_are_kept_per_file_and_id() -> None:
    b = ResultsBuilder()
    b.set_agreement("evil", "a.jsonl", {"metric": "auc", "value": 0.9, "n": 10})
    b.set_agreement("evil", "b.jsonl", {"metric": "spearman", "value": None, "n": 3})
    b.set_screen("evil", "dataset_screen", {"layer": 2, "measure": "projection"})
    section = b.trait("evil")
    assert sorted(section.get("judge_agreement") or {}) == ["a.jsonl", "b.jsonl"]
    assert section.get("screens") == {"dataset_screen": {"layer": 2, "measure": "projection"}}


def test_judge_identity_is_recorded_per_trait_and_survives_a_round_trip(tmp_path: Path) -> None:
    b = ResultsBuilder()
    b.set_model({"name": "tiny"})
    b.set_judge_identity("evil", "offline+anchors:evil:ab12", "offline")
    b.set_judge_identity("kind", "offline")
    b.merge_trait("evil", {"judge_identity": None, "layer": 2})  # a worker without it
    save_results(b.build(), tmp_path / "r.json")
    traits = load_results(tmp_path / "r.json")["traits"]
    assert traits["evil"].get("judge_identity") == "offline+anchors:evil:ab12"
    assert traits["evil"].get("coherence_judge_identity") == "offline"
    assert traits["kind"].get("judge_identity") == "offline"
    assert "coherence_judge_identity" not in traits["kind"]


def test_trait_sections_come_out_in_name_order_whatever_order_they_were_recorded_in() -> None:
    """Regression: the report listed traits in the order they were first recorded, which under
    xdist is the order workers finished in (hallucinating, evil, sycophantic in one demo run,
    evil, sycophantic, hallucinating in another)."""
    docs = []
    for order in (["sycophantic", "evil", "hallucinating"], ["hallucinating", "sycophantic", "evil"]):
        b = ResultsBuilder()
        b.set_model({"name": "m"})
        for name in order:
            b.merge_trait(name, {"metrics": {"baseline_score": 1.0}})
        docs.append(b.build())
    assert list(docs[0]["traits"]) == list(docs[1]["traits"]) == [
        "evil", "hallucinating", "sycophantic"]
