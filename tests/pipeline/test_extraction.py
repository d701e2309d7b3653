from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.activations import collect_activations
from pytest_persona.core.generation import STATS
from pytest_persona.judges import COHERENCE_PROMPT, MissingScoresError, make_judge
from pytest_persona.models.loading import LoadedModel, load_model
from pytest_persona.pipeline import responses as responses_mod
from pytest_persona.pipeline.extraction import (
    ExtractionConfig,
    ExtractionError,
    Row,
    ScoredRow,
    build_rows,
    effective_pairs,
    extract_vectors,
)
from pytest_persona.pipeline.responses import generate_cached
from pytest_persona.traits.loader import load_trait
from tests.support.judge_server import JudgeServer

CFG = ExtractionConfig(n_questions=3, n_instructions=2, n_samples=2, max_new_tokens=6,
                       min_pairs=2, batch_size=8)
COH_MARK = COHERENCE_PROMPT.split("{question}")[0][:60]


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model("tiny-random-qwen2", device="cpu")


@pytest.fixture()
def trait():  # type: ignore[no-untyped-def]
    return load_trait("sycophantic")


def _answers(loaded: LoadedModel, trait: Any, cache: PersonaCache) -> dict[str, str]:
    """Generate (cached) the contrastive responses; map answer text -> polarity."""
    rows = build_rows(trait, CFG)
    texts = generate_cached(loaded, [[{"role": "system", "content": r.system},
                                      {"role": "user", "content": r.user}] for r in rows],
                            CFG.generation(), cache, salts=[r.sample for r in rows])
    return {t: r.polarity for r, t in zip(rows, texts)}


def _scorer(polarity: dict[str, str], low: set[str] = frozenset(),  # type: ignore[assignment]
            broken: Callable[[str], bool] = lambda a: False) -> Callable[[str], Any]:
    def score(prompt: str) -> Any:
        if COH_MARK in prompt:
            return 80
        answer = next((a for a in sorted(polarity, key=len, reverse=True) if a and a in prompt), "")
        if broken(answer):  # a dropped connection: a transport failure, never cached
            raise ConnectionAbortedError("simulated outage")
        if answer in low:
            return 40
        return 90 if polarity.get(answer) == "pos" else 10
    return score


@pytest.fixture()
def env(tmp_path: Path, loaded: LoadedModel, trait: Any) -> Iterator[dict[str, Any]]:
    cache = PersonaCache(tmp_path / "cache")
    pol = _answers(loaded, trait, cache)
    with JudgeServer(scorer=_scorer(pol)) as srv:
        judge = make_judge("openai:gpt-4.1-mini", base_url=srv.base_url,
                           cache_path=cache.judge_path, max_retries=0)
        yield {"cache": cache, "pol": pol, "srv": srv, "judge": judge}
        judge.close()


def test_pipeline_end_to_end(env: dict[str, Any], loaded: LoadedModel, trait: Any) -> None:
    res = extract_vectors(loaded, trait, env["judge"], config=CFG, cache=env["cache"])
    v = res.vectors
    assert v.vectors.shape == (loaded.n_layers, loaded.d_model)
    assert set(v.extras) == {"prompt_avg", "prompt_last"}
    assert res.total_pairs == 2 * 3 * 2
    pos_unique = sum(1 for p in env["pol"].values() if p == "pos")
    assert 2 <= res.effective_pairs <= res.total_pairs and pos_unique > 0
    meta = v.metadata
    assert meta["fingerprint"] == loaded.fingerprint and meta["trait_sha256"] == trait.sha256
    assert meta["judge"].startswith("openai:gpt-4.1-mini")
    assert meta["pos_mean_score"] == pytest.approx(90, abs=1) and meta["neg_mean_score"] < 50
    pairs = effective_pairs(res.rows, CFG)
    kept = [s for pair in pairs for s in pair]
    acts = collect_activations(loaded.model, loaded.tokenizer,
                               [[{"role": "system", "content": s.row.system},
                                 {"role": "user", "content": s.row.user}] for s in kept],
                               [s.response for s in kept])
    pos = acts.response_avg[0::2].mean(0) - acts.response_avg[1::2].mean(0)
    assert torch.allclose(v.vectors, pos, atol=1e-4)


def _sr(pol: str, key: tuple[int, int, int], t: float | None, c: float | None = 80) -> ScoredRow:
    return ScoredRow(Row(pol, *key, system="s", user="u"), "a", t, c)


def test_pairing_by_key_not_row_order() -> None:
    rows = [_sr("neg", (0, 1, 0), 10), _sr("pos", (0, 0, 0), 90), _sr("pos", (0, 1, 0), 95),
            _sr("neg", (0, 0, 0), 60), _sr("pos", (1, 0, 0), 90)]
    pairs = effective_pairs(rows, ExtractionConfig())
    assert [(p.row.pair_key, n.row.pair_key) for p, n in pairs] == [((0, 1, 0), (0, 1, 0))]


def test_threshold_filtering() -> None:
    cfg = ExtractionConfig(trait_threshold=50, coherence_threshold=50)
    cases = [((90, 80), (10, 80), True), ((49, 80), (10, 80), False), ((90, 80), (50, 80), False),
             ((90, 40), (10, 80), False), ((90, 80), (10, 49), False), ((None, 80), (10, 80), False)]
    for (pt, pc), (nt, nc), ok in cases:
        pairs = effective_pairs([_sr("pos", (0, 0, 0), pt, pc), _sr("neg", (0, 0, 0), nt, nc)], cfg)
        assert bool(pairs) is ok, (pt, pc, nt, nc)


def test_too_few_pairs_is_a_clear_failure(env: dict[str, Any], loaded: LoadedModel,
                                          trait: Any) -> None:
    with pytest.raises(ExtractionError, match=r"only \d+ effective pairs of 12 \(minimum 50\)"
                                              r".*Try more samples"):
        extract_vectors(loaded, trait, env["judge"],
                        config=dataclasses.replace(CFG, min_pairs=50), cache=env["cache"])


def test_rerun_hits_cache_without_generation_or_judge_calls(env: dict[str, Any],
                                                            loaded: LoadedModel,
                                                            trait: Any) -> None:
    first = extract_vectors(loaded, trait, env["judge"], config=CFG, cache=env["cache"])
    calls, gens = env["srv"].calls, STATS.generate_calls
    again = extract_vectors(loaded, trait, env["judge"], config=CFG, cache=env["cache"])
    assert again.from_cache and torch.equal(again.vectors.vectors, first.vectors.vectors)
    assert env["srv"].calls == calls and STATS.generate_calls == gens
    # vectors gone but responses and scores kept: recomputed with no generation, no judge call
    for f in (env["cache"].root / "vectors").glob("*.safetensors"):
        f.unlink()
    redo = extract_vectors(loaded, trait, env["judge"], config=CFG, cache=env["cache"])
    assert not redo.from_cache and env["srv"].calls == calls and STATS.generate_calls == gens
    assert torch.allclose(redo.vectors.vectors, first.vectors.vectors)


def test_resume_after_interrupted_generation(tmp_path: Path, loaded: LoadedModel, trait: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cache = PersonaCache(tmp_path / "c")
    rows = build_rows(trait, CFG)
    real = responses_mod.generate
    done_rows: list[int] = []

    def interrupted(*args: Any, on_batch: Any = None, **kw: Any) -> Any:
        def once(idx: list[int], texts: list[str]) -> None:
            on_batch(idx, texts)
            done_rows.extend(idx)
            raise KeyboardInterrupt
        return real(*args, on_batch=once, **kw)

    monkeypatch.setattr(responses_mod, "generate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _answers(loaded, trait, cache)
    monkeypatch.setattr(responses_mod, "generate", real)
    rows_before = STATS.rows
    _answers(loaded, trait, cache)
    assert len(done_rows) == CFG.batch_size
    assert STATS.rows - rows_before == len(rows) - CFG.batch_size


def test_resume_after_interrupted_judging(tmp_path: Path, loaded: LoadedModel,
                                          trait: Any) -> None:
    cache = PersonaCache(tmp_path / "c")
    pol = _answers(loaded, trait, cache)
    flaky = {a for i, a in enumerate(sorted(pol)) if i % 2 == 0}
    with JudgeServer(scorer=_scorer(pol, broken=lambda a: a in flaky)) as srv:
        judge = make_judge("openai:m", base_url=srv.base_url, cache_path=cache.judge_path,
                           max_retries=0)
        with pytest.raises(MissingScoresError):
            extract_vectors(loaded, trait, judge, config=CFG, cache=cache)
        first_calls = srv.calls
        srv.scorer = _scorer(pol)
        srv.reset()
        res = extract_vectors(loaded, trait, judge, config=CFG, cache=cache)
        judge.close()
    n_rows = 2 * 3 * 2 * 2
    assert first_calls == n_rows  # trait scores only: it stopped before coherence
    trait_retries = sum(1 for r in build_rows(trait, CFG)) - 0
    assert srv.calls < first_calls + n_rows  # the good trait scores were not re-asked
    assert res.effective_pairs >= 2 and trait_retries == n_rows


def test_stale_cache_protection(env: dict[str, Any], loaded: LoadedModel, trait: Any) -> None:
    extract_vectors(loaded, trait, env["judge"], config=CFG, cache=env["cache"])
    gens = STATS.rows
    other = dataclasses.replace(loaded, fingerprint=loaded.fingerprint + "-changed")
    res = extract_vectors(other, trait, env["judge"], config=CFG, cache=env["cache"])
    assert not res.from_cache and STATS.rows - gens == 2 * 3 * 2 * 2
    edited = dataclasses.replace(trait, eval_prompt=trait.eval_prompt + " Be strict.",
                                 sha256="edited")
    res2 = extract_vectors(loaded, edited, env["judge"], config=CFG, cache=env["cache"])
    assert not res2.from_cache


def test_corrupted_cache_entries_recompute_with_warning(env: dict[str, Any], loaded: LoadedModel,
                                                        trait: Any) -> None:
    extract_vectors(loaded, trait, env["judge"], config=CFG, cache=env["cache"])
    for f in (env["cache"].root / "vectors").glob("*.safetensors"):
        f.write_bytes(f.read_bytes()[:40])
    store = next((env["cache"].root / "responses").glob("*.jsonl"))
    store.write_bytes(store.read_bytes()[:-30])  # torn last line
    fresh = PersonaCache(env["cache"].root)
    with pytest.warns(UserWarning):
        res = extract_vectors(loaded, trait, env["judge"], config=CFG, cache=fresh)
    assert not res.from_cache and res.effective_pairs >= 2
