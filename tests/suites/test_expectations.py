"""Expectation evaluators against a stubbed session with fixed numbers, at and around each bound.

The stub subclasses PersonaSession and replaces only the public methods the evaluators call
(model, sweep, baseline, projections, vectors, trait, response_projections), so the arithmetic
of each evaluator is tested without a model or a judge.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from pytest_persona.core.arrays import Vector
from pytest_persona.core.dose import DoseScale
from pytest_persona.core.stats import Summary
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.pipeline.extraction import ExtractionResult
from pytest_persona.suites import expectations as ev
from pytest_persona.suites.registry import REQUIRED, default_registry
from pytest_persona.suites.schema import Expectation, ResolvedSuite
from pytest_persona.suites.session import CoeffRun, PersonaOptions, PersonaSession, Sweep
from pytest_persona.traits.loader import TraitData
from tests.support.fakes import resolved_suite, trait_data

KINDS = default_registry()

LAYER = 1
N_LAYERS = 3
EPS = 1e-6


def _summary(mean: float, lo: float | None = None, hi: float | None = None, n: int = 10
             ) -> Summary:
    return Summary(n, mean, mean if lo is None else lo, mean if hi is None else hi)


class FixedRun(CoeffRun):
    """A sweep row whose score and coherence summaries are fixed numbers."""

    def __init__(self, coeff: float, score: Summary | None = None,
                 coherence: Summary | None = None, scores: list[float | None] | None = None,
                 answers: list[str] | None = None) -> None:
        scores = list(scores) if scores is not None else []
        answers = answers if answers is not None else [f"a{coeff:g}-{i}"
                                                        for i in range(len(scores))]
        super().__init__(coeff, [f"q{i}" for i in range(len(answers))], answers, scores,
                         [80.0] * len(scores))
        self._score, self._coherence = score, coherence

    def score_summary(self) -> Summary:
        return self._score if self._score is not None else super().score_summary()

    def coherence_summary(self) -> Summary:
        return self._coherence if self._coherence is not None else super().coherence_summary()


def _layers(vec: list[float]) -> TraitVectors:
    """Vectors with ``vec`` at LAYER and unrelated rows elsewhere."""
    rows = torch.full((N_LAYERS, len(vec)), 7.0)
    rows[LAYER] = torch.tensor(vec)
    return TraitVectors(rows, {"model_id": "fake"})


class FakeSession(PersonaSession):
    """PersonaSession with fixed numbers in place of models, judges and caches."""

    def __init__(self, tmp_path: Path, *, runs: dict[float, FixedRun] | None = None,
                 baseline_run: CoeffRun | None = None,
                 proj: dict[str, list[float]] | None = None,
                 vecs: dict[str, list[float]] | None = None,
                 answer_proj: dict[str, float] | None = None) -> None:
        super().__init__(PersonaOptions(model="fake", cache_dir=tmp_path / "cache"))
        self._fake = SimpleNamespace(name="fake", fingerprint="fp-fake", model_id="fake")
        self._runs = runs or {}
        self._baseline_run = baseline_run
        self._proj = proj or {}
        self._vecs = vecs or {}
        self._answer_proj = answer_proj or {}
        self.calls: list[tuple[str, Any]] = []

    @property
    def model(self) -> Any:
        return self._fake

    def trait(self, name_or_path: str | Path | tuple[Path, Path]) -> TraitData:
        return trait_data(str(name_or_path))

    def dose_scale(self, rs: ResolvedSuite, trait: Any) -> DoseScale:
        # ||v|| = 2, mean ||h|| = 8: dose = |c| / 4, coeff = 4 * dose
        return DoseScale(vector_norm=2.0, mean_norm=8.0, n_tokens=12, layer=rs.layer)

    def sweep(self, rs: ResolvedSuite, trait: Any) -> Sweep:
        self.calls.append(("sweep", trait.name))
        return Sweep(rs.layer, dict(self._runs))

    def unsteered_run(self, rs: ResolvedSuite, trait: Any) -> CoeffRun:
        self.calls.append(("baseline", trait.name))
        assert self._baseline_run is not None
        return self._baseline_run

    def projections(self, rs: ResolvedSuite, trait: Any, coeff: float) -> dict[str, list[float]]:
        self.calls.append(("projections", coeff))
        return self._proj

    def vectors(self, trait: Any, params: dict[str, Any] | None = None,
                reference: bool = False) -> ExtractionResult:
        tv = _layers(self._vecs[trait.name])
        tv.metadata["trait"] = trait.name
        result = ExtractionResult(tv)
        self._vectors[(self._fake.fingerprint, trait.name)] = result
        return result

    def response_projections(self, loaded: Any, prompts: list[Any], answers: list[str],
                             vector: Vector, layer: int) -> list[float]:
        self.calls.append(("response_projections", list(answers)))
        return [self._answer_proj[a] for a in answers]


def _exp(kind: str, **params: Any) -> Expectation:
    """An expectation with the schema's defaults for every field not given."""
    full = {name: (None if default is REQUIRED else default)
            for name, (_, default) in KINDS[kind].fields.items()}
    full.update(params)
    return Expectation(kind, kind, full, line=1, index=0)


@pytest.fixture()
def rs(tmp_path: Path) -> ResolvedSuite:
    return resolved_suite(tmp_path / "suite.yaml", layer=LAYER, positions="all",
                          coefficients=[-2.0, 0.0, 1.0, 2.0], n_questions=4, max_new_tokens=8)


TRAIT = trait_data("evil")


def _run(kind: str, ps: FakeSession, rs: ResolvedSuite, **params: Any) -> ev.Outcome:
    outcome: ev.Outcome = KINDS.evaluator(kind)(ps, rs, _exp(kind, **params), TRAIT)
    return outcome


# -- steering_raises / steering_lowers ---------------------------------------------------

@pytest.mark.parametrize("mean, ok", [(50.0, False), (50.0 + EPS, True), (50.0 - EPS, False)])
def test_raises_mean_is_strictly_above(tmp_path: Path, rs: ResolvedSuite, mean: float,
                                       ok: bool) -> None:
    ps = FakeSession(tmp_path, runs={3.0: FixedRun(3.0, _summary(mean, 0.0, 100.0))})
    out = _run("steering_raises", ps, rs, coeff=3, threshold=50, require="mean")
    assert out.passed is ok
    assert out.figures["coeff"] == 3.0 and out.figures["threshold"] == 50


@pytest.mark.parametrize("lo, hi, mean, ok", [
    (50.0, 90.0, 80.0, False),           # lower bound on the threshold
    (50.0 + EPS, 90.0, 80.0, True),
    (40.0, 90.0, 80.0, False),           # mean and upper bound clear it: only ci_low counts
    (60.0, 70.0, 45.0, True),            # mean below: ci ignores the mean
])
def test_raises_ci_uses_the_lower_bound(tmp_path: Path, rs: ResolvedSuite, lo: float,
                                        hi: float, mean: float, ok: bool) -> None:
    ps = FakeSession(tmp_path, runs={3.0: FixedRun(3.0, _summary(mean, lo, hi))})
    out = _run("steering_raises", ps, rs, coeff=3, threshold=50, require="ci")
    assert out.passed is ok
    assert "95% CI lower bound" in out.message


@pytest.mark.parametrize("mean, ok", [(20.0, False), (20.0 - EPS, True), (20.0 + EPS, False)])
def test_lowers_mean_is_strictly_below(tmp_path: Path, rs: ResolvedSuite, mean: float,
                                       ok: bool) -> None:
    ps = FakeSession(tmp_path, runs={-2.0: FixedRun(-2.0, _summary(mean, 0.0, 100.0))})
    out = _run("steering_lowers", ps, rs, coeff=-2, threshold=20, require="mean")
    assert out.passed is ok


@pytest.mark.parametrize("lo, hi, mean, ok", [
    (5.0, 20.0, 10.0, False),            # upper bound on the threshold
    (5.0, 20.0 - EPS, 10.0, True),
    (5.0, 30.0, 10.0, False),            # mean and lower bound below: only ci_high counts
    (5.0, 15.0, 25.0, True),             # mean above: ci ignores the mean
])
def test_lowers_ci_uses_the_upper_bound(tmp_path: Path, rs: ResolvedSuite, lo: float,
                                        hi: float, mean: float, ok: bool) -> None:
    ps = FakeSession(tmp_path, runs={-2.0: FixedRun(-2.0, _summary(mean, lo, hi))})
    out = _run("steering_lowers", ps, rs, coeff=-2, threshold=20, require="ci")
    assert out.passed is ok
    assert "95% CI upper bound" in out.message


def test_steered_score_reads_the_named_coefficient(tmp_path: Path, rs: ResolvedSuite) -> None:
    runs = {2.0: FixedRun(2.0, _summary(10.0)), 3.0: FixedRun(3.0, _summary(90.0))}
    ps = FakeSession(tmp_path, runs=runs)
    assert _run("steering_raises", ps, rs, coeff=3, threshold=50).passed
    assert not _run("steering_raises", ps, rs, coeff=2, threshold=50).passed


# -- baseline_ceiling ----------------------------------------------------------------------

@pytest.mark.parametrize("mean, ok", [(10.0, True), (10.0 + EPS, False), (10.0 - EPS, True)])
def test_baseline_ceiling_mean_is_inclusive(tmp_path: Path, rs: ResolvedSuite, mean: float,
                                            ok: bool) -> None:
    ps = FakeSession(tmp_path, baseline_run=FixedRun(0.0, _summary(mean, 0.0, 100.0)))
    out = _run("baseline_ceiling", ps, rs, max=10, require="mean")
    assert out.passed is ok
    assert ("baseline", "evil") in ps.calls and not any(c[0] == "sweep" for c in ps.calls)


@pytest.mark.parametrize("lo, hi, mean, ok", [
    (0.0, 10.0, 5.0, True), (0.0, 10.0 + EPS, 5.0, False),
    (9.0, 12.0, 9.5, False),             # mean under the ceiling, upper bound over it
    (0.0, 8.0, 11.0, True),              # ci ignores the mean
])
def test_baseline_ceiling_ci_uses_the_upper_bound(tmp_path: Path, rs: ResolvedSuite, lo: float,
                                                  hi: float, mean: float, ok: bool) -> None:
    ps = FakeSession(tmp_path, baseline_run=FixedRun(0.0, _summary(mean, lo, hi)))
    out = _run("baseline_ceiling", ps, rs, max=10, require="ci")
    assert out.passed is ok
    assert "95% CI upper bound" in out.message


# -- coherence_guard -----------------------------------------------------------------------

def _coh_runs(values: dict[float, Summary]) -> dict[float, FixedRun]:
    return {c: FixedRun(c, coherence=s) for c, s in values.items()}


@pytest.mark.parametrize("mean, ok", [(50.0, True), (50.0 - EPS, False), (50.0 + EPS, True)])
def test_coherence_guard_mean_is_inclusive(tmp_path: Path, rs: ResolvedSuite, mean: float,
                                           ok: bool) -> None:
    runs = _coh_runs({-2.0: _summary(90.0), 0.0: _summary(90.0), 1.0: _summary(90.0),
                      2.0: _summary(mean, 0.0, 100.0)})
    out = _run("coherence_guard", FakeSession(tmp_path, runs=runs), rs, min=50, require="mean")
    assert out.passed is ok
    assert out.figures["coherence[2]"] == pytest.approx(round(mean, 2))


@pytest.mark.parametrize("lo, hi, mean, ok", [
    (50.0, 90.0, 70.0, True), (50.0 - EPS, 90.0, 70.0, False),
    (40.0, 90.0, 70.0, False),           # mean fine, lower bound under the floor
    (55.0, 60.0, 45.0, True),            # ci ignores the mean
])
def test_coherence_guard_ci_uses_the_lower_bound(tmp_path: Path, rs: ResolvedSuite, lo: float,
                                                 hi: float, mean: float, ok: bool) -> None:
    runs = _coh_runs({1.0: _summary(mean, lo, hi)})
    out = _run("coherence_guard", FakeSession(tmp_path, runs=runs), rs, min=50, require="ci",
               coefficients=[1.0])
    assert out.passed is ok


def test_coherence_guard_checks_every_nonzero_coefficient(tmp_path: Path,
                                                          rs: ResolvedSuite) -> None:
    good = {c: _summary(90.0) for c in (-2.0, 1.0, 2.0)}
    # coefficient 0 is not steering: left out by default even when incoherent
    runs = _coh_runs({**good, 0.0: _summary(5.0)})
    assert _run("coherence_guard", FakeSession(tmp_path, runs=runs), rs, min=50).passed
    for low in (-2.0, 1.0, 2.0):  # one low coefficient anywhere fails the whole guard
        bad = _coh_runs({**good, low: _summary(30.0), 0.0: _summary(90.0)})
        out = _run("coherence_guard", FakeSession(tmp_path, runs=bad), rs, min=50)
        assert not out.passed, low
        assert out.message.count("LOW") == 1
    # explicit coefficients replace the default set
    runs = _coh_runs({**good, 0.0: _summary(5.0)})
    assert not _run("coherence_guard", FakeSession(tmp_path, runs=runs), rs, min=50,
                    coefficients=[0.0, 1.0]).passed


# -- monotonic -----------------------------------------------------------------------------

def _mono_runs(means: dict[float, float]) -> dict[float, FixedRun]:
    return {c: FixedRun(c, _summary(m), scores=[m, m]) for c, m in means.items()}


def test_monotonic_known_spearman_around_min_r(tmp_path: Path, rs: ResolvedSuite) -> None:
    # one adjacent swap among five means: Spearman r = 1 - 6*2/(5*24) = 0.9
    means = {-2.0: 1.0, -1.0: 2.0, 0.0: 4.0, 1.0: 3.0, 2.0: 5.0}
    ps = FakeSession(tmp_path, runs=_mono_runs(means))
    coeffs = [2.0, -1.0, 0.0, -2.0, 1.0]  # given unsorted: the evaluator sorts them
    out = _run("monotonic", ps, rs, coefficients=coeffs, min_r=0.9 - EPS)
    assert out.passed and out.figures["spearman_r"] == pytest.approx(0.9)
    assert not _run("monotonic", ps, rs, coefficients=coeffs, min_r=0.9 + EPS).passed


def test_monotonic_decreasing_and_ties(tmp_path: Path, rs: ResolvedSuite) -> None:
    down = FakeSession(tmp_path, runs=_mono_runs({-2.0: 9.0, 0.0: 5.0, 1.0: 4.0, 2.0: 1.0}))
    out = _run("monotonic", down, rs, min_r=-1.0 + EPS)  # default: the suite's coefficients
    assert out.figures["spearman_r"] == pytest.approx(-1.0) and not out.passed
    # a tie: ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): r = 4.5 / sqrt(5 * 4.5)
    tied = FakeSession(tmp_path, runs=_mono_runs({-2.0: 1.0, 0.0: 3.0, 1.0: 3.0, 2.0: 8.0}))
    r = 4.5 / math.sqrt(5 * 4.5)
    assert _run("monotonic", tied, rs, min_r=r - EPS).figures["spearman_r"] == pytest.approx(
        r, abs=1e-4)
    assert _run("monotonic", tied, rs, min_r=r - EPS).passed
    assert not _run("monotonic", tied, rs, min_r=r + EPS).passed


def test_monotonic_missing_means_fail(tmp_path: Path, rs: ResolvedSuite) -> None:
    runs = _mono_runs({-2.0: 1.0, 0.0: 2.0, 1.0: 3.0})
    runs[2.0] = FixedRun(2.0, _summary(math.nan), scores=[None, None])
    out = _run("monotonic", FakeSession(tmp_path, runs=runs), rs, min_r=-1.0)
    assert not out.passed and out.figures["missing_coeffs"] == [2.0]


def test_monotonic_constant_curve_fails(tmp_path: Path, rs: ResolvedSuite) -> None:
    runs = _mono_runs({-2.0: 5.0, 0.0: 5.0, 1.0: 5.0, 2.0: 5.0})
    assert not _run("monotonic", FakeSession(tmp_path, runs=runs), rs, min_r=-1.0).passed


def test_monotonic_perfect_curve_meets_min_r_one(tmp_path: Path, rs: ResolvedSuite) -> None:
    runs = _mono_runs({-2.0: 1.0, 0.0: 2.0, 1.0: 3.0, 2.0: 4.0})
    assert _run("monotonic", FakeSession(tmp_path, runs=runs), rs, min_r=1.0).passed


# -- projection_order ----------------------------------------------------------------------

@pytest.mark.parametrize("b, p, s, ok", [
    (1.0, 2.0, 3.0, True),
    (1.0, 1.5, 3.0, False),              # baseline + margin == prompted: strict
    (1.0, 1.5 + EPS, 3.0, True),
    (1.0, 2.0, 2.5, False),              # prompted + margin == steered: strict
    (1.0, 2.0, 2.5 + EPS, True),
    (1.0, 1.25, 3.0, False),             # ordered, but the margin is missed on the low side
    (1.0, 2.0, 2.25, False),             # ordered, but the margin is missed on the high side
    (2.0, 1.0, 3.0, False),
])
def test_projection_order_margin_on_both_sides(tmp_path: Path, rs: ResolvedSuite, b: float,
                                               p: float, s: float, ok: bool) -> None:
    proj = {"baseline": [b] * 4, "prompted": [p] * 4, "steered": [s] * 4}
    out = _run("projection_order", FakeSession(tmp_path, proj=proj), rs, coeff=2, margin=0.5)
    assert out.passed is ok
    assert out.figures["baseline"] == pytest.approx(b) and out.figures["n"] == 4


def test_projection_order_uses_means_and_default_coeff(tmp_path: Path,
                                                       rs: ResolvedSuite) -> None:
    proj = {"baseline": [0.0, 2.0], "prompted": [1.0, 3.0], "steered": [5.0, 1.0]}
    ps = FakeSession(tmp_path, proj=proj)
    out = _run("projection_order", ps, rs, margin=0.0)  # means 1 < 2 < 3
    assert out.passed
    assert ("projections", 2.0) in ps.calls  # the suite's largest positive coefficient
    assert not _run("projection_order", ps, rs, margin=1.0).passed


# -- cross_trait_cosine --------------------------------------------------------------------

@pytest.mark.parametrize("other, limit, absolute, ok", [
    ([1.0, 1.0, 1.0, 1.0], 0.5, False, False),        # cos = 0.5 exactly: strict
    ([1.0, 1.0, 1.0, 1.0], 0.5 + EPS, False, True),
    ([-1.0, 1.0, 1.0, 1.0], 0.5, False, True),        # cos = -0.5 is below 0.5
    ([-1.0, 1.0, 1.0, 1.0], 0.5, True, False),        # |cos| = 0.5: strict
    ([-1.0, 1.0, 1.0, 1.0], 0.5 + EPS, True, True),
    ([-1.0, -1.0, -1.0, -1.0], 0.4, True, False),     # |-0.5| >= 0.4
    ([-1.0, -1.0, -1.0, -1.0], 0.4, False, True),
])
def test_cross_trait_cosine_bound(tmp_path: Path, rs: ResolvedSuite, other: list[float],
                                  limit: float, absolute: bool, ok: bool) -> None:
    ps = FakeSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0], "kind": other})
    out = _run("cross_trait_cosine", ps, rs, traits=["kind"], max=limit, absolute=absolute)
    assert out.passed is ok
    expected = sum(other[:1]) / 2.0
    assert out.figures["cos[kind]"] == pytest.approx(expected)
    assert ps.section("evil")["metrics"]["max_cross_cosine"] == pytest.approx(abs(expected))


def test_cross_trait_cosine_every_trait_and_matrix(tmp_path: Path, rs: ResolvedSuite) -> None:
    vecs = {"evil": [1.0, 0.0, 0.0, 0.0], "kind": [0.0, 1.0, 0.0, 0.0],
            "rude": [1.0, 1.0, 1.0, 1.0], "other": [0.0, 0.0, 3.0, 0.0]}
    ps = FakeSession(tmp_path, vecs=vecs)
    ps.vectors(ps.trait("other"))  # extracted earlier in the run: joins the matrix
    out = _run("cross_trait_cosine", ps, rs, traits=["kind", "rude"], max=0.4)
    assert not out.passed and "rude: +0.500 (too high)" in out.message
    assert "kind: +0.000" in out.message and "kind: +0.000 (too high)" not in out.message
    names, matrix = ps.cosine["traits"], ps.cosine["matrix"]  # type: ignore[attr-defined]
    assert names == ["evil", "kind", "other", "rude"] and ps.cosine["layer"] == LAYER  # type: ignore[attr-defined]
    assert matrix[0][3] == pytest.approx(0.5) and matrix[2][3] == pytest.approx(0.5)
    assert matrix[0][2] == pytest.approx(0.0)


# -- vector_drift --------------------------------------------------------------------------

@pytest.mark.parametrize("stored, min_cos, ok", [
    ([1.0, 1.0, 1.0, 1.0], 0.5, True),                # cos = 0.5 exactly: inclusive
    ([1.0, 1.0, 1.0, 1.0], 0.5 + EPS, False),
    ([1.0, 1.0, 1.0, 1.0], 0.5 - EPS, True),
    ([-1.0, 0.0, 0.0, 0.0], -1.0, True),
    ([-1.0, 0.0, 0.0, 0.0], 0.0, False),
])
def test_vector_drift_bound(tmp_path: Path, rs: ResolvedSuite, stored: list[float],
                            min_cos: float, ok: bool) -> None:
    _layers(stored).save(tmp_path / "stored.safetensors")
    ps = FakeSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0]})
    out = _run("vector_drift", ps, rs, file="stored.safetensors", min_cosine=min_cos)
    assert out.passed is ok
    assert out.figures["cosine"] == pytest.approx(stored[0] / 2.0 if stored[1] else -1.0)
    assert out.figures["file"] == str(tmp_path / "stored.safetensors")


def test_vector_drift_reads_the_suite_layer(tmp_path: Path, rs: ResolvedSuite) -> None:
    rows = torch.zeros(N_LAYERS, 4)
    rows[:, 0] = 1.0
    rows[LAYER] = torch.tensor([0.0, 1.0, 0.0, 0.0])  # orthogonal only at the suite layer
    TraitVectors(rows).save(tmp_path / "v.safetensors")
    ps = FakeSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0]})
    out = _run("vector_drift", ps, rs, file=str(tmp_path / "v.safetensors"), min_cosine=0.5)
    assert not out.passed and out.figures["cosine"] == pytest.approx(0.0)


def test_vector_drift_without_file_and_wrong_shape(tmp_path: Path, rs: ResolvedSuite) -> None:
    ps = FakeSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0]})
    with pytest.raises(ev.NotForThisModel, match="no stored evil vector file"):
        _run("vector_drift", ps, rs, file=None)
    TraitVectors(torch.ones(N_LAYERS, 5)).save(tmp_path / "wide.safetensors")
    with pytest.raises(ValueError, match=r"\[3, 5\].*d_model 4"):
        _run("vector_drift", ps, rs, file="wide.safetensors")


# -- projection_tracks_score ---------------------------------------------------------------

def _track_session(tmp_path: Path, scores: list[float | None], proj: list[float]
                   ) -> FakeSession:
    answers = [f"ans{i}" for i in range(len(scores))]
    half = len(scores) // 2
    runs = {0.0: FixedRun(0.0, scores=scores[:half], answers=answers[:half]),
            2.0: FixedRun(2.0, scores=scores[half:], answers=answers[half:])}
    return FakeSession(tmp_path, runs=runs, vecs={"evil": [1.0, 0.0, 0.0, 0.0]},
                       answer_proj=dict(zip(answers, proj)))


def test_projection_tracks_score_known_pearson(tmp_path: Path, rs: ResolvedSuite) -> None:
    # x = (1, 2, 3, 4), y = (1, 3, 2, 4): Pearson r = 4 / 5 = 0.8
    ps = _track_session(tmp_path, [1.0, 3.0, 2.0, 4.0], [1.0, 2.0, 3.0, 4.0])
    out = _run("projection_tracks_score", ps, rs, min_r=0.8 - EPS)
    assert out.passed and out.figures["pearson_r"] == pytest.approx(0.8)
    assert out.figures["n"] == 4
    assert not _run("projection_tracks_score", ps, rs, min_r=0.8 + EPS).passed


def test_projection_tracks_score_drops_unscored_pairs_together(tmp_path: Path,
                                                               rs: ResolvedSuite) -> None:
    # the unscored response has a wild projection: kept, it would break the correlation
    ps = _track_session(tmp_path, [1.0, None, 3.0, 2.0, 4.0, 5.0],
                        [1.0, -100.0, 2.0, 3.0, 4.0, 5.0])
    out = _run("projection_tracks_score", ps, rs, min_r=0.5)
    assert out.figures["n"] == 5 and out.passed
    projected = next(c[1] for c in ps.calls if c[0] == "response_projections")
    assert "ans1" not in projected and len(projected) == 5


def test_projection_tracks_score_needs_three_scores(tmp_path: Path, rs: ResolvedSuite) -> None:
    few = _track_session(tmp_path, [1.0, None, 3.0, None], [1.0, 2.0, 3.0, 4.0])
    out = _run("projection_tracks_score", few, rs, min_r=-1.0)
    assert not out.passed and out.figures["n"] == 2
    three = _track_session(tmp_path, [1.0, None, 3.0, 4.0], [1.0, 2.0, 2.0, 4.0])
    assert _run("projection_tracks_score", three, rs, min_r=0.5).figures["n"] == 3


def test_projection_tracks_score_negative_and_constant(tmp_path: Path, rs: ResolvedSuite) -> None:
    neg = _track_session(tmp_path, [4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    out = _run("projection_tracks_score", neg, rs, min_r=-1.0 + EPS)
    assert not out.passed and out.figures["pearson_r"] == pytest.approx(-1.0)
    flat = _track_session(tmp_path, [1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0])
    assert not _run("projection_tracks_score", flat, rs, min_r=-1.0).passed


# -- relative dose ---------------------------------------------------------------------------

def test_raises_by_dose_reads_the_converted_coefficient(tmp_path: Path, rs: ResolvedSuite
                                                        ) -> None:
    runs = {2.0: FixedRun(2.0, _summary(90.0)), 3.0: FixedRun(3.0, _summary(10.0))}
    ps = FakeSession(tmp_path, runs=runs)
    out = _run("steering_raises", ps, rs, dose=0.5, threshold=50)  # coeff = 4 * 0.5 = 2
    assert out.passed and out.figures["coeff"] == 2.0 and out.figures["dose"] == 0.5
    assert "coeff = dose * mean_norm / vector_norm" in out.figures["converted"]
    assert "coeff +2 (dose 0.5)" in out.message


def test_coefficient_figures_carry_their_dose(tmp_path: Path, rs: ResolvedSuite) -> None:
    ps = FakeSession(tmp_path, runs={3.0: FixedRun(3.0, _summary(90.0))})
    out = _run("steering_raises", ps, rs, coeff=3, threshold=50)
    assert out.figures["dose"] == 0.75 and "converted" not in out.figures
    assert out.figures["vector_norm"] == 2.0 and out.figures["mean_norm"] == 8.0
    assert "(dose 0.75)" in out.message


def test_guard_by_doses(tmp_path: Path, rs: ResolvedSuite) -> None:
    runs = {c: FixedRun(c, _summary(80.0), coherence=_summary(c * 30.0)) for c in (1.0, 2.0)}
    ps = FakeSession(tmp_path, runs=runs)
    out = _run("coherence_guard", ps, rs, doses=[0.25, 0.5], min=50)
    assert not out.passed  # 30 at coeff 1 (dose 0.25), 60 at coeff 2 (dose 0.5)
    assert out.figures["coefficients"] == [1.0, 2.0] and out.figures["doses"] == [0.25, 0.5]
