"""judge_repeats: per-answer spread, verdicts per repeat (flips, pass^k), offline refused."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_persona.errors import PersonaUsageError
from pytest_persona.judges.base import JudgeRequest, JudgeResult
from pytest_persona.suites import expectations as ev
from pytest_persona.suites import repeats as rp
from pytest_persona.suites.schema import ResolvedSuite, SuiteError, load_suite
from pytest_persona.suites.session import CoeffRun
from tests.suites.test_expectations import TRAIT, FakeSession, _exp


def _run(coeff: float, repeats: list[list[float | None]]) -> CoeffRun:
    run = CoeffRun(coeff, ["q0", "q1"], ["a0", "a1"], list(repeats[0]), [80.0, 80.0])
    run.score_repeats = [list(r) for r in repeats]
    run.coherence_repeats = [[80.0, 80.0] for _ in repeats]
    return run


class Judged(FakeSession):
    offline = False

    @property
    def judge(self) -> Any:
        return SimpleNamespace(is_offline=self.offline)

    @property
    def coherence_judge(self) -> Any:
        return SimpleNamespace(is_offline=self.offline)


def _rs(tmp_path: Path, k: int) -> ResolvedSuite:
    path = tmp_path / "s.yaml"
    path.write_text(f"trait: evil\njudge_repeats: {k}\nexpectations:\n"
                    "  - {kind: baseline_ceiling, max: 50}\n")
    suite = load_suite(path)
    return suite.for_model("m")


def test_spread_by_hand() -> None:
    assert rp.spread([[10.0, 50.0], [30.0, 50.0], [20.0, None]]) == [20.0, 0.0]
    assert rp.spread([[10.0], [None]]) == [None]
    run = _run(0.0, [[10.0, 50.0], [30.0, 40.0]])
    figs = rp.spread_figures(run)["judge_spread"]
    assert figs == {"k": 2, "mean": 15.0, "max": 20.0, "n": 2, "per_answer": [20.0, 10.0]}
    assert rp.spread_figures(CoeffRun(0.0, ["q"], ["a"], [1.0], [1.0])) == {}
    assert run.at_repeat(1).scores == [30.0, 40.0] and run.at_repeat(0).scores == [10.0, 50.0]


def test_a_verdict_that_flips_is_reported(tmp_path: Path) -> None:
    rs = _rs(tmp_path, 3)
    assert rs.judge_repeats == 3
    # means per repeat: 45, 55, 40 -> ceiling 50 holds, fails, holds
    ps = Judged(tmp_path, baseline_run=_run(0.0, [[40.0, 50.0], [50.0, 60.0], [30.0, 50.0]]))
    out = ev.baseline_ceiling(ps, rs, _exp("baseline_ceiling", max=50), TRAIT)
    assert out.passed  # repeat 0 decides the verdict itself
    assert out.figures["repeat_verdicts"] == [True, False, True]
    assert out.figures["verdict_flips"] is True and out.figures["pass_k"] is False
    assert "holds 2/3 (FLIPS" in out.message
    steady = Judged(tmp_path, baseline_run=_run(0.0, [[10.0, 20.0], [12.0, 20.0],
                                                      [10.0, 22.0]]))
    out = ev.baseline_ceiling(steady, rs, _exp("baseline_ceiling", max=50), TRAIT)
    assert out.figures["verdict_flips"] is False and out.figures["pass_k"] is True


def test_offline_judge_refuses_repeats(tmp_path: Path) -> None:
    ps = Judged(tmp_path, baseline_run=_run(0.0, [[1.0, 2.0], [1.0, 2.0]]))
    ps.offline = True
    with pytest.raises(PersonaUsageError, match="s.yaml:2: field 'judge_repeats'.*"
                                                "deterministic"):
        ev.baseline_ceiling(ps, _rs(tmp_path, 2), _exp("baseline_ceiling", max=50),
                            TRAIT)
    one = _rs(tmp_path, 1)  # k = 1 is the ordinary run, offline included
    out = ev.baseline_ceiling(ps, one, _exp("baseline_ceiling", max=50), TRAIT)
    assert "judge_repeats" not in out.figures


def test_ask_again_uses_repeat_indices() -> None:
    seen: list[int] = []

    class J:
        def score_many_sync(self, reqs: list[JudgeRequest], progress: Any = None
                            ) -> list[JudgeResult]:
            seen.extend(r.repeat for r in reqs)
            return [JudgeResult(float(r.repeat)) for r in reqs]

    reqs = [JudgeRequest("q", "a", "p"), JudgeRequest("q2", "a2", "p")]
    again = rp.ask_again(J(), reqs, 3)  # type: ignore[arg-type]
    assert seen == [1, 1, 2, 2] and rp.ask_again(J(), reqs, 1) == []  # type: ignore[arg-type]
    first = [JudgeResult(0.0), JudgeResult(0.0)]
    assert rp.scores_by_repeat(first, again, slice(1, 2)) == [[0.0], [1.0], [2.0]]


@pytest.mark.parametrize("value, match", [(0, "positive integer"), (21, "at most 20"),
                                          ("two", "positive integer")])
def test_bad_repeats_are_located(tmp_path: Path, value: object, match: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"trait: evil\njudge_repeats: {value}\nexpectations:\n"
                    "  - {kind: baseline_ceiling, max: 50}\n")
    with pytest.raises(SuiteError, match=match) as info:
        load_suite(path)
    assert info.value.line == 2 and info.value.field == "judge_repeats"


def test_repeats_through_the_plugin(pytester: pytest.Pytester) -> None:
    import json

    from tests.suites.test_doses_two_widths import _score
    from tests.support.judge_server import JudgeServer

    (pytester.path / "trait_suites").mkdir()
    (pytester.path / "trait_suites" / "syc.yaml").write_text(
        "trait: sycophantic\nlayer: 1\ncoefficients: [0, 2]\nn_questions: 2\n"
        "max_new_tokens: 4\njudge_repeats: 2\n"
        "extraction: {n_questions: 3, n_instructions: 1, min_pairs: 1, max_new_tokens: 4}\n"
        "expectations:\n  - {kind: steering_raises, coeff: 2, threshold: -1}\n"
        "  - {kind: baseline_ceiling, max: 100}\n")
    with JudgeServer(scorer=_score) as srv:
        args = ["trait_suites", "-p", "no:cacheprovider", "--model", "tiny-random-qwen2",
                "--judge", "openai:scripted-2025-04-14", "--judge-base-url", srv.base_url,
                "--persona-cache", str(pytester.path / "cache"), "--persona-results",
                "r.json"]
        res = pytester.runpytest_subprocess(*args, timeout=300)
        res.assert_outcomes(passed=2)
        cold = srv.calls
        pytester.runpytest_subprocess(*args, timeout=300).assert_outcomes(passed=2)
        assert srv.calls == cold  # repeats are cached under their own keys
    res.stdout.fnmatch_lines(["*judge repeats (k=2): 0 of 2 judge-based verdicts flip*"])
    doc = json.loads((pytester.path / "r.json").read_text())
    figs = {e["kind"]: e["figures"] for e in doc["expectations"]}
    assert figs["steering_raises"]["repeat_verdicts"] == [True, True]
    assert figs["baseline_ceiling"]["pass_k"] is True
    row = doc["traits"]["sycophantic"]["sweep"][0]
    assert row["judge_spread"]["k"] == 2 and row["judge_spread"]["mean"] == 0.0
