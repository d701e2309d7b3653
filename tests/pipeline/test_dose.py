"""The dose scale of a (model, layer, prompts): measured once, cached, checked on read."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from pytest_persona.cache.store import CacheWarning, PersonaCache
from pytest_persona.core.dose import mean_block_norm
from pytest_persona.models.loading import load_model
from pytest_persona.pipeline import dose as pd

PROMPTS = ["What is 2 + 2?", "Name a colour."]


@pytest.fixture(scope="module")
def loaded():
    return load_model("tiny-random-qwen2", device="cpu")


def test_vector_norm_by_hand() -> None:
    assert pd.vector_norm(torch.tensor([3.0, 4.0])) == 5.0
    assert pd.vector_norm(np.array([1.0, 2.0, 2.0])) == 3.0


def test_scale_is_measured_once_then_read(loaded, tmp_path, monkeypatch) -> None:
    cache = PersonaCache(tmp_path)
    want, n = mean_block_norm(loaded.model, loaded.tokenizer, PROMPTS, 1)
    scale = pd.dose_scale(loaded, torch.tensor([3.0, 4.0]), 1, PROMPTS, cache)
    assert scale.mean_norm == pytest.approx(want) and scale.n_tokens == n
    assert scale.vector_norm == 5.0 and scale.layer == 1
    assert scale.dose(2.0) == pytest.approx(2.0 * 5.0 / want)
    files = list((tmp_path / "dose").glob("*.json"))
    assert len(files) == 1
    monkeypatch.setattr("pytest_persona.core.dose.mean_block_norm",
                        lambda *a, **k: pytest.fail("measured again on a warm cache"))
    again = pd.dose_scale(loaded, torch.tensor([6.0, 8.0]), 1, PROMPTS, cache)
    assert again.mean_norm == scale.mean_norm and again.vector_norm == 10.0


def test_key_names_model_layer_and_prompts(loaded) -> None:
    base = pd.DoseKey("m", 1, PROMPTS).digest()
    assert pd.DoseKey("m2", 1, PROMPTS).digest() != base
    assert pd.DoseKey("m", 2, PROMPTS).digest() != base
    assert pd.DoseKey("m", 1, PROMPTS[:1]).digest() != base


@pytest.mark.parametrize("entry, why", [
    ([1, 2], "not an object"),
    ({"n_tokens": 3, "layer": 1}, "'mean_norm' is missing"),
    ({"mean_norm": -1.0, "n_tokens": 3, "layer": 1}, "positive finite"),
    ({"mean_norm": 0, "n_tokens": 3, "layer": 1}, "positive finite"),
    ({"mean_norm": True, "n_tokens": 3, "layer": 1}, "positive finite"),
    ({"mean_norm": 2.0, "n_tokens": 0, "layer": 1}, "positive integer"),
    ({"mean_norm": 2.0, "n_tokens": 1.5, "layer": 1}, "positive integer"),
    ({"mean_norm": 2.0, "n_tokens": 3, "layer": 2}, "expected 1"),
])
def test_bad_entries_are_refused(entry, why) -> None:
    with pytest.raises(ValueError, match=why):
        pd.check_dose_entry(entry, 1)


def test_corrupt_entry_warns_and_is_measured_again(loaded, tmp_path) -> None:
    cache = PersonaCache(tmp_path)
    first = pd.mean_norm_cached(loaded, 1, PROMPTS, cache)
    path = next((tmp_path / "dose").glob("*.json"))
    path.write_text(json.dumps({"mean_norm": float("nan"), "n_tokens": 1, "layer": 1}))
    with pytest.warns(CacheWarning, match="corrupt dose cache entry"):
        again = pd.mean_norm_cached(loaded, 1, PROMPTS, cache)
    assert again == pytest.approx(first)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pd.mean_norm_cached(loaded, 1, PROMPTS, cache) == pytest.approx(first)
