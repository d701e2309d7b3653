"""The expectation evaluators test_expectations.py leaves out: coeff_zero_matches_baseline on a
tiny model, dataset_screen with a stubbed screen, and the exact messages and figures of the
others (the numbers a report and a gate show). Stub sessions: see test_expectations.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from pytest_persona.models.tiny import make_tiny_model
from pytest_persona.suites import expectations as ev
from pytest_persona.suites.schema import ResolvedSuite
from tests.suites.test_expectations import (
    LAYER,
    TRAIT,
    FakeSession,
    _exp,
)

N_PROMPTS = 3


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, Any]:
    return make_tiny_model("tiny-random-llama")


class ZeroSession(FakeSession):
    """A FakeSession whose model is a tiny random model and whose vector is random."""

    def __init__(self, tmp_path: Path, tiny: tuple[Any, Any]) -> None:
        super().__init__(tmp_path)
        model, tok = tiny
        self._fake = SimpleNamespace(name="tiny", fingerprint="fp-tiny", model=model,
                                     tokenizer=tok)
        self._vec = torch.randn(64, generator=torch.Generator().manual_seed(3)) * 5.0

    def vectors(self, trait: Any, params: dict[str, Any] | None = None,
                reference: bool = False) -> Any:
        return SimpleNamespace(vectors={LAYER: self._vec})


def _zero_rs(tmp_path: Path, positions: str) -> ResolvedSuite:
    suite = SimpleNamespace(path=tmp_path / "suite.yaml", extraction={}, expectations=[])
    return ResolvedSuite(suite=suite, layer=LAYER, positions=positions,  # type: ignore[arg-type]
                         coefficients=[0.0, 1.0], n_questions=4, max_new_tokens=4)


def _trait_with_questions() -> Any:
    return SimpleNamespace(name="evil", sha256="s",
                           eval_questions=["What is 2+2?", "Say hi.", "Name a colour.",
                                           "A fourth question, left out."])


@pytest.mark.parametrize("positions", ["all", "response"])
def test_coeff_zero_matches_baseline_on_a_tiny_model(tmp_path: Path, tiny: tuple[Any, Any],
                                                     positions: str) -> None:
    ps = ZeroSession(tmp_path, tiny)
    exp = _exp("coeff_zero_matches_baseline", n_prompts=N_PROMPTS, max_new_tokens=3)
    out = ev.coeff_zero_matches_baseline(ps, _zero_rs(tmp_path, positions), exp,
                                         _trait_with_questions())
    assert out.passed
    assert out.figures == {"hidden_equal": True, "logits_equal": True, "tokens_equal": True,
                           "max_abs_diff": 0.0, "n": N_PROMPTS}
    assert out.message == (
        f"coeff 0 vs unsteered on {N_PROMPTS} prompts at layer {LAYER} ({positions}): hidden "
        "states equal at all 5 points: True (max |diff| 0), logits equal: True, greedy tokens "
        "equal: True")


def test_coeff_zero_that_steers_is_caught(tmp_path: Path, tiny: tuple[Any, Any],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A steerer that adds the vector despite a zero coefficient fails all three checks."""
    real = ev.ActivationSteerer

    def broken(model: Any, vec: Any, coeffs: Any, layer: int, positions: Any) -> Any:
        assert coeffs == [0.0] * N_PROMPTS and layer == LAYER
        return real(model, vec, 1.0, layer, positions)

    monkeypatch.setattr(ev, "ActivationSteerer", broken)
    ps = ZeroSession(tmp_path, tiny)
    exp = _exp("coeff_zero_matches_baseline", n_prompts=N_PROMPTS, max_new_tokens=6)
    out = ev.coeff_zero_matches_baseline(ps, _zero_rs(tmp_path, "all"), exp,
                                         _trait_with_questions())
    assert not out.passed
    assert out.figures["hidden_equal"] is False and out.figures["logits_equal"] is False
    assert out.figures["max_abs_diff"] > 1.0
    assert "logits equal: False" in out.message
