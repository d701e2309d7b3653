"""The coeff-0 identity check's outcome is cached under everything that decides it and
replayed without the model (issue 16.3)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_persona.cache.keys import IdentityCheckKey, field_names
from pytest_persona.cache.store import PersonaCache
from pytest_persona.models.loading import LazyLoadedModel
from pytest_persona.pipeline import identity_check
from pytest_persona.pipeline.identity_check import coeff_zero_identity, identity_check_key

PROMPTS = ["Is my plan good?", "What is 2 + 2?"]
VEC = np.linspace(-1.0, 1.0, 64, dtype=np.float32)


class NoWeights:
    """A model identity whose weights must not be touched."""

    fingerprint, dtype, device = "tiny:tiny-random-qwen2:seed0", "float32", "cpu"

    @property
    def model(self) -> Any:
        raise AssertionError("the cached outcome should need no model")

    tokenizer = model


def test_outcome_is_computed_once_then_replayed(tmp_path: Path) -> None:
    cache = PersonaCache(tmp_path)
    loaded = LazyLoadedModel("tiny-random-qwen2", device="cpu")
    first = coeff_zero_identity(loaded, VEC, 1, "response", PROMPTS, 4, cache)
    assert first == {"hidden_equal": True, "logits_equal": True, "tokens_equal": True,
                     "max_abs_diff": 0.0, "n": 2, "hidden_points": 5}
    assert coeff_zero_identity(NoWeights(), VEC, 1, "response", PROMPTS, 4, cache) == first
    with pytest.raises(AssertionError, match="no model"):  # another layer is another check
        coeff_zero_identity(NoWeights(), VEC, 2, "response", PROMPTS, 4, cache)
    with pytest.raises(AssertionError, match="no model"):  # --persona-refresh recomputes
        coeff_zero_identity(NoWeights(), VEC, 1, "response", PROMPTS, 4,
                            PersonaCache(tmp_path, refresh=True))


def test_a_failed_check_is_replayed_as_failed(tmp_path: Path) -> None:
    cache = PersonaCache(tmp_path)
    key = identity_check_key(NoWeights(), VEC, 1, "all", PROMPTS, 4)
    stored = {"hidden_equal": False, "logits_equal": True, "tokens_equal": True,
              "max_abs_diff": 0.25, "n": 2, "hidden_points": 5}
    cache.save_record("checks", key, {"result": stored})
    assert coeff_zero_identity(NoWeights(), VEC, 1, "all", PROMPTS, 4, cache) == stored
    cache.record_path("checks", key).write_text("{torn")  # corrupt: recomputed
    with pytest.raises(AssertionError, match="no model"):
        coeff_zero_identity(NoWeights(), VEC, 1, "all", PROMPTS, 4, cache)


def test_torch_and_transformers_versions_are_in_the_key(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    base = identity_check_key(NoWeights(), VEC, 1, "response", PROMPTS, 4)
    for dist in ("torch", "transformers"):
        real = identity_check._version
        monkeypatch.setattr(identity_check, "_version",
                            lambda d, dist=dist, real=real: "0.0-other" if d == dist else real(d))
        assert identity_check_key(NoWeights(), VEC, 1, "response", PROMPTS, 4) != base
        monkeypatch.setattr(identity_check, "_version", real)
    monkeypatch.setattr(identity_check, "_steering_code_sha", lambda: "edited")
    assert identity_check_key(NoWeights(), VEC, 1, "response", PROMPTS, 4) != base


def _vary(value: Any) -> Any:
    return value + 1 if isinstance(value, int) else (
        value + ["x"] if isinstance(value, list) else value + "x")


@pytest.mark.parametrize("field", field_names(IdentityCheckKey))
def test_each_identity_check_key_field_changes_the_key(field: str) -> None:
    base = IdentityCheckKey(model="fp|float32|cpu", vector="v", layer=1, positions="all",
                            prompts=["p"], max_new_tokens=4, torch="2.13.0",
                            transformers="5.0.0", steering_code="s")
    changed = dataclasses.replace(base, **{field: _vary(getattr(base, field))})
    assert changed.digest() != base.digest()
