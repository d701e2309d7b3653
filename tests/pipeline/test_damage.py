"""Steering damage over the benign set: the shipped data, located errors, the cache, the
bootstrap summary, and the steering_damage expectation on a tiny model."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

from pytest_persona.cache.store import CacheWarning, PersonaCache
from pytest_persona.core.damage import teacher_forced_kl
from pytest_persona.core.stats import bootstrap_ci
from pytest_persona.errors import LocatedError
from pytest_persona.models.loading import load_model
from pytest_persona.pipeline import damage as pdm


@pytest.fixture(scope="module")
def loaded():
    return load_model("tiny-random-qwen2", device="cpu")


VEC = torch.randn(64, generator=torch.Generator().manual_seed(3))


def test_shipped_benign_set() -> None:
    benign = pdm.load_benign()
    assert len(benign.prompts) >= 50 and len(set(benign.prompts)) == len(benign.prompts)
    assert all(c.strip() for c in benign.continuations)
    assert benign.source.endswith("everyday.jsonl")
    assert pdm.load_benign().head(5).prompts == benign.prompts[:5]


@pytest.mark.parametrize("text, line, field, match", [
    ('{"prompt": "a", "continuation": "b"}\n[1]\n', 2, None, "JSON object"),
    ('{"prompt": "a", "continuation": "b"}\n\n{"prompt": "a"}\n', 3, "continuation",
     "non-empty string"),
    ('{"prompt": "", "continuation": "b"}\n', 1, "prompt", "non-empty string"),
    ('{"prompt": "a", "continuation": "b", "x": 1}\n', 1, "x", "unknown field"),
    ('{"prompt": "a", "continuation": \n', 1, None, "not a JSON object"),
    ("\n\n", 1, None, "no prompts"),
])
def test_bad_benign_files_are_located(tmp_path: Path, text: str, line: int,
                                      field: str | None, match: str) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(text)
    with pytest.raises(LocatedError, match=match) as info:
        pdm.load_benign(path)
    assert (info.value.path, info.value.line, info.value.field) == (path, line, field)


def test_non_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"prompt": "a", "continuation": "b"}\n\xff\n')
    with pytest.raises(LocatedError, match="UTF-8") as info:
        pdm.load_benign(path)
    assert info.value.line == 2


def test_kl_is_cached_and_checked(loaded, tmp_path: Path, monkeypatch) -> None:
    benign = pdm.load_benign().head(4)
    cache = PersonaCache(tmp_path)
    want = teacher_forced_kl(loaded.model, loaded.tokenizer, benign.prompts,
                             benign.continuations, VEC, 2.0, 1, positions="response")
    got = pdm.steering_kl(loaded, VEC, 1, "response", 2.0, benign, cache)
    assert got == pytest.approx(want) and all(v > 0 for v in got)
    path = next((tmp_path / "damage").glob("*.json"))
    with monkeypatch.context() as m:
        m.setattr("pytest_persona.core.damage.teacher_forced_kl",
                  lambda *a, **k: pytest.fail("measured again on a warm cache"))
        assert pdm.steering_kl(loaded, VEC, 1, "response", 2.0, benign, cache) == got
    path.write_text(json.dumps({"values": [-1.0, 0.0, 0.0, 0.0]}))
    with pytest.warns(CacheWarning, match="corrupt steering-damage cache entry"):
        assert pdm.steering_kl(loaded, VEC, 1, "response", 2.0, benign, cache) == \
            pytest.approx(got)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pdm.steering_kl(loaded, VEC, 1, "response", 2.0, benign, cache) == \
            pytest.approx(got)


def test_key_varies_with_every_field() -> None:
    base = dict(model="m", vector="v", layer=1, positions="all", coeff=1.0, prompts=["p"],
                continuations=["c"])
    ref = pdm.DamageKey(**base).digest()  # type: ignore[arg-type]
    for name, other in [("model", "m2"), ("vector", "v2"), ("layer", 2),
                        ("positions", "response"), ("coeff", 2.0), ("prompts", ["q"]),
                        ("continuations", ["d"])]:
        assert pdm.DamageKey(**{**base, name: other}).digest() != ref  # type: ignore[arg-type]


def test_bad_entries() -> None:
    assert pdm.check_damage_entry({"values": [0, 0.5]}, 2) == [0.0, 0.5]
    for entry, why in [({"values": [0.1]}, "expected 2"), ({"values": [0.1, -0.2]}, ">= 0"),
                       ({"values": [0.1, float("inf")]}, "finite"), ([], "not an object")]:
        with pytest.raises(ValueError, match=why):
            pdm.check_damage_entry(entry, 2)


def test_summary_by_hand() -> None:
    s = pdm.summarize_kl(2.0, [0.1, 0.2, 0.3, 0.6], dose=0.5)
    assert s.kl == pytest.approx(0.3) and s.n == 4 and s.dose == 0.5
    assert (s.ci_low, s.ci_high) == bootstrap_ci([0.1, 0.2, 0.3, 0.6], seed=0)
    assert s.ci_low <= s.kl <= s.ci_high
    assert s.to_row() == {"coeff": 2.0, "dose": 0.5, "kl": s.kl, "ci": [s.ci_low, s.ci_high],
                          "n": 4}
    with pytest.raises(ValueError):
        pdm.summarize_kl(1.0, [])
