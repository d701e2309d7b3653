"""Every field of every cache key changes the key (issue 17): one case per field, generated
from each key's own field list, so a field added later cannot be forgotten."""

from __future__ import annotations

import dataclasses
import inspect
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from pytest_persona.cache.keys import ProjectionKey, VectorKey, field_names
from pytest_persona.core.generation import GenerationConfig, Steering, request_key
from pytest_persona.judges.cache import KEY_FIELDS as JUDGE_KEY_FIELDS
from pytest_persona.judges.cache import cache_key as judge_cache_key
from pytest_persona.pipeline.extraction import ExtractionConfig, vector_cache_key

#: fields that deliberately do not change a key, with the reason
NOT_IN_KEY = {
    (GenerationConfig, "batch_size"): "per-row seeds: a row's text does not depend on its batch",
    (ExtractionConfig, "batch_size"): "same, for extraction",
    (ExtractionConfig, "max_missing_fraction"): "decides whether extraction fails, not vectors",
}


def vary(value: Any) -> Any:
    """A different value of the same type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.25
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, torch.Tensor):
        changed = value.clone()
        changed.view(-1)[-1] += 1.0
        return changed
    if isinstance(value, list):
        return value + value[-1:] if value else ["x"]
    if isinstance(value, dict):
        return {**value, "_extra": 1}
    if value is None:
        return 7
    raise TypeError(f"no variation for {type(value).__name__}")


# -- generated responses -----------------------------------------------------------------------
CONFIG = GenerationConfig(max_new_tokens=8, temperature=1.0, top_p=0.9, seed=3, batch_size=4)
STEER = Steering(torch.arange(8, dtype=torch.float32), layer=2, positions="response")
MSGS = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
BASE_ARGS: dict[str, Any] = {"model_fingerprint": "fp", "prompt": MSGS, "config": CONFIG,
                             "steering": STEER, "coeff": 2.0}


def test_generation_dataclass_fields_are_all_accounted_for() -> None:
    for cls in (GenerationConfig, Steering):
        names = {f.name for f in dataclasses.fields(cls)}
        exempt = {name for (owner, name) in NOT_IN_KEY if owner is cls}
        assert names - exempt == set(cls.KEY_FIELDS), cls  # a new field must be decided on


def _request_variants() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for name in inspect.signature(request_key).parameters:
        if name == "config":
            for field in GenerationConfig.KEY_FIELDS:
                changed = dataclasses.replace(CONFIG, **{field: vary(getattr(CONFIG, field))})
                out.append((f"config.{field}", {**BASE_ARGS, "config": changed}))
        elif name == "steering":
            for field in Steering.KEY_FIELDS:
                new = {"positions": "all"} if field == "positions" else {
                    field: vary(getattr(STEER, field))}
                out.append((f"steering.{field}",
                            {**BASE_ARGS, "steering": dataclasses.replace(STEER, **new)}))
        elif name == "prompt":
            for i, msg in enumerate(MSGS):
                for part in msg:
                    messages = [dict(m) for m in MSGS]
                    messages[i][part] = "assistant" if part == "role" else vary(msg[part])
                    out.append((f"prompt[{i}].{part}", {**BASE_ARGS, "prompt": messages}))
            salted = MSGS + [{"role": "_sample", "content": "1"}]  # the sample index
            out.append(("prompt.sample", {**BASE_ARGS, "prompt": salted}))
        else:
            out.append((name, {**BASE_ARGS, name: vary(BASE_ARGS[name])}))
    return out


@pytest.mark.parametrize("field,args", _request_variants(), ids=[n for n, _ in
                                                                 _request_variants()])
def test_each_generation_key_field_changes_the_key(field: str, args: dict[str, Any]) -> None:
    assert request_key(**args) != request_key(**BASE_ARGS), field


def test_fields_outside_the_generation_key_do_not_change_it() -> None:
    other = dataclasses.replace(CONFIG, batch_size=1)
    assert request_key(**{**BASE_ARGS, "config": other}) == request_key(**BASE_ARGS)


# -- judge outcomes ----------------------------------------------------------------------------
JUDGE_ARGS: dict[str, Any] = {"judge_id": "openai:m@u", "resolved_model": "m-2025-04-14",
                              "template_sha256": "t", "question": "q", "answer": "a",
                              "params": {"min_mass": 0.25}}


def test_judge_key_field_list_is_the_signature() -> None:
    assert tuple(inspect.signature(judge_cache_key).parameters) == JUDGE_KEY_FIELDS
    assert tuple(JUDGE_ARGS) == JUDGE_KEY_FIELDS


@pytest.mark.parametrize("field", JUDGE_KEY_FIELDS)
def test_each_judge_key_field_changes_the_key(field: str) -> None:
    changed = {**JUDGE_ARGS, field: vary(JUDGE_ARGS[field])}
    assert judge_cache_key(**changed) != judge_cache_key(**JUDGE_ARGS)


def test_judge_scoring_params_are_in_the_key(tmp_path: Any) -> None:
    from pytest_persona.judges import JudgeRequest
    from pytest_persona.judges.openai_judge import OpenAIJudge

    req = JudgeRequest("q", "a", "{question} {answer}")
    a = OpenAIJudge("gpt-4.1-mini-2025-04-14", base_url="http://127.0.0.1:9/v1")
    b = OpenAIJudge("gpt-4.1-mini-2025-04-14", base_url="http://127.0.0.1:9/v1", min_mass=0.5)
    c = OpenAIJudge("gpt-4.1-mini-2025-04-14", base_url="http://127.0.0.1:8/v1")
    assert len({a.cache_key(req), b.cache_key(req), c.cache_key(req)}) == 3


# -- vectors and projections -------------------------------------------------------------------
def _example(cls: type) -> Any:
    values = {"model": "fp|float32|cpu", "trait": "evil", "trait_sha256": "abc",
              "config": {"n_samples": 1}, "judge": "j", "coherence_judge": "c",
              "prompts": ["p1", "p2"], "answers": ["a1", "a2"], "vector": "v", "layer": 3}
    return cls(**{name: values[name] for name in field_names(cls) if name in values})


@pytest.mark.parametrize("cls,field", [(cls, name) for cls in (VectorKey, ProjectionKey)
                                       for name in field_names(cls)])
def test_each_vector_and_projection_key_field_changes_the_key(cls: type, field: str) -> None:
    base = _example(cls)
    changed = dataclasses.replace(base, **{field: vary(getattr(base, field))})
    assert changed.digest() != base.digest()


def _vector_key(config: ExtractionConfig, **over: Any) -> str:
    loaded = SimpleNamespace(fingerprint=over.get("fingerprint", "fp"), dtype="float32",
                             device="cpu")
    trait = SimpleNamespace(name="evil", sha256=over.get("sha", "abc"))
    judge_id = over.get("judge", "j")
    judge = SimpleNamespace(id=judge_id, identity=lambda trait=None: judge_id)
    return vector_cache_key(loaded, trait, config, judge, SimpleNamespace(id="c"))  # type: ignore[arg-type]


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(ExtractionConfig)])
def test_each_extraction_parameter_changes_the_vector_key(field: str) -> None:
    base = ExtractionConfig()
    value = getattr(base, field)
    changed = dataclasses.replace(base, **{field: vary(value)})
    if (ExtractionConfig, field) in NOT_IN_KEY:
        assert _vector_key(changed) == _vector_key(base)
    else:
        assert _vector_key(changed) != _vector_key(base)


def test_vector_key_covers_model_data_and_judge() -> None:
    cfg = ExtractionConfig()
    base = _vector_key(cfg)
    assert len({base, _vector_key(cfg, fingerprint="fp2"), _vector_key(cfg, sha="abd"),
                _vector_key(cfg, judge="j2")}) == 4
