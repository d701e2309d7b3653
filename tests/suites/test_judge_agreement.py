"""The judge_agreement expectation: the run's judge on a labelled file, against ``min``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.judges.base import JudgeResult
from pytest_persona.suites import expectations as ev
from pytest_persona.suites.schema import ResolvedSuite, SuiteError, load_suite
from tests.suites.test_expectations import FakeSession, _exp
from tests.support.fakes import resolved_suite


class ScriptedJudge:
    """Scores an answer by the number after 'S=' in it; None for 'none'."""

    id = "scripted"

    def __init__(self) -> None:
        self.requests: list[Any] = []

    def score_many_sync(self, requests: list[Any], progress: Any = None) -> list[JudgeResult]:
        self.requests += requests
        return [JudgeResult(None if "none" in r.answer else float(r.answer.split("S=")[1]))
                for r in requests]


class JudgedSession(FakeSession):
    scripted = ScriptedJudge()

    @property
    def judge(self) -> Any:
        return self.scripted


TRAIT = type("T", (), {"name": "evil", "sha256": "x", "eval_prompt": "P {question} {answer}"})()


@pytest.fixture()
def rs(tmp_path: Path) -> ResolvedSuite:
    return resolved_suite(tmp_path / "suite.yaml", layer=1, positions="all",
                          coefficients=[0.0, 1.0], n_questions=2, max_new_tokens=4)


def _labels(tmp_path: Path, rows: list[tuple[str, float]]) -> None:
    (tmp_path / "lab.jsonl").write_text("".join(
        json.dumps({"question": f"q{i}", "answer": a, "label": y}) + "\n"
        for i, (a, y) in enumerate(rows)))


def test_auc_against_min(tmp_path: Path, rs: ResolvedSuite) -> None:
    # positives 80, 40; negatives 50, 10: pairs won 1 + 1 + 0 + 1 = 3 of 4 -> AUC 0.75
    _labels(tmp_path, [("S=80", 1), ("S=40", 1), ("S=50", 0), ("S=10", 0), ("none", 0)])
    ps = JudgedSession(tmp_path)
    out = ev.judge_agreement(ps, rs, _exp("judge_agreement", file="lab.jsonl", min=0.75),
                             TRAIT)
    assert out.passed and out.figures["auc"] == 0.75
    assert out.figures["n"] == 4 and out.figures["missing"] == 1
    assert "AUC 0.750" in out.message and "1 unscored" in out.message
    assert ps.scripted.requests[0].eval_prompt == TRAIT.eval_prompt
    row = ps.section("evil")["judge_agreement"]["lab.jsonl"]
    assert row["metric"] == "auc" and row["value"] == 0.75 and row["n"] == 4
    below = ev.judge_agreement(ps, rs, _exp("judge_agreement", file="lab.jsonl", min=0.76),
                               TRAIT)
    assert not below.passed
    ci = ev.judge_agreement(ps, rs, _exp("judge_agreement", file="lab.jsonl", min=0.75,
                                         require="ci"), TRAIT)
    assert ci.passed is (ci.figures["ci_low"] >= 0.75) and "95% CI lower bound" in ci.message


def test_spearman_for_graded_labels(tmp_path: Path, rs: ResolvedSuite) -> None:
    # ranks of scores (1, 3, 2, 4) against labels (1, 2, 3, 4): rho = 0.8
    _labels(tmp_path, [("S=10", 0), ("S=70", 40), ("S=50", 60), ("S=100", 100)])
    out = ev.judge_agreement(JudgedSession(tmp_path), rs,
                             _exp("judge_agreement", file="lab.jsonl", min=0.5),
                             TRAIT)
    assert out.passed and out.figures["spearman"] == pytest.approx(0.8)
    assert "graded labels" in out.message


def test_builtin_and_missing_files_in_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("trait: evil\nexpectations:\n  - {kind: judge_agreement, "
                    "file: 'builtin:evil', min: 0.8}\n")
    assert load_suite(path).expectations[0].id == "judge_agreement[builtin-evil]"
    path.write_text("trait: evil\nexpectations:\n  - kind: judge_agreement\n    min: 0.8\n"
                    "    file: 'builtin:nope'\n")
    with pytest.raises(SuiteError, match="no shipped labelled set 'nope'") as info:
        load_suite(path)
    assert info.value.line == 5 and info.value.field == "expectations[0].file"
    path.write_text("trait: evil\nexpectations:\n  - kind: judge_agreement\n    min: 0.8\n"
                    "    file: missing.jsonl\n")
    with pytest.raises(SuiteError, match="labelled file not found") as info:
        load_suite(path)
    assert info.value.line == 5
