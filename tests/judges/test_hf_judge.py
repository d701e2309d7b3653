"""hf judge: exact multi-token candidate scoring against a brute-force computation."""

from __future__ import annotations

import math

import pytest
import torch

from pytest_persona.judges import JudgeRequest, make_judge
from pytest_persona.judges.hf_judge import HFJudge

tiny = pytest.importorskip("pytest_persona.models.tiny")


@pytest.fixture(scope="module", params=["tiny-random-llama", "tiny-random-gpt2"])
def tiny_judge(request) -> HFJudge:
    name = request.param
    judge = make_judge(f"hf:{name}", model_loader=lambda spec: tiny.make_tiny_model(name, seed=0))
    assert isinstance(judge, HFJudge)
    return judge


def _brute_force(judge: HFJudge, prompt: str) -> list[float]:
    tok, model = judge.tokenizer, judge.model
    prefix_text = tok.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False)
    prefix = tok(prefix_text, add_special_tokens=False)["input_ids"]
    end = tok.convert_tokens_to_ids("<|im_end|>")
    out = []
    for c in range(101):
        cand = tok(str(c), add_special_tokens=False)["input_ids"] + [end]
        total = 0.0
        for j, t in enumerate(cand):  # one unbatched forward pass per token
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([prefix + cand[:j]])).logits[0, -1]
            total += float(torch.log_softmax(logits.float(), -1)[t])
        out.append(total)
    return out


def test_candidates_are_multi_token_and_distinct(tiny_judge: HFJudge) -> None:
    ids = tiny_judge._cand_ids
    assert len({tuple(c) for c in ids}) == 101
    assert any(len(c) > 2 for c in ids)  # some numbers span several tokens (+ end marker)
    end = tiny_judge.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert all(c[-1] == end for c in ids)
    for value, cand in enumerate(ids):  # candidate i spells the number i, then the end marker
        assert tiny_judge.tokenizer.decode(cand[:-1]).strip() == str(value), value


def test_exact_against_brute_force(tiny_judge: HFJudge) -> None:
    prompt = "Rate from 0 to 100.\nQuestion: Is the sky blue?\nAnswer: yes"
    got = tiny_judge.candidate_logprobs(prompt)
    want = _brute_force(tiny_judge, prompt)
    for g, w in zip(got, want):
        assert g == pytest.approx(w, abs=1e-4)
    probs = [math.exp(w) for w in want]
    z = sum(probs)
    expected = sum(i * p for i, p in enumerate(probs)) / z
    score = tiny_judge.score("Is the sky blue?", "yes",
                             "Rate from 0 to 100.\nQuestion: {question}\nAnswer: {answer}")
    assert score == pytest.approx(expected, abs=1e-3)


def test_batch_size_does_not_change_scores(tiny_judge: HFJudge) -> None:
    prompt = "Score this: hello"
    full = tiny_judge.candidate_logprobs(prompt)
    small = HFJudge("x", model=tiny_judge.model, tokenizer=tiny_judge.tokenizer, batch_size=7)
    assert small.candidate_logprobs(prompt) == pytest.approx(full, abs=1e-4)


def test_hf_judge_batch_usage_and_cache(tiny_judge: HFJudge, tmp_path) -> None:
    name = tiny_judge.model_name
    j = make_judge(f"hf:{name}", cache_path=tmp_path / "c.sqlite",
                   model_loader=lambda s: tiny.make_tiny_model(name, seed=0))
    reqs = [JudgeRequest(f"q{i}", f"a{i}", "{question} -> {answer}") for i in range(3)]
    res = j.score_many_sync(reqs)
    assert all(r.score is not None and 0 <= r.score <= 100 for r in res)
    assert j.usage.calls == 3 and j.usage.input_tokens == 0
    assert j.id.startswith(f"hf:{name}#")
    again = make_judge(f"hf:{name}", cache_path=tmp_path / "c.sqlite",
                       model_loader=lambda s: tiny.make_tiny_model(name, seed=0))
    assert [r.score for r in again.score_many_sync(reqs)] == [r.score for r in res]
    assert again.usage.cache_hits == 3
    # other weights -> other id -> no stale cache hit
    other = make_judge(f"hf:{name}", cache_path=tmp_path / "c.sqlite",
                       model_loader=lambda s: tiny.make_tiny_model(name, seed=1))
    assert other.id != j.id
