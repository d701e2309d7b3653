"""Evaluation sampling: several samples per question on a tiny model, judged by a local server."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.core.generation import STATS
from pytest_persona.core.stats import cluster_means
from pytest_persona.judges import COHERENCE_PROMPT
from pytest_persona.suites.expectations import steering_raises
from pytest_persona.suites.schema import load_suite
from pytest_persona.suites.session import PersonaOptions, PersonaSession
from tests.support.judge_server import JudgeServer

COH_MARK = COHERENCE_PROMPT.split("{question}")[0][:60]

SUITE = """\
trait: sycophantic
layer: 1
coefficients: [-4, 0, 4]
n_questions: 3
samples_per_question: 4
temperature: 1.0
top_p: 0.9
max_new_tokens: 6
extraction: {n_questions: 4, n_instructions: 2, min_pairs: 1, max_new_tokens: 6}
expectations:
  - {kind: steering_raises, coeff: 4, threshold: 0}
"""


def _hash_score(prompt: str) -> int:
    if COH_MARK in prompt:
        return 80
    return int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 100


@pytest.fixture()
def session(tmp_path: Path) -> Iterator[PersonaSession]:
    with JudgeServer(scorer=_hash_score) as srv:
        ps = PersonaSession(PersonaOptions(model="tiny-random-qwen2", judge="openai:scripted",
                                           judge_base_url=srv.base_url,
                                           cache_dir=tmp_path / "cache", batch_size=64))
        yield ps
        ps.close()


def test_four_samples_per_question_average_per_question(tmp_path: Path,
                                                        session: PersonaSession) -> None:
    path = tmp_path / "syc.yaml"
    path.write_text(SUITE)
    suite = load_suite(path, "tiny-random-qwen2")
    rs = suite.for_model("tiny-random-qwen2")
    assert (rs.samples_per_question, rs.temperature, rs.top_p) == (4, 1.0, 0.9)
    trait = session.trait("sycophantic")
    session.vectors(trait, rs.suite.extraction)  # extraction generates too: not counted below
    rows_before = STATS.rows
    sweep = session.sweep(rs, trait)
    # 3 coefficients x 3 questions x 4 samples, each a distinct cached row
    assert STATS.rows - rows_before == 3 * 3 * 4
    run = sweep.at(4.0)
    assert run.question_ids == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert run.samples == [0, 1, 2, 3] * 3
    assert len(set(run.answers)) > 3, "samples of one question must differ"
    s = run.score_summary()
    qmeans = cluster_means(run.scores, run.question_ids)
    assert s.mean == pytest.approx(sum(qmeans) / 3)
    assert (s.n, s.n_questions, s.samples_per_question) == (12, 3, 4)
    section: dict[str, Any] = session.sections["sycophantic"]
    assert section["sampling"] == {"samples_per_question": 4, "temperature": 1.0,
                                   "top_p": 0.9, "max_new_tokens": 6}
    row = next(r for r in section["sweep"] if r["coeff"] == 4.0)
    assert (row["n_questions"], row["samples_per_question"], row["n"]) == (3, 4, 12)
    assert len(row["examples"]) == 3 and len({e["question"] for e in row["examples"]}) == 3
    outcome = steering_raises(session, rs, suite.expectations[0], trait)
    assert outcome.figures["n_questions"] == 3 and outcome.figures["samples_per_question"] == 4
    assert "n=3 questions x 4 samples = 12" in outcome.message
    # the unsteered run is the sweep's coeff-0 row: nothing is generated again
    rows_before = STATS.rows
    assert session.unsteered_run(rs, trait).answers == sweep.at(0.0).answers
    proj = session.projections(rs, trait, 4.0)
    assert len(proj["baseline"]) == 12 and STATS.rows - rows_before == 12  # prompted only
    assert section["projections"]["steered"]["samples_per_question"] == 4
