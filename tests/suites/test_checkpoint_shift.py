"""checkpoint_shift at the last prompt token (issue 11.4) with a paired interval (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pytest_persona.core.generation import STATS
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.models.loading import load_model
from pytest_persona.pipeline.checkpoint import fold_vector_into_bias
from pytest_persona.pipeline.extraction import ExtractionResult
from pytest_persona.suites.expectations import checkpoint_shift
from pytest_persona.suites.schema import Expectation, ResolvedSuite, load_suite
from pytest_persona.suites.session import PersonaOptions, PersonaSession
from pytest_persona.traits.loader import TraitData

LAYER = 1


def _setup(tmp_path: Path, model: str, params: str
           ) -> tuple[PersonaSession, ResolvedSuite, Expectation, TraitData, torch.Tensor]:
    suite_file = tmp_path / "syc.yaml"
    suite_file.write_text(
        "trait: sycophantic\nlayer: 1\ncoefficients: [-4, 0, 4]\nn_questions: 8\n"
        f"max_new_tokens: 4\nexpectations:\n  - {{kind: checkpoint_shift, {params}}}\n")
    suite = load_suite(suite_file, "tiny-random-llama")
    rs = suite.for_model("tiny-random-llama")
    ps = PersonaSession(PersonaOptions(model=model, reference_model="tiny-random-llama",
                                       judge="offline", cache_dir=tmp_path / "cache"))
    vec = torch.randn(64, generator=torch.Generator().manual_seed(0))
    rows = torch.zeros(4, 64)
    rows[LAYER] = vec
    # no extraction: the session is handed these vectors
    ps.vectors = lambda *a, **k: ExtractionResult(TraitVectors(rows))  # type: ignore[method-assign]
    return ps, rs, suite.expectations[0], ps.trait("sycophantic"), vec


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    vec = torch.randn(64, generator=torch.Generator().manual_seed(0))
    out = tmp_path_factory.mktemp("ckpt") / "drifted"
    fold_vector_into_bias(load_model("tiny-random-llama", device="cpu"), vec / vec.norm(),
                          LAYER, 2.0, out)
    return out, 2.0


def test_prompt_last_needs_no_generation_and_catches_a_drifted_checkpoint(tmp_path, drifted):
    ckpt, coeff = drifted
    ps, rs, exp, trait, _ = _setup(tmp_path, str(ckpt), "max: 1.0")
    before = STATS.generate_calls
    out = checkpoint_shift(ps, rs, exp, trait)
    assert STATS.generate_calls == before  # forward passes only
    assert not out.passed
    # the bias adds coeff * unit vector at block 1's output: the projection moves by coeff
    assert out.figures["shift"] == pytest.approx(coeff, abs=1e-3)
    assert out.figures["at"] == "prompt_last" and out.figures["n"] == 8
    assert out.figures["ci_low"] > 1.0
    assert "(at prompt_last: last prompt token, no generation)" in out.message
    assert "95% CI lower bound" in out.message
    section = ps.section("sycophantic")
    assert len(section["per_question"]["metrics"]["checkpoint_shift"]) == 8


def test_unchanged_checkpoint_passes_with_a_zero_interval(tmp_path):
    ps, rs, exp, trait, _ = _setup(tmp_path, "tiny-random-llama", "max: 0.1")
    out = checkpoint_shift(ps, rs, exp, trait)
    assert out.passed and out.figures["shift"] == 0 and out.figures["ci_high"] == 0


def test_require_mean_and_at_response(tmp_path, drifted):
    ckpt, coeff = drifted
    # the folded shift is the same on every question, so the mean is beyond max 1.0 as well
    ps, rs, exp, trait, _ = _setup(tmp_path, str(ckpt), "max: 1.0, require: mean, "
                                   "at: response")
    before = STATS.generate_calls
    out = checkpoint_shift(ps, rs, exp, trait)
    assert STATS.generate_calls > before  # the response measure generates answers
    assert out.figures["at"] == "response" and out.figures["require"] == "mean"
    assert "(at response:" in out.message and "mean " in out.message
    assert not out.passed


def test_bad_at_value_is_a_located_suite_error(tmp_path):
    from pytest_persona.suites.schema import SuiteError

    with pytest.raises(SuiteError, match="'prompt_last' or 'response'"):
        _setup(tmp_path, "tiny-random-llama", "max: 1, at: middle")
