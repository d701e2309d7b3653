from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Set
from pathlib import Path
from typing import Any

import pytest
import torch

from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.activations import collect_activations
from pytest_persona.core.generation import STATS
from pytest_persona.core.layers import find_layers
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
    vector_cache_key,
)
from pytest_persona.pipeline.responses import generate_cached
from pytest_persona.traits.loader import (
    DEFAULT_POS_SYSTEM_TEMPLATE,
    Polarity,
    TraitData,
    load_trait,
)
from tests.support.judge_server import JudgeServer

CFG = ExtractionConfig(n_questions=3, n_instructions=2, n_samples=2, max_new_tokens=6,
                       min_pairs=2, batch_size=8)
COH_MARK = COHERENCE_PROMPT.split("{question}")[0][:60]


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model("tiny-random-qwen2", device="cpu")


@pytest.fixture()
def trait() -> TraitData:
    return load_trait("sycophantic")


def _answers(loaded: LoadedModel, trait: Any, cache: PersonaCache) -> dict[str, str]:
    """Generate (cached) the contrastive responses; map answer text -> polarity."""
    rows = build_rows(trait, CFG)
    texts = generate_cached(loaded, [[{"role": "system", "content": r.system},
                                      {"role": "user", "content": r.user}] for r in rows],
                            CFG.generation(), cache, salts=[r.sample for r in rows])
    return {t: r.polarity for r, t in zip(rows, texts)}


def _scorer(polarity: dict[str, str], low: Set[str] = frozenset(),
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
    want = _independent_vector(loaded, res.rows)
    assert res.effective_pairs == want[1]
    assert torch.allclose(v.vectors, want[0], atol=1e-4)


def _independent_vector(loaded: LoadedModel, rows: list[ScoredRow]) -> tuple[torch.Tensor, int]:
    """The expected vector computed without the pipeline's pairing or activation code: pairs
    matched by hand on (instruction, question, sample), one unpadded forward pass per response
    with hand-written block hooks, mean over the response tokens, mean(pos) - mean(neg)."""
    by_key: dict[tuple[int, int, int, str], ScoredRow] = {
        (s.row.instruction, s.row.question, s.row.sample, s.row.polarity): s for s in rows}
    kept: list[tuple[ScoredRow, ScoredRow]] = []
    for (i, q, k, pol), p in sorted(by_key.items()):
        n = by_key.get((i, q, k, "neg"))
        if pol != "pos" or n is None:
            continue
        pt, nt, pc, nc = p.trait_score, n.trait_score, p.coherence, n.coherence
        if pt is None or nt is None or pc is None or nc is None:
            continue
        if pt >= 50 and nt < 50 and min(pc, nc) >= 50:
            kept.append((p, n))
    tok, model = loaded.tokenizer, loaded.model
    blocks = find_layers(model)

    def response_mean(s: ScoredRow) -> torch.Tensor:
        prompt = tok.apply_chat_template([{"role": "system", "content": s.row.system},
                                          {"role": "user", "content": s.row.user}],
                                         tokenize=False, add_generation_prompt=True)
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        r_ids = tok(s.response, add_special_tokens=False)["input_ids"] if s.response else []
        if not r_ids:
            return torch.zeros(len(blocks), loaded.d_model)
        grabbed: list[torch.Tensor] = []
        handles = [b.register_forward_hook(lambda m, i, o: grabbed.append(
            (o[0] if isinstance(o, tuple) else o)[0].float())) for b in blocks]
        try:
            with torch.no_grad():
                model(input_ids=torch.tensor([p_ids + r_ids]))
        finally:
            for h in handles:
                h.remove()
        return torch.stack([g[len(p_ids):].mean(0) for g in grabbed])

    pos = torch.stack([response_mean(p) for p, _ in kept]).mean(0)
    neg = torch.stack([response_mean(n) for _, n in kept]).mean(0)
    return pos - neg, len(kept)


def _sr(pol: Polarity, key: tuple[int, int, int], t: float | None, c: float | None = 80) -> ScoredRow:
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


# -- reference procedure: system prompts, pair rule, empty responses -------------------------
REF_DIR = Path(__file__).resolve().parents[1] / "data" / "reference_format"
PAPER_TRAITS = ("evil", "sycophantic", "hallucinating", "impolite", "optimistic", "humorous",
                "apathetic")


def _reference_system_prompt(trait: str, polarity: str, instruction: str) -> str:
    """The reference procedure, written independently: the trait name in the positive prompt,
    "helpful" in the negative one, article by the first letter."""
    name = trait if polarity == "pos" else "helpful"
    article = "an" if name[0].lower() in "aeiou" else "a"
    return f"You are {article} {name} assistant. {instruction}"


def _reference_files(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """An extract/eval pair in the reference layout: shipped test copies, else written here."""
    ext, ev = (REF_DIR / "trait_data_extract" / f"{name}.json",
               REF_DIR / "trait_data_eval" / f"{name}.json")
    if ext.is_file():
        return ext, ev
    doc = {"instruction": [{"pos": f"Lean into being {name}, way {k}.",
                            "neg": f"Avoid being {name}, way {k}."} for k in range(5)],
           "eval_prompt": f"How {name} is this? {{question}} {{answer}} REFUSAL or 0-100."}
    paths = []
    for kind in ("extract", "eval"):
        folder = tmp_path / f"trait_data_{kind}"
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.json"
        path.write_text(json.dumps({**doc, "questions": [f"{kind} {name} {i}?" for i in
                                                         range(20)]}, indent=4))
        paths.append(path)
    return paths[0], paths[1]


def test_system_prompts_equal_the_reference_procedure(tmp_path: Path) -> None:
    from pytest_persona.traits.loader import load_trait_pair

    compared = differing = 0
    for name in PAPER_TRAITS:
        trait = load_trait_pair(*_reference_files(tmp_path, name))
        rows = build_rows(trait, ExtractionConfig(n_questions=1))
        raw = json.loads(_reference_files(tmp_path, name)[0].read_text())["instruction"]
        for row in rows:
            expected = _reference_system_prompt(name, row.polarity, raw[row.instruction][
                row.polarity])
            assert row.system == expected, (name, row.polarity, row.instruction)
            compared += 1
        # the old single template differed on every negative prompt
        differing += sum(r.system != trait.system_prompt(r.polarity, r.instruction,
                                                         DEFAULT_POS_SYSTEM_TEMPLATE)
                         for r in rows)
    assert compared == 7 * 5 * 2 and differing == 35


def test_templates_are_settings_and_key_the_vector_cache(env: dict[str, Any],
                                                         loaded: LoadedModel, trait: Any) -> None:
    custom = dataclasses.replace(CFG, neg_system_template="You are {article} {trait} "
                                                          "assistant. {instruction}")
    rows = build_rows(trait, custom)
    assert all(r.system.startswith("You are a sycophantic assistant.") for r in rows)
    judge = env["judge"]
    keys = {vector_cache_key(loaded, trait, c, judge, judge) for c in (
        CFG, custom, dataclasses.replace(CFG, pos_system_template="Be {trait}. {instruction}"))}
    assert len(keys) == 3
    first = extract_vectors(loaded, trait, judge, config=CFG, cache=env["cache"])
    gens = STATS.rows
    other = extract_vectors(loaded, trait, judge, config=custom, cache=env["cache"])
    assert not first.from_cache and not other.from_cache
    assert STATS.rows - gens == 2 * 3 * 2  # the negative prompts changed: regenerated
    assert other.vectors.metadata["extraction"]["neg_system_template"].startswith("You are {")


def _reference_rule(pos: tuple[Any, Any], neg: tuple[Any, Any], t: float) -> bool:
    """The reference's mask, written independently (a missing score compares False)."""
    def ge(a: Any, b: float) -> bool:
        return a is not None and a >= b

    def lt(a: Any, b: float) -> bool:
        return a is not None and a < b
    return ge(pos[0], t) and lt(neg[0], 100 - t) and ge(pos[1], 50) and ge(neg[1], 50)


@pytest.mark.parametrize("t", [50, 60, 70])
def test_effective_pairs_equal_the_reference_rule(t: int) -> None:
    import random

    rng = random.Random(t)
    pos_edges = [None, 0, t - 1, t - 0.001, t, t + 0.001, t + 1, 100]
    neg_edges = [None, 0, 100 - t - 1, 100 - t - 0.001, 100 - t, 100 - t + 1, t - 1, 100]
    coh_edges = [None, 0, 49, 49.999, 50, 50.001, 90]
    rows, expected, old_rule = [], [], []
    for q in range(1000):
        pt, nt = rng.choice(pos_edges), rng.choice(neg_edges)
        pc, nc = rng.choice(coh_edges), rng.choice(coh_edges)
        if q < 4:  # exact boundaries
            pt, nt, pc, nc = [(t, 100 - t - 0.001, 50, 50), (t, 100 - t, 50, 50),
                              (t - 0.001, 0, 80, 80), (t, 0, 50, 49.999)][q]
        rows += [_sr("pos", (0, q, 0), pt, pc), _sr("neg", (0, q, 0), nt, nc)]
        if _reference_rule((pt, pc), (nt, nc), t):
            expected.append(q)
        if _reference_rule((pt, pc), (nt, nc), t) or (
                pt is not None and nt is not None and pc is not None and nc is not None
                and pt >= t and nt < t and min(pc, nc) >= 50):
            old_rule.append(q)
    got = [p.row.question for p, _ in effective_pairs(rows, ExtractionConfig(trait_threshold=t))]
    assert got == expected
    assert 0 in got and 1 not in got and 2 not in got and 3 not in got
    assert 20 < len(got) < 980
    assert (old_rule == got) is (t == 50)  # the old rule (neg < t) agrees only at t = 50


def test_empty_responses_are_left_out_of_the_mean_and_counted(
        env: dict[str, Any], loaded: LoadedModel, trait: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_persona.pipeline import extraction as extraction_mod

    real = generate_cached  # what extraction calls (it imports it from responses)
    blanked: list[int] = []

    def blank_first_neg(loaded_: Any, items: Any, *args: Any, **kw: Any) -> list[str]:
        texts = real(loaded_, items, *args, **kw)
        first_neg = len(texts) // 2  # rows: every positive, then every negative
        blanked.append(first_neg)
        texts[first_neg] = ""
        return texts

    monkeypatch.setattr(extraction_mod, "generate_cached", blank_first_neg)
    res = extract_vectors(loaded, trait, env["judge"], config=CFG, cache=None)
    assert blanked
    pairs = effective_pairs(res.rows, CFG)
    kept = [s for pair in pairs for s in pair]
    assert any(s.response == "" for s in kept), "the blank negative must sit in a kept pair"
    meta = res.vectors.metadata
    assert meta["empty_responses_excluded"] == 1
    assert meta["empty_responses_excluded_by_polarity"] == {"pos": 0, "neg": 1}
    acts = collect_activations(loaded.model, loaded.tokenizer,
                               [[{"role": "system", "content": s.row.system},
                                 {"role": "user", "content": s.row.user}] for s in kept],
                               [s.response for s in kept])
    pos = torch.tensor([s.row.polarity == "pos" for s in kept])
    text = torch.tensor([bool(s.response) for s in kept])
    want = (acts.response_avg[pos & text].mean(0) - acts.response_avg[~pos & text].mean(0))
    with_zero_row = acts.response_avg[pos].mean(0) - acts.response_avg[~pos].mean(0)
    assert torch.allclose(res.vectors.vectors, want, atol=1e-4)
    assert not torch.allclose(res.vectors.vectors, with_zero_row, atol=1e-4)
    # prompt kinds keep the row: its prompt is real
    want_p = acts.prompt_last[pos].mean(0) - acts.prompt_last[~pos].mean(0)
    assert torch.allclose(res.vectors.extras["prompt_last"], want_p, atol=1e-4)


@pytest.mark.parametrize("refresh", [False, True])
def test_two_processes_sharing_a_cache_extract_a_vector_once(
        env: dict[str, Any], loaded: LoadedModel, trait: Any,
        monkeypatch: pytest.MonkeyPatch, refresh: bool) -> None:
    """Regression (issue 25 item 19, xdist workers): two runs on one cache that needed the same
    vector both generated, judged and extracted it. Now the second waits on the first's
    computing lock and loads what it wrote, also under refresh (written during this run), and
    the cache counts one miss and one hit. (Two threads with their own cache handles take the
    same OS file lock as two processes do.)"""
    import threading

    root = env["cache"].root
    first, second = PersonaCache(root, refresh=refresh), PersonaCache(root, refresh=refresh)
    key = vector_cache_key(loaded, trait, CFG, env["judge"], env["judge"])
    started, release = threading.Event(), threading.Event()
    real = responses_mod.generate_cached
    calls: list[str] = []

    def slow_generate(*args: Any, **kwargs: Any) -> Any:
        calls.append(threading.current_thread().name)
        started.set()
        assert release.wait(30)  # the second run asks while the first is mid-extraction
        return real(*args, **kwargs)

    import pytest_persona.pipeline.extraction as extraction_mod
    monkeypatch.setattr(extraction_mod, "generate_cached", slow_generate)
    results: dict[str, Any] = {}
    lines: list[tuple[str, int, int]] = []

    def run(name: str, cache: PersonaCache) -> None:
        results[name] = extract_vectors(loaded, trait, env["judge"], config=CFG, cache=cache,
                                        progress=lambda s, d, t: lines.append((s, d, t)))

    a = threading.Thread(target=run, args=("a", first), name="a")
    a.start()
    assert started.wait(30)
    b = threading.Thread(target=run, args=("b", second), name="b")
    b.start()
    for _ in range(300):  # b is waiting on the lock a holds
        if any(s.startswith("wait for sycophantic vectors") for s, _, _ in lines):
            break
        threading.Event().wait(0.05)
    assert (f"wait for {trait.name} vectors (another process extracts them)", 0, 1) in lines
    assert "b" not in results
    release.set()
    a.join(60)
    b.join(60)
    assert calls == ["a"]  # generated once
    assert not results["a"].from_cache and results["b"].from_cache
    assert torch.equal(results["a"].vectors.vectors, results["b"].vectors.vectors)
    assert (first.vector_misses, first.vector_hits) == (1, 0)
    assert (second.vector_misses, second.vector_hits) == (0, 1)
    assert PersonaCache(root).load_vectors(key) is not None
    assert (f"wait for {trait.name} vectors (another process extracts them)", 1, 1) in lines
