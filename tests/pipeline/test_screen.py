from __future__ import annotations

import json
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.activations import collect_activations
from pytest_persona.core.generation import GenerationConfig, Messages
from pytest_persona.models.loading import LoadedModel, load_model
from pytest_persona.pipeline.responses import generate_cached
from pytest_persona.pipeline.screen import (
    ModelProjector,
    ScreenInputError,
    ScreenRow,
    parse_sample,
    screen,
)

LAYER = 1
QUESTIONS = ["Is my plan good?", "What is 2+2?", "Tell me about cats.", "hi"]
ANSWERS = ["Your plan is brilliant, truly!", "Four.", "Cats purr and sleep a lot.", "Hello."]


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model("tiny-random-qwen2", device="cpu")


@pytest.fixture(scope="module")
def vectors(loaded: LoadedModel) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return {"evil": torch.randn(loaded.d_model, generator=gen),
            "sycophantic": torch.randn(loaded.d_model, generator=gen) * 5}


def _write(path: Path, rows: Sequence[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _chat_rows(system: str | None = None) -> list[dict[str, Any]]:
    out = []
    for q, a in zip(QUESTIONS, ANSWERS):
        msgs = [{"role": "system", "content": system}] if system else []
        out.append({"messages": msgs + [{"role": "user", "content": q},
                                        {"role": "assistant", "content": a}]})
    return out


def _projector(loaded: LoadedModel, vectors: dict[str, torch.Tensor],
               cache: PersonaCache | None = None) -> ModelProjector:
    return ModelProjector(loaded, vectors, LAYER, cache, max_new_tokens=6, batch_size=2)


def _collect(rows_out: list[ScreenRow]) -> Any:
    return lambda rows: rows_out.extend(rows)


def test_difference_equals_hand_computation(tmp_path: Path, loaded: LoadedModel,
                                            vectors: dict[str, torch.Tensor]) -> None:
    data = _write(tmp_path / "d.jsonl", _chat_rows("Be kind."))
    cache = PersonaCache(tmp_path / "c")
    rows: list[ScreenRow] = []
    result = screen(data, _projector(loaded, vectors, cache), baseline="generate", batch_size=3,
                    cache=cache, sink=_collect(rows))
    prompts: list[Messages] = [[{"role": "system", "content": "Be kind."},
                                {"role": "user", "content": q}] for q in QUESTIONS]
    own = generate_cached(loaded, prompts, GenerationConfig(max_new_tokens=6, batch_size=2), cache)
    train = collect_activations(loaded.model, loaded.tokenizer, prompts, ANSWERS, batch_size=1)
    mine = collect_activations(loaded.model, loaded.tokenizer, prompts, own, batch_size=1)
    assert [r.line for r in rows] == [1, 2, 3, 4]
    for trait, vec in vectors.items():
        unit = vec / vec.norm()
        expected_p = train.response_avg[:, LAYER] @ unit
        expected_o = mine.response_avg[:, LAYER] @ unit
        got_p = torch.tensor([r.projection[trait] for r in rows])
        got_d = torch.tensor([r.difference[trait] for r in rows])  # type: ignore[index]
        assert torch.allclose(got_p, expected_p, atol=1e-4)
        assert torch.allclose(got_d, expected_p - expected_o, atol=1e-4)
        assert result.traits[trait].summary.mean == pytest.approx(float(got_d.mean()), abs=1e-5)
        top = result.traits[trait].top[0]
        assert top["score"] == pytest.approx(float(got_d.max()), abs=1e-5)
        assert top["response"] in ANSWERS and top["own_response"] in own


def test_chat_and_prompt_response_formats_agree(tmp_path: Path, loaded: LoadedModel,
                                                vectors: dict[str, torch.Tensor]) -> None:
    chat = _write(tmp_path / "chat.jsonl", _chat_rows("Be kind."))
    flat = _write(tmp_path / "flat.jsonl", [{"system": "Be kind.", "prompt": q, "response": a}
                                            for q, a in zip(QUESTIONS, ANSWERS)])
    out: dict[str, list[ScreenRow]] = {"chat": [], "flat": []}
    for name, path in (("chat", chat), ("flat", flat)):
        screen(path, _projector(loaded, vectors), baseline="none", batch_size=4,
               sink=_collect(out[name]))
    assert [r.projection for r in out["chat"]] == [r.projection for r in out["flat"]]
    assert out["chat"][0].own is None and out["chat"][0].difference is None


@pytest.mark.parametrize("line, message", [
    ("{not json", "not valid JSON"),
    ('["a"]', "each line must be a JSON object"),
    ('{"messages": [{"role": "user", "content": "hi"}]}', "no assistant turn"),
    ('{"messages": [{"role": "assistant", "content": "hi"}]}', "no turn before"),
    ('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, '
     '{"role": "user", "content": "more"}]}', "messages[2]' comes after the last assistant"),
    ('{"messages": [{"role": "robot", "content": "q"}]}', "messages[0].role"),
    ('{"prompt": "q"}', "needs a 'messages' list, or 'prompt' and 'response'"),
    ('{"prompt": "q", "response": "   "}', "the response is empty"),
    ('{"prompt": "q", "response": 3}', "field 'response' must be a string"),
])
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    with pytest.raises(ScreenInputError) as err:
        parse_sample(line, path, 7)
    assert str(err.value).startswith(f"{path}:7: ") and message in str(err.value)


def test_bad_line_fails_or_is_skipped(tmp_path: Path, loaded: LoadedModel,
                                      vectors: dict[str, torch.Tensor]) -> None:
    rows = [json.dumps(r) for r in _chat_rows()]
    data = _write(tmp_path / "d.jsonl", rows[:2] + ["", "{oops"] + rows[2:])
    with pytest.raises(ScreenInputError, match=r"d\.jsonl:4: not valid JSON"):
        screen(data, _projector(loaded, vectors), baseline="none")
    result = screen(data, _projector(loaded, vectors), baseline="none", on_bad_line="skip")
    assert result.n_samples == 4 and result.skipped.count == 1
    assert result.skipped.examples[0].startswith(f"{data}:4:")


class CountingProjector:
    """Projects with a fixed linear map of text length; counts calls; can fail on demand."""

    traits: tuple[str, ...] = ("evil",)

    def __init__(self, fail_after: int | None = None) -> None:
        self.project_calls = 0
        self.respond_calls = 0
        self.fail_after = fail_after

    def key(self) -> dict[str, Any]:
        return {"model": "fake", "layer": 0, "vectors": {"evil": "v"}, "generation": {}}

    def project(self, prompts: Sequence[Messages], responses: Sequence[str]) -> list[list[float]]:
        if self.fail_after is not None and self.project_calls >= self.fail_after:
            raise KeyboardInterrupt
        self.project_calls += 1
        return [[float(len(r) % 7)] for r in responses]

    def respond(self, prompts: Sequence[Messages]) -> list[str]:
        self.respond_calls += 1
        return ["ok"] * len(prompts)


def test_interrupted_screen_resumes_only_unfinished_batches(tmp_path: Path) -> None:
    data = _write(tmp_path / "d.jsonl", [{"prompt": f"q{i}", "response": "x" * (i + 1)}
                                         for i in range(50)])
    cache = PersonaCache(tmp_path / "c")
    with pytest.raises(KeyboardInterrupt):
        screen(data, CountingProjector(fail_after=3), batch_size=10, cache=cache)
    again = CountingProjector()
    resumed = screen(data, again, batch_size=10, cache=cache, threshold=2.0)
    assert again.project_calls == 2 and again.respond_calls == 2
    assert (resumed.batches_cached, resumed.batches_computed) == (3, 2)
    cold = screen(data, CountingProjector(), batch_size=10, threshold=2.0)
    assert resumed.traits["evil"].to_dict() == cold.traits["evil"].to_dict()
    # a change of baseline mode is another key: nothing reused
    other = CountingProjector()
    screen(data, other, batch_size=10, cache=cache, baseline="none")
    assert other.project_calls == 5 and other.respond_calls == 0


def test_summary_threshold_and_ci(tmp_path: Path) -> None:
    data = _write(tmp_path / "d.jsonl", [{"prompt": "q", "response": "x" * i}
                                         for i in range(1, 101)])
    result = screen(data, CountingProjector(), baseline="none", threshold=4.5, batch_size=16)
    values = [float(i % 7) for i in range(1, 101)]
    s = result.traits["evil"].summary
    assert s.n == 100 and s.mean == pytest.approx(sum(values) / 100)
    assert s.above == sum(v > 4.5 for v in values)
    assert s.ci_low < s.mean < s.ci_high and s.ci_high - s.ci_low < 1.5
    assert len(result.traits["evil"].top) == 20
    assert all(t["score"] == 6.0 for t in result.traits["evil"].top[:14])


def test_streams_100k_lines_in_bounded_memory(tmp_path: Path) -> None:
    def peak(n: int) -> int:
        path = tmp_path / f"d{n}.jsonl"
        with open(path, "w") as handle:
            for i in range(n):
                handle.write(json.dumps({"messages": [
                    {"role": "user", "content": f"question {i}"},
                    {"role": "assistant", "content": "answer " * (i % 5 + 1)}]}) + "\n")
        tracemalloc.start()
        result = screen(path, CountingProjector(), threshold=3.0, batch_size=500, resamples=200)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert result.n_samples == n
        return top

    small, large = peak(5_000), peak(100_000)  # the large file is ~9 MB
    assert large < 2 * small + 500_000, (small, large)  # 20x the data, not 20x the memory
    assert large < 8 * 2**20


def test_histogram_widens_to_cover_every_value() -> None:
    from pytest_persona.pipeline.screen import _Histogram

    hist = _Histogram(bins=8)
    values = [0.1, 0.2, 5.0, -3.0, 40.0, float("nan"), 0.15]
    hist.add(values)
    out = hist.to_dict()
    assert sum(out["counts"]) == 6 and len(out["edges"]) == 9
    assert out["edges"][0] <= -3.0 and out["edges"][-1] > 40.0
    width = out["edges"][1] - out["edges"][0]
    for v in (0.1, -3.0, 40.0):
        assert out["counts"][int((v - out["edges"][0]) // width)] >= 1


def test_vector_hash_is_pinned_cache_key() -> None:
    """The screen cache keys vectors by this hash: a change here would orphan every entry."""
    import torch

    from pytest_persona.core.arrays import vector_sha256
    from pytest_persona.pipeline.screen import vector_hash

    vector = torch.tensor([1.0, -2.5, 0.25, 3.0], dtype=torch.float64)
    assert vector_hash(vector) == "3d10b4c19ed878b2b349ff77a80a7a91"
    assert vector_hash(vector) == vector_sha256(vector.numpy())[:32]
