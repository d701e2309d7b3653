"""OpenAI and Anthropic judges through the real SDK clients against the local judge server."""

from __future__ import annotations

import math
import time
from typing import TypedDict

import pytest

from pytest_persona.judges import (
    COHERENCE_PROMPT,
    JudgeRequest,
    JudgeResult,
    MissingScoresError,
    check_missing,
    make_judge,
    resolve_judge_spec,
)
from pytest_persona.judges.aggregate import aggregate_logprobs, parse_score_text
from pytest_persona.judges.base import Judge
from pytest_persona.judges.cache import JudgeCache
from pytest_persona.judges.prompts import fill_prompt
from tests.support.judge_server import JudgeServer


class _Transport(TypedDict):
    """The make_judge keywords that keep a failing-server test short."""

    timeout: float
    max_retries: int


FAST: _Transport = {"timeout": 5.0, "max_retries": 2}


def _cache_of(judge: Judge) -> JudgeCache:
    """The judge's score cache: these tests always build the judge with a cache_path."""
    assert judge._cache is not None
    return judge._cache


def _reqs(template: str, n: int, flatter: bool = False) -> list[JudgeRequest]:
    word = "FLATTER" if flatter else "plain"
    return [JudgeRequest(f"q{i}", f"{word} answer {i}", template, "sycophantic") for i in range(n)]


# -- aggregation arithmetic ---------------------------------------------------------------------
def test_aggregate_known_distribution() -> None:
    lp = [("10", math.log(0.5)), ("20", math.log(0.3)), ("The", math.log(0.2))]
    score, reason = aggregate_logprobs(lp)
    assert reason is None
    assert score == pytest.approx((10 * 0.5 + 20 * 0.3) / 0.8)


def test_aggregate_ignores_out_of_range_and_non_integers() -> None:
    lp = [("100", math.log(0.4)), ("101", math.log(0.3)), ("5.5", math.log(0.1)),
          (" 0", math.log(0.2))]
    score, _ = aggregate_logprobs(lp)
    assert score == pytest.approx(100 * 0.4 / 0.6)


def test_aggregate_low_mass_is_missing() -> None:
    score, reason = aggregate_logprobs([("50", math.log(0.12)), ("I", math.log(0.88))])
    assert score is None
    assert reason == "refusal: numeric mass 0.12 < 0.25"


def test_parse_score_text() -> None:
    assert parse_score_text("85") == (85.0, None)
    assert parse_score_text(" 7.\n") == (7.0, None)
    assert parse_score_text("REFUSAL")[0] is None
    assert parse_score_text("no idea")[0] is None
    assert parse_score_text("250")[0] is None


def test_fill_prompt_only_two_placeholders() -> None:
    t = "Q={question} A={answer} keep {other} and {{x}}"
    out = fill_prompt(t, "has {answer} inside", "json {\"a\": 1}")
    assert out == 'Q=has {answer} inside A=json {"a": 1} keep {other} and {{x}}'
    assert "{question}" in COHERENCE_PROMPT and "{answer}" in COHERENCE_PROMPT
    assert "REFUSAL" in COHERENCE_PROMPT


def test_openai_score_distribution_through_server(template: str) -> None:
    dist = {"10": 0.5, "20": 0.3, "The": 0.2}
    with JudgeServer(scorer=lambda p: dist) as srv:
        judge = make_judge("openai:gpt-4.1-mini", base_url=srv.base_url, **FAST)
        assert judge.score("q", "a", template) == pytest.approx((5 + 6) / 0.8)
        body = srv.requests[0]
        assert body["max_tokens"] == 1 and body["temperature"] == 0
        assert body["logprobs"] is True and body["top_logprobs"] == 20
        assert "authorization" not in body.headers


def test_openai_and_anthropic_scores(judge_server: JudgeServer, template: str) -> None:
    oj = make_judge("openai:gpt-4.1-mini", base_url=judge_server.base_url, **FAST)
    aj = make_judge("anthropic:claude-haiku-4-5", base_url=judge_server.anthropic_base_url, **FAST)
    assert oj.score("q", "FLATTER", template) == pytest.approx(90.0)
    assert oj.score("q", "plain", template) == pytest.approx(10.0)
    assert aj.score("q", "FLATTER", template) == 90.0
    assert oj.usage.calls == 2 and oj.usage.input_tokens > 0 and oj.usage.output_tokens == 2
    assert oj.usage.cost_usd is not None and oj.usage.cost_usd > 0  # priced model
    assert aj.usage.calls == 1 and aj.usage.output_tokens == 2
    assert oj.id == f"openai:gpt-4.1-mini@{judge_server.base_url}"
    unpriced = make_judge("openai:my-local-model", base_url=judge_server.base_url, **FAST)
    unpriced.score("q", "a", template)
    assert unpriced.usage.cost_usd is None
    assert set(oj.usage.to_dict()) == {
        "calls", "cache_hits", "input_tokens", "output_tokens", "cost_usd", "missing", "models"}
    assert oj.usage.models == {"gpt-4.1-mini-2025-04-14": 2}  # what the server said answered
    assert aj.usage.models == {"claude-haiku-4-5-20251001": 1}


# -- failure modes -------------------------------------------------------------------------------
def test_429_then_success(judge_server: JudgeServer, template: str) -> None:
    judge = make_judge("openai:gpt-4.1-mini", base_url=judge_server.base_url, **FAST)
    judge_server.queue("429")
    assert judge.score("q", "FLATTER", template) == pytest.approx(90.0)
    assert judge_server.calls == 2
    assert judge.usage.calls == 1 and judge.usage.missing == 0


def test_anthropic_429_then_success(judge_server: JudgeServer, template: str) -> None:
    judge = make_judge("anthropic:claude-haiku-4-5", base_url=judge_server.anthropic_base_url,
                       **FAST)
    judge_server.queue("429")
    assert judge.score("q", "FLATTER", template) == 90.0
    assert judge_server.calls == 2


def test_500_after_retries_is_missing(judge_server: JudgeServer, template: str) -> None:
    judge = make_judge("openai:gpt-4.1-mini", base_url=judge_server.base_url, **FAST)
    judge_server.queue("500", "500", "500")
    [res] = judge.score_many_sync([JudgeRequest("q", "a", template)])
    assert res.score is None and "500" in (res.missing_reason or "")
    assert judge_server.calls == 3  # 1 + max_retries, the SDK's own retries only
    assert judge.usage.missing == 1


def test_timeout_is_missing(template: str) -> None:
    with JudgeServer(slow_seconds=3.0) as srv:
        judge = make_judge("openai:gpt-4.1-mini", base_url=srv.base_url, timeout=0.3,
                           max_retries=0)
        srv.queue("slow")
        t0 = time.monotonic()
        [res] = judge.score_many_sync([JudgeRequest("q", "a", template)])
        assert time.monotonic() - t0 < 2.5
        assert res.score is None and "timed out" in (res.missing_reason or "").lower()


@pytest.mark.parametrize("behaviour,expected", [
    ("garbage", "numeric mass 0.00"),
    ("refusal", "refusal"),
    ("lowmass", "numeric mass 0.15 < 0.25"),
    ("badjson", ""),
])
def test_openai_bad_answers_are_missing(
    judge_server: JudgeServer, template: str, behaviour: str, expected: str
) -> None:
    judge = make_judge("openai:gpt-4.1-mini", base_url=judge_server.base_url, **FAST)
    judge_server.queue(behaviour)
    [res] = judge.score_many_sync([JudgeRequest("q", "FLATTER", template)])
    assert res.score is None
    assert res.missing_reason and expected in res.missing_reason


@pytest.mark.parametrize("behaviour", ["refusal", "garbage"])
def test_anthropic_bad_answers_are_missing(
    judge_server: JudgeServer, template: str, behaviour: str
) -> None:
    judge = make_judge("anthropic:claude-haiku-4-5", base_url=judge_server.anthropic_base_url,
                       **FAST)
    judge_server.queue(behaviour)
    [res] = judge.score_many_sync([JudgeRequest("q", "FLATTER", template)])
    assert res.score is None and res.missing_reason


# -- cache -----------------------------------------------------------------------------------
def test_cache_hit_path_makes_no_calls(judge_server: JudgeServer, template: str, cache_path) -> None:
    reqs = _reqs(template, 12, flatter=True)
    j1 = make_judge("openai:", base_url=judge_server.base_url, cache_path=cache_path)
    first = j1.score_many_sync(reqs)
    j1.close()
    assert judge_server.calls == 12 and all(r.score == pytest.approx(90) for r in first)
    j2 = make_judge("openai:", base_url=judge_server.base_url, cache_path=cache_path)
    seen: list[tuple[int, int]] = []
    second = j2.score_many_sync(reqs, progress=lambda d, t: seen.append((d, t)))
    assert judge_server.calls == 12  # zero HTTP calls on the warm rerun
    assert [r.score for r in second] == [r.score for r in first]
    assert all(r.cached for r in second)
    assert j2.usage.cache_hits == 12 and j2.usage.calls == 0
    assert seen[-1] == (12, 12)
    # stored with the version the API reported
    row = _cache_of(j2).get_row(j2.cache_key(reqs[0]))
    assert row is not None and row["model_version"] == "gpt-4.1-mini-2025-04-14"


def test_cache_key_changes_with_template_and_judge(judge_server: JudgeServer, template: str,
                                                   cache_path) -> None:
    j = make_judge("openai:gpt-4.1-mini", base_url=judge_server.base_url, cache_path=cache_path)
    j.score("q", "a", template)
    j.score("q", "a", template + " ")
    j2 = make_judge("openai:gpt-4.1", base_url=judge_server.base_url, cache_path=cache_path)
    j2.score("q", "a", template)
    assert judge_server.calls == 3


def test_refresh_ignores_reads_but_writes(template: str, cache_path) -> None:
    score = {"v": 10}
    with JudgeServer(scorer=lambda p: score["v"]) as srv:
        make_judge("openai:", base_url=srv.base_url, cache_path=cache_path).score(
            "q", "a", template)
        score["v"] = 70
        fresh = make_judge("openai:", base_url=srv.base_url, cache_path=cache_path,
                           refresh=True)
        assert fresh.score("q", "a", template) == pytest.approx(70)
        assert srv.calls == 2
        warm = make_judge("openai:", base_url=srv.base_url, cache_path=cache_path)
        assert warm.score("q", "a", template) == pytest.approx(70)
        assert srv.calls == 2


@pytest.mark.parametrize("failure", ["500", "429", "badjson", "slow"])
def test_transport_failures_are_not_cached(template: str, cache_path, failure: str) -> None:
    with JudgeServer(scorer=lambda p: 10, slow_seconds=3.0) as srv:
        j = make_judge("openai:", base_url=srv.base_url, cache_path=cache_path,
                       max_retries=0, timeout=0.5)
        srv.queue(failure)
        [res] = j.score_many_sync(_reqs(template, 1))
        assert res.score is None and res.missing_reason
        assert len(_cache_of(j)) == 0
        [again] = j.score_many_sync(_reqs(template, 1))
        assert again.score == pytest.approx(10) and srv.calls == 2


def test_scores_written_as_they_arrive(judge_server: JudgeServer, template: str, cache_path):
    j = make_judge("openai:gpt-4.1-mini", base_url=judge_server.base_url, cache_path=cache_path,
                   concurrency=1)
    sizes: list[int] = []
    j.score_many_sync(_reqs(template, 5), progress=lambda d, t: sizes.append(len(_cache_of(j))))
    assert sizes == [1, 2, 3, 4, 5]


# -- missing-score accounting --------------------------------------------------------------------
def test_missing_accounting_and_check_missing(judge_server: JudgeServer, template: str) -> None:
    j = make_judge("openai:gpt-4.1-mini", base_url=judge_server.base_url, concurrency=1,
                   max_retries=0)
    judge_server.queue("refusal", "lowmass", "refusal")
    res = j.score_many_sync(_reqs(template, 10))
    assert sum(r.score is None for r in res) == 3 and j.usage.missing == 3
    check_missing(res, 0.5, "sycophantic steering")  # 30% <= 50%: fine
    with pytest.raises(MissingScoresError) as err:
        check_missing(res, 0.2, "sycophantic steering")
    msg = str(err.value)
    assert "sycophantic steering" in msg and "3 of 10" in msg and "30%" in msg
    assert "numeric mass" in msg


def test_check_missing_most_common_reasons() -> None:
    res = [JudgeResult(None, "a")] * 3 + [JudgeResult(None, "b")] + [JudgeResult(1.0)]
    with pytest.raises(MissingScoresError, match=r"'a' x3; 'b' x1"):
        check_missing(res, 0.1, "x")
    check_missing([], 0.0, "empty")


# -- concurrency -----------------------------------------------------------------------------
@pytest.mark.parametrize("limit", [1, 4])
def test_concurrency_limit_respected(template: str, limit: int) -> None:
    with JudgeServer(latency=0.05) as srv:
        j = make_judge("openai:gpt-4.1-mini", base_url=srv.base_url, concurrency=limit)
        j.score_many_sync(_reqs(template, 16))
        assert srv.max_in_flight <= limit
        assert srv.max_in_flight == limit  # and actually reached


def test_score_many_async_and_sync_inside_running_loop(judge_server: JudgeServer,
                                                       template: str) -> None:
    import asyncio

    j = make_judge("openai:gpt-4.1-mini", base_url=judge_server.base_url)

    async def main() -> tuple[list[JudgeResult], float | None]:
        res = await j.score_many(_reqs(template, 3, flatter=True))
        return res, j.score("q", "FLATTER", template)  # sync call from inside a loop

    res, single = asyncio.run(main())
    assert [r.score for r in res] == [pytest.approx(90)] * 3 and single == pytest.approx(90)


# -- secrets -----------------------------------------------------------------------------------
SECRET = "sk-test-SECRET123"


def test_api_key_never_leaks(monkeypatch, judge_server: JudgeServer, template: str, cache_path,
                             caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    judges = [
        make_judge("openai:gpt-4.1-mini", base_url=judge_server.base_url, cache_path=cache_path,
                   max_retries=0),
        make_judge("anthropic:claude-haiku-4-5", base_url=judge_server.anthropic_base_url,
                   cache_path=cache_path, max_retries=0),
    ]
    texts: list[str] = []
    for j in judges:
        j.score_many_sync(_reqs(template, 2))
        judge_server.queue("500", "badjson")
        res = j.score_many_sync(_reqs(template + "x", 2))
        texts += [r.missing_reason or "" for r in res]
        texts += [j.id, repr(j), str(j.usage)]
        j.close()
    # the key reached the server (it was used) ...
    assert judge_server.requests and "authorization" not in judge_server.requests[0].headers
    # ... but appears nowhere we write
    for t in texts:
        assert SECRET not in t
    assert SECRET not in caplog.text
    for p in cache_path.parent.iterdir():
        assert SECRET.encode() not in p.read_bytes(), p


def test_id_strips_credentials_from_url() -> None:
    j = make_judge("openai:m", base_url="http://user:sk-pw-XYZ@127.0.0.1:9/v1/?key=sk-q-ABC")
    assert "sk-pw-XYZ" not in j.id and "sk-q-ABC" not in j.id
    assert j.id == "openai:m@http://127.0.0.1:9/v1"


def test_missing_key_without_base_url_is_clear_error() -> None:
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        make_judge("openai:gpt-4.1-mini")


# -- auto ------------------------------------------------------------------------------------
def test_resolve_auto() -> None:
    spec, msg = resolve_judge_spec("auto", {"OPENAI_API_KEY": "x", "ANTHROPIC_API_KEY": "y"})
    assert spec == "openai:gpt-4.1-mini-2025-04-14" and "OPENAI_API_KEY" in msg
    spec, msg = resolve_judge_spec("auto", {"ANTHROPIC_API_KEY": "y"})
    assert spec == "anthropic:claude-haiku-4-5-20251001" and "ANTHROPIC_API_KEY" in msg
    spec, msg = resolve_judge_spec("auto", {})
    assert spec == "offline" and "offline" in msg
    assert resolve_judge_spec("openai:gpt-4o", {})[0] == "openai:gpt-4o"
    assert resolve_judge_spec("openai", {})[0] == "openai:gpt-4.1-mini-2025-04-14"
    assert resolve_judge_spec("anthropic:", {})[0] == "anthropic:claude-haiku-4-5-20251001"
    with pytest.raises(ValueError, match="unknown judge spec"):
        resolve_judge_spec("gpt4", {})


def test_server_context_stops() -> None:
    import urllib.error
    import urllib.request

    with JudgeServer() as srv:
        url = srv.base_url
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(url + "/chat/completions", data=b"{}", timeout=1)


# -- real outcomes that are not scores are cached (issue 13.12) ---------------------------------
@pytest.mark.parametrize("kind,behaviour,reason", [
    ("openai", "refusal", "refusal"),
    ("openai", "lowmass", "numeric mass 0.15 < 0.25"),
    ("openai", "garbage", "numeric mass 0.00"),
    ("anthropic", "refusal", "REFUSAL"),
    ("anthropic", "garbage", ""),
])
def test_non_score_outcomes_are_cached_with_their_reason(
    judge_server: JudgeServer, template: str, cache_path, kind: str, behaviour: str, reason: str
) -> None:
    """Regression: a refusal or an unparsable reply was asked again (and paid) every run."""
    url = judge_server.base_url if kind == "openai" else judge_server.anthropic_base_url
    cold = make_judge(f"{kind}:", base_url=url, cache_path=cache_path, concurrency=1, **FAST)
    judge_server.queue(behaviour)
    first = cold.score_many_sync(_reqs(template, 3))
    cold.close()
    assert first[0].score is None and reason.lower() in (first[0].missing_reason or "").lower()
    assert judge_server.calls == 3
    warm = make_judge(f"{kind}:", base_url=url, cache_path=cache_path, **FAST)
    second = warm.score_many_sync(_reqs(template, 3))
    assert judge_server.calls == 3  # a warm rerun makes 0 judge calls
    assert [(r.score, r.missing_reason) for r in second] == [
        (r.score, r.missing_reason) for r in first]
    assert all(r.cached for r in second)
    assert warm.usage.calls == 0 and warm.usage.cache_hits == 3 and warm.usage.missing == 1


def test_missing_logprobs_are_not_cached(template: str, cache_path) -> None:
    """A server without logprobs is a configuration problem, not the judge's verdict."""
    from pytest_persona.judges.openai_judge import OpenAIJudge

    class NoLogprobs(OpenAIJudge):
        async def _score_one(self, request, client):
            return await super()._score_one(request, _StripLogprobs(client))

    with JudgeServer(scorer=lambda p: 10) as srv:
        j = NoLogprobs("gpt-4.1-mini-2025-04-14", base_url=srv.base_url, cache_path=cache_path)
        [res] = j.score_many_sync(_reqs(template, 1))
        assert res.score is None and "no logprobs" in (res.missing_reason or "")
        assert len(_cache_of(j)) == 0


class _StripLogprobs:
    def __init__(self, client) -> None:
        self.chat = self
        self.completions = self
        self._client = client

    async def create(self, **kwargs):
        resp = await self._client.chat.completions.create(**kwargs)
        resp.choices[0].logprobs = None
        return resp


# -- judge identity (issue 11.5) -----------------------------------------------------------------
def test_default_judges_are_dated_snapshots() -> None:
    from pytest_persona.judges import DEFAULT_ANTHROPIC_MODEL, DEFAULT_OPENAI_MODEL
    from pytest_persona.judges.base import is_dated

    assert DEFAULT_OPENAI_MODEL == "gpt-4.1-mini-2025-04-14"
    assert is_dated(DEFAULT_OPENAI_MODEL) and is_dated(DEFAULT_ANTHROPIC_MODEL)
    assert not is_dated("gpt-4.1-mini") and not is_dated("claude-haiku-4-5")


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_alias_is_resolved_and_a_moved_alias_misses_the_cache(template: str, cache_path,
                                                                kind: str) -> None:
    """An undated alias costs one live call per run (it says which model answers now); when
    the provider moves the alias, the old scores are not served."""
    alias = "gpt-4.1-mini" if kind == "openai" else "claude-haiku-4-5"
    with JudgeServer(scorer=lambda p: 10, openai_model="gpt-4.1-mini-2025-04-14",
                     anthropic_model="claude-haiku-4-5-20251001") as srv:
        url = srv.base_url if kind == "openai" else srv.anthropic_base_url
        cold = make_judge(f"{kind}:{alias}", base_url=url, cache_path=cache_path)
        assert cold.resolved_model is None
        cold.score_many_sync(_reqs(template, 4))
        assert srv.calls == 4 and cold.resolved_model in (
            "gpt-4.1-mini-2025-04-14", "claude-haiku-4-5-20251001")
        warm = make_judge(f"{kind}:{alias}", base_url=url, cache_path=cache_path)
        assert all(r.score == pytest.approx(10) for r in warm.score_many_sync(_reqs(template, 4)))
        assert srv.calls == 5 and warm.usage.cache_hits == 3  # one probe call, the rest cached
        srv.scorer = lambda p: 80
        srv.openai_model, srv.anthropic_model = "gpt-4.1-mini-2099-01-01", "claude-haiku-4-5-20990101"
        moved = make_judge(f"{kind}:{alias}", base_url=url, cache_path=cache_path)
        assert all(r.score == pytest.approx(80) for r in moved.score_many_sync(_reqs(template, 4)))
        assert srv.calls == 9 and moved.usage.cache_hits == 0
        assert set(moved.usage.models) == {srv.openai_model if kind == "openai"
                                           else srv.anthropic_model}
        row = _cache_of(moved).get_row(moved.cache_key(_reqs(template, 1)[0]))
        assert row is not None and row["model_version"] == (srv.openai_model if kind == "openai"
                                        else srv.anthropic_model)


def test_dated_snapshot_needs_no_probe(judge_server: JudgeServer, template: str,
                                       cache_path) -> None:
    j = make_judge("openai:", base_url=judge_server.base_url, cache_path=cache_path)
    assert j.resolved_model == "gpt-4.1-mini-2025-04-14"
    j.score_many_sync(_reqs(template, 2))
    again = make_judge("openai:", base_url=judge_server.base_url, cache_path=cache_path)
    again.score_many_sync(_reqs(template, 2))
    assert judge_server.calls == 2


def test_alias_moving_during_a_run_files_answers_under_the_model_that_gave_them(
        template: str, cache_path) -> None:
    with JudgeServer(scorer=lambda p: 10, openai_model="gpt-4.1-mini-2025-04-14") as srv:
        judge = make_judge("openai:gpt-4.1-mini", base_url=srv.base_url, cache_path=cache_path)
        judge.score_many_sync(_reqs(template, 2))
        srv.openai_model = "gpt-4.1-mini-2099-01-01"  # the provider moves the alias mid-run
        later = [JudgeRequest(f"later {i}", "a", template) for i in range(3)]
        judge.score_many_sync(later)
        assert judge.usage.models == {"gpt-4.1-mini-2025-04-14": 2, "gpt-4.1-mini-2099-01-01": 3}
        warm = make_judge("openai:gpt-4.1-mini", base_url=srv.base_url, cache_path=cache_path)
        warm.score_many_sync(later)
        assert warm.usage.calls == 1 and warm.usage.cache_hits == 2  # probe + the moved answers
