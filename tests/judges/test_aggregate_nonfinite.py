"""Non-finite or positive logprobs are a malformed answer with a reason, never a score (#25.1)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from pytest_persona.judges.aggregate import aggregate_logprobs
from pytest_persona.judges.base import JudgeRequest
from pytest_persona.judges.openai_judge import OpenAIJudge
from tests.support.judge_server import JudgeServer


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0.5, 3.0, 1e308])
def test_non_finite_or_positive_logprob_is_malformed(bad: float) -> None:
    score, reason = aggregate_logprobs([("70", bad), ("30", math.log(0.1))])
    assert score is None
    assert reason is not None and reason.startswith("malformed answer")
    assert "70" in reason


def test_minus_inf_is_zero_probability_not_malformed() -> None:
    score, reason = aggregate_logprobs([("70", -math.inf), ("30", math.log(0.9))])
    assert reason is None and score == pytest.approx(30.0)


def test_logprob_zero_is_certainty() -> None:
    assert aggregate_logprobs([("42", 0.0)]) == (42.0, None)


def test_nan_from_a_server_is_missing_cold_and_warm_alike(tmp_path: Path) -> None:
    """Every tenth answer NaN: the cold run and the warm run report the same missing count."""
    calls = {"n": 0}

    def scorer(prompt: str) -> dict[str, float]:
        calls["n"] += 1
        return {"70": math.nan} if "q3" in prompt or "q7" in prompt else {"60": 0.97, "I": 0.03}

    reqs = [JudgeRequest(f"q{i}", "a", "Q {question} A {answer}") for i in range(10)]
    with JudgeServer(scorer, openai_model="m-2025-04-14") as srv:
        cold_judge = OpenAIJudge("m-2025-04-14", base_url=srv.base_url,
                                 cache_path=tmp_path / "j.sqlite", max_retries=0)
        with cold_judge:
            cold = cold_judge.score_many_sync(reqs)
        with OpenAIJudge("m-2025-04-14", base_url=srv.base_url,
                         cache_path=tmp_path / "j.sqlite", max_retries=0) as warm_judge:
            warm = warm_judge.score_many_sync(reqs)
    assert [r.missing for r in cold] == [r.missing for r in warm]
    assert sum(r.missing for r in cold) == 2
    assert all(r.score is None or math.isfinite(r.score) for r in cold + warm)
    assert all(r.cached for r in warm)
    assert all((r.missing_reason or "").startswith("malformed answer") for r in warm if r.missing)


def test_cache_refuses_a_non_finite_score(tmp_path: Path) -> None:
    from pytest_persona.judges.cache import JudgeCache

    cache = JudgeCache(tmp_path / "j.sqlite")
    with pytest.raises(ValueError, match="finite"):
        cache.put("k", "j", "t", math.nan)
    cache.close()
