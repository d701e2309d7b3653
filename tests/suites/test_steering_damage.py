"""The steering_damage expectation on a tiny model: KL against the bound, by coeff or dose,
the curve recorded for the report, and suite validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_persona.models.loading import load_model
from pytest_persona.pipeline.damage import load_benign, steering_kl
from pytest_persona.suites import expectations as ev
from pytest_persona.suites.schema import ResolvedSuite, SuiteError, load_suite
from tests.suites.test_expectations import TRAIT, FakeSession, _exp
from tests.support.fakes import resolved_suite

LOADED = load_model("tiny-random-qwen2", device="cpu")


class ModelSession(FakeSession):
    @property
    def model(self) -> Any:
        return LOADED


@pytest.fixture()
def ps(tmp_path: Path) -> ModelSession:
    import torch

    vec = torch.randn(64, generator=torch.Generator().manual_seed(1)).tolist()
    return ModelSession(tmp_path, vecs={"evil": vec})


@pytest.fixture()
def rs(tmp_path: Path) -> ResolvedSuite:
    return resolved_suite(tmp_path / "suite.yaml", layer=1, positions="response",
                          coefficients=[-4.0, 0.0, 4.0], n_questions=4, max_new_tokens=8)


def test_damage_at_a_dose_against_the_bound(ps: ModelSession, rs: ResolvedSuite) -> None:
    exp = _exp("steering_damage", dose=1.0, max_kl=1e9, n_prompts=6)  # coeff = 4 * dose
    out = ev.steering_damage(ps, rs, exp, TRAIT)
    assert out.passed and out.figures["coeff"] == 4.0 and out.figures["dose"] == 1.0
    vec = ps.vectors(TRAIT).vectors.array(1)
    values = steering_kl(LOADED, vec, 1, "response", 4.0, load_benign().head(6), None)
    assert out.figures["kl"] == pytest.approx(sum(values) / 6, abs=1e-6)
    assert out.figures["n"] == 6 and out.figures["ci_low"] <= out.figures["kl"]
    assert "bootstrap over n=6 benign prompts of everyday.jsonl" in out.message
    rows = ps.section("evil")["damage"]
    assert [r["coeff"] for r in rows] == [-4.0, 0.0, 4.0]
    assert rows[1]["kl"] == 0.0 and rows[0]["kl"] > 0 and rows[2]["dose"] == 1.0
    strict = ev.steering_damage(ps, rs, _exp("steering_damage", coeff=4, n_prompts=6,
                                             max_kl=out.figures["kl"] * 0.999), TRAIT)
    assert not strict.passed
    ci = ev.steering_damage(ps, rs, _exp("steering_damage", coeff=4, n_prompts=6,
                                         max_kl=out.figures["kl"], require="ci"), TRAIT)
    assert ci.passed is (out.figures["ci_high"] <= out.figures["kl"])
    assert "95% CI upper bound" in ci.message


def test_kl_rises_with_the_coefficient(ps: ModelSession, rs: ResolvedSuite) -> None:
    kls = [ev.steering_damage(ps, rs, _exp("steering_damage", coeff=c, max_kl=1e9,
                                           n_prompts=5, curve=False), TRAIT).figures["kl"]
           for c in (1.0, 4.0, 16.0)]
    assert 0 < kls[0] < kls[1] < kls[2]


def test_own_benign_file_relative_to_the_suite(ps: ModelSession, rs: ResolvedSuite,
                                               tmp_path: Path) -> None:
    (tmp_path / "mine.jsonl").write_text('{"prompt": "Hi?", "continuation": "Hello."}\n'
                                         '{"prompt": "Two?", "continuation": "Yes, two."}\n')
    out = ev.steering_damage(ps, rs, _exp("steering_damage", coeff=2, max_kl=1e9,
                                          file="mine.jsonl", curve=False), TRAIT)
    assert out.figures["n"] == 2 and out.figures["prompts"] == str(tmp_path / "mine.jsonl")


def test_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("trait: evil\nexpectations:\n  - {kind: steering_damage, dose: 0.5, "
                    "max_kl: 0.2}\n")
    assert load_suite(path).expectations[0].id == "steering_damage[dose=0.5]"
    path.write_text("trait: evil\nexpectations:\n  - {kind: steering_damage, dose: 0.5}\n")
    with pytest.raises(SuiteError, match="max_kl.*missing required|missing required"):
        load_suite(path)
    path.write_text("trait: evil\nexpectations:\n  - {kind: steering_damage, max_kl: 1}\n")
    with pytest.raises(SuiteError, match="give 'coeff' or 'dose'"):
        load_suite(path)
