"""Issue 25 item 6: a judge server that trickles its answer one byte at a time resets the
SDK's per-read timeout for ever. Every call has an overall deadline: past it the call is
cancelled and retried, then reported missing (a transport failure), never cached; the run
ends on its own."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pytest_persona.judges._api_common import DEADLINE_ENV, resolve_deadline
from pytest_persona.judges.anthropic_judge import AnthropicJudge
from pytest_persona.judges.base import Judge, JudgeRequest
from pytest_persona.judges.openai_judge import OpenAIJudge
from tests.support.judge_server import JudgeServer

TEMPLATE = "Rate.\nQuestion: {question}\nAnswer: {answer}\nA number from 0 to 100."
# one byte every 0.1 s: each read is well inside the 0.5 s SDK timeout; the ~700-byte answer
# would take over a minute
TRICKLE = dict(trickle_seconds=0.1)


def _judge(kind: str, srv: JudgeServer, cache: Path, **kw: object) -> Judge:
    common: dict[str, object] = dict(timeout=0.5, max_retries=1, cache_path=cache, **kw)
    if kind == "openai":
        return OpenAIJudge("gpt-4.1-mini-2025-04-14", base_url=srv.base_url, **common)  # type: ignore[arg-type]
    return AnthropicJudge("claude-haiku-4-5-20251001", base_url=srv.anthropic_base_url,
                          **common)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_trickling_server_is_cut_off_retried_then_missing(tmp_path: Path, kind: str) -> None:
    cache = tmp_path / "judge.sqlite"
    with JudgeServer(scorer=lambda p: 70, **TRICKLE) as srv:  # type: ignore[arg-type]
        srv.queue("trickle", "trickle")  # every attempt (1 + max_retries) trickles
        judge = _judge(kind, srv, cache, deadline=1.0)
        start = time.perf_counter()
        [result] = judge.score_many_sync([JudgeRequest("q", "a", TEMPLATE)])
        took = time.perf_counter() - start
        judge.close()
        assert result.score is None and "deadline" in (result.missing_reason or "")
        assert "2 attempts" in (result.missing_reason or "")
        assert took < 6.0, f"the call took {took:.1f} s past a 1 s deadline x 2 attempts"
        assert srv.calls == 2
        # never cached: the next run asks again, and (the server now answering) gets a score
        again = _judge(kind, srv, cache, deadline=1.0)
        [second] = again.score_many_sync([JudgeRequest("q", "a", TEMPLATE)])
        again.close()
        assert second.score == pytest.approx(70, abs=1.5) and not second.cached
        assert srv.calls == 3


def test_one_trickle_is_retried_and_scored(tmp_path: Path) -> None:
    with JudgeServer(scorer=lambda p: 30, **TRICKLE) as srv:  # type: ignore[arg-type]
        srv.queue("trickle")
        judge = _judge("openai", srv, tmp_path / "judge.sqlite", deadline=1.0)
        [result] = judge.score_many_sync([JudgeRequest("q", "a", TEMPLATE)])
        judge.close()
        assert result.score == pytest.approx(30, abs=1.5)
        assert srv.calls == 2


def test_many_trickling_calls_end_together(tmp_path: Path) -> None:
    """Concurrent calls each get their own deadline; the batch ends in about one deadline
    per attempt, not one per call."""
    with JudgeServer(scorer=lambda p: 50, **TRICKLE) as srv:  # type: ignore[arg-type]
        srv.queue(*["trickle"] * 16)
        judge = _judge("openai", srv, tmp_path / "judge.sqlite", deadline=1.0, concurrency=8)
        start = time.perf_counter()
        results = judge.score_many_sync([JudgeRequest(f"q{i}", "a", TEMPLATE) for i in range(8)])
        took = time.perf_counter() - start
        judge.close()
        assert all(r.score is None for r in results)
        assert judge.usage.missing == 8
        assert took < 8.0


def test_default_deadline_is_a_few_sdk_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEADLINE_ENV, raising=False)
    assert resolve_deadline(None, 30.0) == 90.0
    assert OpenAIJudge("m", base_url="http://127.0.0.1:9/v1", timeout=2.0).deadline == 6.0
    monkeypatch.setenv(DEADLINE_ENV, "12.5")
    assert resolve_deadline(None, 30.0) == 12.5
    assert resolve_deadline(4.0, 30.0) == 4.0
    for bad in ("soon", "0", "-1", "nan", "inf"):
        monkeypatch.setenv(DEADLINE_ENV, bad)
        with pytest.raises(ValueError, match=DEADLINE_ENV):
            resolve_deadline(None, 30.0)
