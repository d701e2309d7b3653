"""The expectation evaluators test_expectations.py leaves out: coeff_zero_matches_baseline on a
tiny model, dataset_screen with a stubbed screen, and the exact messages and figures of the
others (the numbers a report and a gate show). Stub sessions: see test_expectations.py."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from pytest_persona.core.arrays import Vector
from pytest_persona.models.tiny import make_tiny_model
from pytest_persona.suites import expectations as ev
from pytest_persona.suites.schema import ResolvedSuite
from tests.suites.test_expectations import (
    LAYER,
    TRAIT,
    FakeSession,
    _exp,
)
from tests.support.fakes import resolved_suite

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
                                     tokenizer=tok, dtype="float32", device="cpu")
        self._vec = torch.randn(64, generator=torch.Generator().manual_seed(3)) * 5.0

    def vectors(self, trait: Any, params: dict[str, Any] | None = None,
                reference: bool = False) -> Any:
        layers = {LAYER: self._vec.numpy()}
        return SimpleNamespace(vectors=SimpleNamespace(array=layers.__getitem__))


def _zero_rs(tmp_path: Path, positions: str) -> ResolvedSuite:
    return resolved_suite(tmp_path / "suite.yaml", layer=LAYER, positions=positions,
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
    from pytest_persona.core import steering

    real = steering.ActivationSteerer

    def broken(model: Any, vec: Any, coeffs: Any, layer: int, positions: Any) -> Any:
        assert coeffs == [0.0] * N_PROMPTS and layer == LAYER
        return real(model, vec, 1.0, layer, positions)

    monkeypatch.setattr(steering, "ActivationSteerer", broken)
    ps = ZeroSession(tmp_path, tiny)
    exp = _exp("coeff_zero_matches_baseline", n_prompts=N_PROMPTS, max_new_tokens=6)
    out = ev.coeff_zero_matches_baseline(ps, _zero_rs(tmp_path, "all"), exp,
                                         _trait_with_questions())
    assert not out.passed
    assert out.figures["hidden_equal"] is False and out.figures["logits_equal"] is False
    assert out.figures["max_abs_diff"] > 1.0
    assert "logits equal: False" in out.message


# -- dataset_screen with a stubbed screen ---------------------------------------------------

class Screened:
    """What pipeline.screen.screen returns, reduced to the fields dataset_screen reads."""

    def __init__(self, n: int, mean: float, lo: float, hi: float, above: int = 0,
                 skipped: int = 0) -> None:
        self.summary = SimpleNamespace(n=n, mean=mean, ci_low=lo, ci_high=hi, above=above,
                                       fraction_above=above / n if n else 0.0)
        self.skipped = SimpleNamespace(count=skipped)

    def to_dict(self) -> dict[str, Any]:
        return {"measure": "projection_difference", "interval": "95% interval",
                "traits": {"evil": {"n": self.summary.n}}, "histograms": {"evil": {"c": [1]}}}


class ScreenStub:
    def __init__(self, result: Screened) -> None:
        self.result = result
        self.projector: dict[str, Any] = {}
        self.screen: dict[str, Any] = {}

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from pytest_persona.pipeline import screen as screen_mod

        stub = self

        class Projector:
            def __init__(self, loaded: Any, vectors: Any, layer: int, cache: Any,
                         max_new_tokens: int, batch_size: int) -> None:
                stub.projector = {"loaded": loaded, "vectors": vectors, "layer": layer,
                                  "cache": cache, "max_new_tokens": max_new_tokens,
                                  "batch_size": batch_size}

        def screen(path: Path, projector: Any, **kw: Any) -> Any:
            stub.screen = {"path": path, "projector": projector, **kw}
            return SimpleNamespace(traits={"evil": stub.result}, skipped=stub.result.skipped,
                                   to_dict=stub.result.to_dict)

        monkeypatch.setattr(screen_mod, "ModelProjector", Projector)
        monkeypatch.setattr(screen_mod, "screen", screen)


def _screen_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, result: Screened,
                batch_size: int | None = None, **params: Any) -> tuple[ev.Outcome, Any,
                                                                       ScreenStub]:
    from tests.suites.test_expectations import _run

    stub = ScreenStub(result)
    stub.install(monkeypatch)
    ps = FakeSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0]})
    ps.options.batch_size = batch_size
    rs = _zero_rs(tmp_path, "all")
    params.setdefault("file", "data.jsonl")
    out = _run("dataset_screen", ps, rs, **params)
    return out, ps, stub


@pytest.mark.parametrize("mean, ok", [(0.5, True), (0.5 + 1e-6, False), (0.4, True)])
def test_dataset_screen_mean_is_inclusive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          mean: float, ok: bool) -> None:
    out, _, _ = _screen_run(tmp_path, monkeypatch, Screened(20, mean, -9.0, 9.0),
                            max_mean_difference=0.5)
    assert out.passed is ok
    assert ("(exceeded)" in out.message) is not ok


@pytest.mark.parametrize("hi, ok", [(0.5, True), (0.5 + 1e-6, False)])
def test_dataset_screen_ci_uses_the_upper_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                hi: float, ok: bool) -> None:
    out, _, _ = _screen_run(tmp_path, monkeypatch, Screened(20, 9.0, -9.0, hi),
                            max_mean_difference=0.5, require="ci")
    assert out.passed is ok
    assert "95% CI upper bound" in out.message


@pytest.mark.parametrize("above, ok", [(2, True), (3, False), (0, True)])
def test_dataset_screen_flagged_fraction_is_inclusive(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      above: int, ok: bool) -> None:
    out, _, _ = _screen_run(tmp_path, monkeypatch, Screened(20, 9.0, 8.0, 10.0, above=above),
                            max_flagged_fraction=0.1, threshold=2.0)
    assert out.passed is ok
    assert out.figures["fraction_above"] == round(above / 20, 4)


def test_dataset_screen_message_figures_and_section(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out, ps, stub = _screen_run(
        tmp_path, monkeypatch, Screened(40, 0.123456, 0.1, 0.15, above=5, skipped=2),
        batch_size=8, max_mean_difference=0.2, max_flagged_fraction=0.1, threshold=1.5,
        require="ci")
    assert not out.passed  # 12.5% above, 10% allowed
    assert out.message == (
        "evil projection difference of data.jsonl at layer 1: mean 0.123 (95% CI 0.100 to "
        "0.150, n=40, 2 bad lines skipped); 95% CI upper bound 0.150 must be at most 0.2; 5 "
        "of 40 samples (12.5%) above 1.5, at most 10% allowed (exceeded)")
    path = tmp_path / "data.jsonl"  # relative to the suite file's folder
    assert out.figures == {"n": 40, "mean": 0.1235, "ci_low": 0.1, "ci_high": 0.15,
                           "baseline": "generate", "require": "ci", "layer": LAYER,
                           "file": str(path), "max_mean_difference": 0.2,
                           "max_flagged_fraction": 0.1, "threshold": 1.5,
                           "fraction_above": 0.125}
    assert ps.section("evil")["screens"]["dataset_screen"] == {
        "data": "data.jsonl", "baseline": "generate", "measure": "projection_difference",
        "layer": LAYER, "interval": "95% interval", "trait_summary": {"n": 40},
        "histogram": {"c": [1]}}
    assert stub.projector["layer"] == LAYER and stub.projector["batch_size"] == 8
    assert stub.projector["max_new_tokens"] == 4 and stub.projector["cache"] is ps.cache
    assert stub.projector["loaded"] is ps.model
    assert list(stub.projector["vectors"]) == ["evil"]
    assert stub.projector["vectors"]["evil"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert stub.screen["path"] == path and stub.screen["own"] == "generate"
    assert stub.screen["threshold"] == 1.5 and stub.screen["top_k"] == 10
    assert stub.screen["cache"] is ps.cache and stub.screen["progress"] is None


def test_dataset_screen_raw_projection_without_bounds(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = tmp_path / "elsewhere" / "d.jsonl"
    out, _, stub = _screen_run(tmp_path, monkeypatch, Screened(3, 2.0, 1.0, 3.0),
                               file=str(absolute), baseline="none")
    assert out.passed  # no bound given: only a non-empty screen is required
    assert out.message == ("evil raw projection of d.jsonl at layer 1: mean 2.000 (95% CI "
                           "1.000 to 3.000, n=3); ")
    assert stub.screen["path"] == absolute and stub.screen["threshold"] is None
    assert stub.projector["batch_size"] == 16  # the default when --batch-size is not given
    assert out.figures == {"n": 3, "mean": 2.0, "ci_low": 1.0, "ci_high": 3.0,
                           "baseline": "none", "require": "mean", "layer": LAYER,
                           "file": str(absolute)}


def test_dataset_screen_of_nothing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    out, _, _ = _screen_run(tmp_path, monkeypatch, Screened(0, 0.0, 0.0, 0.0),
                            max_mean_difference=1.0, max_flagged_fraction=1.0, threshold=0.0)
    assert not out.passed
    assert "mean 0.000 must be at most 1; 0 of 0 samples (0.0%) above 0, at most 100% " \
           "allowed" in out.message
    assert "(exceeded)" not in out.message


def test_dataset_screen_passes_progress_through(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.suites.test_expectations import _run

    stub = ScreenStub(Screened(3, 2.0, 1.0, 3.0))
    stub.install(monkeypatch)
    seen: list[tuple[str, int, int]] = []
    ps = FakeSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0]})
    ps.progress = lambda stage, done, total: seen.append((stage, done, total))
    _run("dataset_screen", ps, _zero_rs(tmp_path, "all"), file="d.jsonl")
    stub.screen["progress"](1, 2)
    assert seen == [("screen d.jsonl (evil)", 1, 2)]


# -- exact messages and figures (what a report and a junit property show) ---------------------

def _s(mean: float, lo: float, hi: float, n: int = 10) -> Any:
    from pytest_persona.core.stats import Summary

    return Summary(n, mean, lo, hi, missing=1, n_questions=5, samples_per_question=2)


def _std_rs(tmp_path: Path) -> ResolvedSuite:
    """The suite of test_expectations.py's ``rs`` fixture: layer 1, coefficients -2, 0, 1, 2."""
    return resolved_suite(tmp_path / "suite.yaml", layer=LAYER, positions="all",
                          coefficients=[-2.0, 0.0, 1.0, 2.0], n_questions=4, max_new_tokens=8)


def _run_kind(kind: str, ps: FakeSession, tmp_path: Path, **params: Any) -> ev.Outcome:
    from tests.suites.test_expectations import _run

    return _run(kind, ps, _std_rs(tmp_path), **params)


def _summary_figs(s: Any) -> dict[str, Any]:
    return {"n": s.n, "n_questions": 5, "samples_per_question": 2, "mean": round(s.mean, 3),
            "ci_low": round(s.ci_low, 3), "ci_high": round(s.ci_high, 3), "missing": 1}


def test_steering_raises_and_lowers_messages(tmp_path: Path) -> None:
    from tests.suites.test_expectations import FixedRun

    s = _s(55.55551, 40.1234, 70.0)
    ps = FakeSession(tmp_path, runs={3.0: FixedRun(3.0, s), -2.0: FixedRun(-2.0, s)})
    up = _run_kind("steering_raises", ps, tmp_path, coeff=3, threshold=50, require="mean")
    assert up.passed and up.message == (
        f"evil score at coeff +3 (dose 0.75) (layer 1): {s.describe()}; mean 55.6 must exceed 50")
    assert up.figures == {**_summary_figs(s), "coeff": 3.0, "threshold": 50,
                          "require": "mean", "layer": LAYER, "dose": 0.75,
                          "vector_norm": 2.0, "mean_norm": 8.0}
    assert up.figures["mean"] == 55.556 and up.figures["ci_low"] == 40.123
    up_ci = _run_kind("steering_raises", ps, tmp_path, coeff=3, threshold=50, require="ci")
    assert not up_ci.passed and up_ci.message.endswith("; 95% CI lower bound 40.1 must exceed 50")
    down = _run_kind("steering_lowers", ps, tmp_path, coeff=-2, threshold=60.5,
                     require="mean")
    assert down.passed and down.message == (
        f"evil score at coeff -2 (dose 0.5) (layer 1): {s.describe()}; mean 55.6 must stay below "
        "60.5")
    down_ci = _run_kind("steering_lowers", ps, tmp_path, coeff=-2, threshold=60.5,
                        require="ci")
    assert not down_ci.passed
    assert down_ci.message.endswith("; 95% CI upper bound 70.0 must stay below 60.5")
    assert down_ci.figures["require"] == "ci" and down_ci.figures["coeff"] == -2.0


def test_zero_coefficient_is_written_as_zero(tmp_path: Path) -> None:
    from tests.suites.test_expectations import FixedRun

    s = _s(5.0, 4.0, 6.0)
    ps = FakeSession(tmp_path, runs={0.0: FixedRun(0.0, s)})
    out = _run_kind("steering_raises", ps, tmp_path, coeff=0, threshold=1)
    assert out.message.startswith("evil score at coeff 0 (dose 0) (layer 1): ")
    assert ev._c(0.5) == "+0.5" and ev._c(-4.0) == "-4" and ev._c(0.0) == "0"


def test_baseline_ceiling_message(tmp_path: Path) -> None:
    from tests.suites.test_expectations import FixedRun

    s = _s(8.04, 5.0, 12.5)
    ps = FakeSession(tmp_path, baseline_run=FixedRun(0.0, s))
    out = _run_kind("baseline_ceiling", ps, tmp_path, max=10, require="mean")
    assert out.passed and out.message == (
        f"unsteered evil score of fake: {s.describe()}; mean 8.0 must be at most 10")
    assert out.figures == {**_summary_figs(s), "max": 10, "require": "mean"}
    ci = _run_kind("baseline_ceiling", ps, tmp_path, max=10, require="ci")
    assert not ci.passed and ci.message.endswith("; 95% CI upper bound 12.5 must be at most 10")
    assert ci.figures["require"] == "ci"


def test_coherence_guard_message_and_figures(tmp_path: Path) -> None:
    from tests.suites.test_expectations import FixedRun

    runs = {1.0: FixedRun(1.0, coherence=_s(80.123, 70.04, 90.06)),
            -2.5: FixedRun(-2.5, coherence=_s(45.0, 30.0, 60.0))}
    ps = FakeSession(tmp_path, runs=runs)
    out = _run_kind("coherence_guard", ps, tmp_path, min=50, require="mean",
                    coefficients=[1.0, -2.5])
    assert not out.passed
    assert out.message == ("coherence while steering evil must stay >= 50 (mean): +1 (dose "
                           "0.25): 80.1 [70.0-90.1], -2.5 (dose 0.625): 45.0 [30.0-60.0] LOW")
    assert out.figures == {"min": 50, "require": "mean", "coherence[1]": 80.12,
                           "coherence[-2.5]": 45.0, "coefficients": [1.0, -2.5],
                           "doses": [0.25, 0.625], "vector_norm": 2.0, "mean_norm": 8.0}
    ci = _run_kind("coherence_guard", ps, tmp_path, min=65, require="ci", coefficients=[1.0])
    assert ci.passed and ci.message.endswith("(ci): +1 (dose 0.25): 80.1 [70.0-90.1]")
    assert ci.figures["require"] == "ci"


def test_monotonic_message_and_figures(tmp_path: Path) -> None:
    from tests.suites.test_expectations import FixedRun, _summary

    cases: list[tuple[float, float, list[float | None]]] = [
        (-2.0, 1.0, [1.0, None]), (0.0, 2.0, [3.0, 2.0]), (2.0, 5.555, [None, None])]
    runs = {c: FixedRun(c, _summary(m), scores=sc) for c, m, sc in cases}
    runs[2.0] = FixedRun(2.0, _summary(5.555), scores=[9.0, None])
    ps = FakeSession(tmp_path, runs=runs)
    out = _run_kind("monotonic", ps, tmp_path, coefficients=[2.0, 0.0, -2.0], min_r=0.5)
    assert out.passed
    # per response: x = (-2, 0, 0, 2), y = (1, 3, 2, 9): ranks (1, 2.5, 2.5, 4), (1, 3, 2, 4)
    r_all = 4.5 / (5 * 4.5) ** 0.5
    assert out.figures == {"spearman_r": 1.0, "per_response_r": round(r_all, 4),
                           "min_r": 0.5, "means": {"-2": 1.0, "0": 2.0, "2": 5.55},
                           "coefficients": [-2.0, 0.0, 2.0], "doses": [0.5, 0.0, 0.5],
                           "vector_norm": 2.0, "mean_norm": 8.0}
    assert out.message == (f"dose-response of evil: Spearman r of mean score vs coeff = 1.00 "
                           f"(per-response r = {r_all:.2f}) must be >= 0.5; means -2: 1.0, "
                           f"0: 2.0, +2: 5.6")


def test_monotonic_with_one_scored_response_has_no_per_response_r(tmp_path: Path) -> None:
    from tests.suites.test_expectations import FixedRun, _summary

    runs = {-2.0: FixedRun(-2.0, _summary(1.0), scores=[1.0]),
            0.0: FixedRun(0.0, _summary(2.0), scores=[None]),
            1.0: FixedRun(1.0, _summary(3.0), scores=[None]),
            2.0: FixedRun(2.0, _summary(4.0), scores=[None])}
    out = _run_kind("monotonic", FakeSession(tmp_path, runs=runs), tmp_path, min_r=0.9)
    assert out.passed and math.isnan(out.figures["per_response_r"])
    assert "(per-response r = nan)" in out.message


def test_monotonic_missing_message(tmp_path: Path) -> None:
    from tests.suites.test_expectations import FixedRun, _summary

    runs = {c: FixedRun(c, _summary(math.nan if c > 0 else 1.0), scores=[None])
            for c in (-2.0, 0.0, 1.0, 2.0)}
    out = _run_kind("monotonic", FakeSession(tmp_path, runs=runs), tmp_path, min_r=-1.0)
    assert not out.passed
    assert out.message == ("dose-response of evil: no judge score at coefficients [1.0, 2.0]; "
                           "cannot assess monotonicity")
    assert out.figures == {"missing_coeffs": [1.0, 2.0]}


def test_projection_order_message(tmp_path: Path) -> None:
    proj = {"baseline": [1.0, 1.5], "prompted": [2.0, 2.0], "steered": [3.25, 3.25]}
    out = _run_kind("projection_order", FakeSession(tmp_path, proj=proj), tmp_path, coeff=2,
                    margin=0.5)
    assert out.passed and out.message == (
        "mean projection onto the evil vector at layer 1: baseline 1.250 < prompted 2.000 < "
        "steered (coeff +2 (dose 0.5)) 3.250, margin 0.5: holds")
    assert out.figures == {"baseline": 1.25, "prompted": 2.0, "steered": 3.25, "margin": 0.5,
                           "coeff": 2.0, "n": 2, "dose": 0.5, "vector_norm": 2.0,
                           "mean_norm": 8.0}
    bad = _run_kind("projection_order", FakeSession(tmp_path, proj=proj), tmp_path, coeff=2,
                    margin=1.0)
    assert not bad.passed and bad.message.endswith("margin 1: violated")


def test_cross_trait_cosine_message(tmp_path: Path) -> None:
    ps = FakeSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0],
                                     "kind": [-1.0, 1.0, 1.0, 1.0]})
    out = _run_kind("cross_trait_cosine", ps, tmp_path, traits=["kind"], max=0.4,
                    absolute=True)
    assert not out.passed and out.message == (
        "cosine of the evil vector with other traits at layer 1 must stay below 0.4 in "
        "absolute value: kind: -0.500 (too high)")
    assert out.figures == {"max": 0.4, "layer": LAYER, "absolute": True, "cos[kind]": -0.5}
    signed = _run_kind("cross_trait_cosine", ps, tmp_path, traits=["kind"], max=0.4)
    assert signed.passed and signed.message.endswith("below 0.4: kind: -0.500")


def test_cross_trait_cosine_matrix_skips_other_models_and_short_stacks(tmp_path: Path) -> None:
    from pytest_persona.core.vectors import TraitVectors
    from pytest_persona.pipeline.extraction import ExtractionResult

    ps = FakeSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0],
                                     "kind": [0.0, 1.0, 0.0, 0.0]})
    other_model = TraitVectors(torch.ones(3, 4), {"trait": "foreign"})
    short = TraitVectors(torch.ones(1, 4), {"trait": "short"})
    unnamed = TraitVectors(torch.ones(3, 4), {})
    ok_layers = TraitVectors(torch.ones(2, 4), {"trait": "two"})
    ps._vectors[("another-model", "foreign")] = ExtractionResult(other_model)
    ps._vectors[("fp-fake", "short")] = ExtractionResult(short)
    ps._vectors[("fp-fake", "unnamed")] = ExtractionResult(unnamed)
    ps._vectors[("fp-fake", "two")] = ExtractionResult(ok_layers)
    _run_kind("cross_trait_cosine", ps, tmp_path, traits=["kind"], max=0.9)
    assert ps.cosine["traits"] == ["evil", "kind", "two"]  # type: ignore[attr-defined]


def test_vector_drift_message(tmp_path: Path) -> None:
    from tests.suites.test_expectations import _layers

    stored = _layers([1.0, 1.0, 1.0, 1.0])
    stored.metadata["model_id"] = "org/model"
    stored.save(tmp_path / "v.safetensors")
    ps = FakeSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0]})
    out = _run_kind("vector_drift", ps, tmp_path, file="v.safetensors", min_cosine=0.25)
    assert out.passed and out.message == (
        "cosine between the extracted evil vector and v.safetensors at layer 1: 0.500, must "
        "be >= 0.25")
    assert out.figures == {"cosine": 0.5, "min_cosine": 0.25, "stored_model": "org/model",
                           "file": str(tmp_path / "v.safetensors")}


def test_projection_tracks_score_messages(tmp_path: Path) -> None:
    from tests.suites.test_expectations import _track_session

    ps = _track_session(tmp_path, [1.0, 3.0, 2.0, 4.0], [1.0, 2.0, 3.0, 4.0])
    out = _run_kind("projection_tracks_score", ps, tmp_path, min_r=0.5)
    assert out.passed and out.message == (
        "Pearson r between projection onto the evil vector (layer 1) and the judge score over "
        "4 sweep responses: 0.800, must be >= 0.5")
    assert out.figures == {"pearson_r": 0.8, "n": 4, "min_r": 0.5}
    few = _track_session(tmp_path, [1.0, None, None, 2.0], [1.0, 2.0, 3.0, 4.0])
    short = _run_kind("projection_tracks_score", few, tmp_path, min_r=0.5)
    assert short.message == ("only 2 scored sweep responses for evil: too few to correlate "
                             "projection with score")
    assert short.figures == {"n": 2}


# -- checkpoint_shift with stubbed projections (no model) ----------------------------------

class ShiftSession(FakeSession):
    """Two fake checkpoints whose per-question projections are given; records every call."""

    def __init__(self, tmp_path: Path, test_p: list[float], ref_p: list[float],
                 shape: tuple[int, int] = (3, 4), ref_shape: tuple[int, int] = (3, 4)) -> None:
        super().__init__(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0]})
        self._fake = SimpleNamespace(name="test-model", fingerprint="fp-test",
                                     n_layers=shape[0], d_model=shape[1])
        self._ref: SimpleNamespace | None = SimpleNamespace(
            name="ref-model", fingerprint="fp-ref", n_layers=ref_shape[0], d_model=ref_shape[1])
        self._values = {"test-model": test_p, "ref-model": ref_p}
        self.questions = [f"question {i}" for i in range(len(test_p))]

    @property
    def reference(self) -> Any:
        return self._ref

    def vectors(self, trait: Any, params: dict[str, Any] | None = None,
                reference: bool = False) -> Any:
        self.calls.append(("vectors", reference))
        return super().vectors(trait, params, reference)

    def eval_questions(self, rs: ResolvedSuite, trait: Any) -> list[str]:
        return list(self.questions)

    def unsteered_answers(self, loaded: Any, rs: ResolvedSuite, questions: list[str]
                          ) -> list[str]:
        self.calls.append(("answers", loaded.name))
        return [f"{loaded.name}:{q}" for q in questions]

    def response_projections(self, loaded: Any, prompts: list[Any], answers: list[str],
                             vector: Vector, layer: int) -> list[float]:
        self.calls.append(("response_projections", (loaded.name, layer, list(answers))))
        return list(self._values[loaded.name][: len(prompts)])


def _stub_prompt_last(monkeypatch: pytest.MonkeyPatch, ps: ShiftSession) -> list[Any]:
    seen: list[Any] = []

    def fake(loaded: Any, questions: list[str], vec: torch.Tensor, layer: int, cache: Any,
             batch: int) -> list[float]:
        seen.append((loaded.name, list(questions), vec.tolist(), layer, cache, batch))
        return list(ps._values[loaded.name][: len(questions)])

    monkeypatch.setattr(ev, "prompt_last_projections", fake)
    return seen


def _shift(ps: ShiftSession, tmp_path: Path, **params: Any) -> ev.Outcome:
    return ev.checkpoint_shift(ps, _std_rs(tmp_path), _exp("checkpoint_shift", **params),
                               TRAIT)


def test_checkpoint_shift_constant_shift_at_the_bound(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ps = ShiftSession(tmp_path, [1.5, 2.5, 3.5, 4.5], [1.0, 2.0, 3.0, 4.0])
    seen = _stub_prompt_last(monkeypatch, ps)
    at = _shift(ps, tmp_path, max=0.5)  # require ci: the lower bound 0.5 is not below 0.5
    assert not at.passed
    assert _shift(ps, tmp_path, max=0.5 + 1e-9).passed
    assert at.figures == {"shift": 0.5, "ci_low": 0.5, "ci_high": 0.5, "test_mean": 3.0,
                          "reference_mean": 2.5, "max": 0.5, "require": "ci",
                          "at": "prompt_last", "n": 4, "reference_fingerprint": "fp-ref"}
    assert at.message == (
        "evil projection shift of test-model vs reference ref-model at layer 1 (at "
        "prompt_last: last prompt token, no generation): paired mean +0.500 (95% CI +0.500 to "
        "+0.500, n=4 questions; 3.000 - 2.500); 95% CI lower bound +0.500 must stay below 0.5")
    assert [s[0] for s in seen[:2]] == ["test-model", "ref-model"]
    assert seen[0][1] == ps.questions and seen[0][3] == LAYER and seen[0][4] is ps.cache
    assert seen[0][2] == [1.0, 0.0, 0.0, 0.0] and seen[0][5] == 16
    assert ("vectors", True) in ps.calls  # the reference model's vector
    section = ps.section("evil")
    assert section["metrics"]["checkpoint_shift"] == 0.5
    stored = section["per_question"]["metrics"]["checkpoint_shift"]
    assert sorted(stored.values()) == [0.5] * 4


def test_checkpoint_shift_require_ci_uses_the_lower_bound(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    # shifts 0, 0, 0, 4: mean 1, but the interval reaches down to 0
    ps = ShiftSession(tmp_path, [0.0, 0.0, 0.0, 4.0], [0.0] * 4)
    _stub_prompt_last(monkeypatch, ps)
    ci = _shift(ps, tmp_path, max=0.5)
    assert ci.passed and ci.figures["ci_low"] == 0.0 and ci.figures["shift"] == 1.0
    assert ci.figures["ci_high"] > 1.0
    mean = _shift(ps, tmp_path, max=0.5, require="mean")
    assert not mean.passed and mean.figures["require"] == "mean"
    assert mean.message.endswith("; mean +1.000 must stay below 0.5")
    assert _shift(ps, tmp_path, max=1.0 + 1e-9, require="mean").passed
    assert not _shift(ps, tmp_path, max=1.0, require="mean").passed


def test_checkpoint_shift_negative_shift_and_n_questions(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    ps = ShiftSession(tmp_path, [0.0, 0.0, 9.0], [2.0, 2.0, 0.0])
    seen = _stub_prompt_last(monkeypatch, ps)
    ps.options.batch_size = 5
    out = _shift(ps, tmp_path, max=0.0, n_questions=2)
    assert out.passed and out.figures["n"] == 2 and out.figures["shift"] == -2.0
    assert seen[0][1] == ps.questions[:2] and seen[0][5] == 5


def test_checkpoint_shift_nan_never_passes(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    ps = ShiftSession(tmp_path, [math.nan, math.nan], [1.0, 1.0])
    _stub_prompt_last(monkeypatch, ps)
    out = _shift(ps, tmp_path, max=1e9, require="mean")
    assert not out.passed and out.figures["n"] == 0


def test_checkpoint_shift_at_response_projects_own_answers(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    ps = ShiftSession(tmp_path, [3.0, 3.0], [1.0, 1.0])
    seen = _stub_prompt_last(monkeypatch, ps)
    out = _shift(ps, tmp_path, max=5.0, at="response")
    assert out.passed and seen == [] and out.figures["shift"] == 2.0
    assert out.figures["at"] == "response"
    assert "(at response: response-averaged, own unsteered answers)" in out.message
    assert ("answers", "test-model") in ps.calls and ("answers", "ref-model") in ps.calls
    projected = [c[1] for c in ps.calls if c[0] == "response_projections"]
    assert projected == [("test-model", LAYER, ["test-model:question 0", "test-model:question 1"]),
                         ("ref-model", LAYER, ["ref-model:question 0", "ref-model:question 1"])]


def test_checkpoint_shift_needs_a_reference_of_the_same_shape(tmp_path: Path) -> None:
    ps = ShiftSession(tmp_path, [1.0], [1.0], shape=(3, 4), ref_shape=(3, 8))
    with pytest.raises(ev.PersonaUsageError, match=r"^checkpoint_shift needs two checkpoints of "
                                                   r"one architecture: test-model is \[3 layers, "
                                                   r"d=4\], reference ref-model is \[3 layers, d=8\]$"):
        _shift(ps, tmp_path, max=1.0)
    layers = ShiftSession(tmp_path, [1.0], [1.0], shape=(3, 4), ref_shape=(5, 4))
    with pytest.raises(ev.PersonaUsageError, match="reference ref-model is"):
        _shift(layers, tmp_path, max=1.0)
    none = ShiftSession(tmp_path, [1.0], [1.0])
    none._ref = None
    with pytest.raises(ev.NeedsReferenceModel):
        _shift(none, tmp_path, max=1.0)


# -- what each evaluator hands the session, and the remaining bounds ------------------------

EXTRACTION = {"n_questions": 7}


class RecordingSession(FakeSession):
    """A FakeSession that records the arguments of vectors, baseline and projections."""

    def vectors(self, trait: Any, params: dict[str, Any] | None = None,
                reference: bool = False) -> Any:
        self.calls.append(("vectors_params", (trait.name, params)))
        return super().vectors(trait, params, reference)

    def unsteered_run(self, rs: ResolvedSuite, trait: Any) -> Any:
        self.calls.append(("baseline_rs", rs))
        return super().unsteered_run(rs, trait)

    def response_projections(self, loaded: Any, prompts: list[Any], answers: list[str],
                             vector: Vector, layer: int) -> list[float]:
        self.calls.append(("projection_args", (loaded, list(prompts), vector.tolist(), layer)))
        return super().response_projections(loaded, prompts, answers, vector, layer)


def _rec_rs(tmp_path: Path) -> ResolvedSuite:
    return resolved_suite(tmp_path / "suite.yaml", layer=LAYER, positions="all",
                          coefficients=[-2.0, 0.0, 1.0, 2.0], n_questions=4, max_new_tokens=8,
                          extraction=EXTRACTION)


def _rec_run(kind: str, ps: FakeSession, tmp_path: Path, **params: Any) -> ev.Outcome:
    from tests.suites.test_expectations import _run

    return _run(kind, ps, _rec_rs(tmp_path), **params)


def _params_seen(ps: FakeSession) -> list[Any]:
    return [c[1] for c in ps.calls if c[0] == "vectors_params"]


def test_summary_figures_round_to_three_decimals(tmp_path: Path) -> None:
    from tests.suites.test_expectations import FixedRun

    s = _s(55.123456, 40.123456, 70.123456)
    ps = FakeSession(tmp_path, runs={3.0: FixedRun(3.0, s)})
    out = _run_kind("steering_raises", ps, tmp_path, coeff=3, threshold=50)
    assert (out.figures["mean"], out.figures["ci_low"], out.figures["ci_high"]) == (
        55.123, 40.123, 70.123)


def test_baseline_ceiling_reads_the_suite_baseline(tmp_path: Path) -> None:
    from tests.suites.test_expectations import FixedRun

    ps = RecordingSession(tmp_path, baseline_run=FixedRun(0.0, _s(1.0, 0.0, 2.0)))
    rs = _rec_rs(tmp_path)
    from tests.suites.test_expectations import _exp as exp_of

    ev.baseline_ceiling(ps, rs, exp_of("baseline_ceiling", max=10), TRAIT)
    assert ("baseline_rs", rs) in ps.calls


def test_monotonic_outcomes_are_booleans_and_two_responses_correlate(tmp_path: Path) -> None:
    from tests.suites.test_expectations import FixedRun, _summary

    missing = {c: FixedRun(c, _summary(math.nan), scores=[None]) for c in (-2.0, 0.0, 1.0, 2.0)}
    out = _run_kind("monotonic", FakeSession(tmp_path, runs=missing), tmp_path, min_r=-1.0)
    assert out.passed is False
    two = {-2.0: FixedRun(-2.0, _summary(1.0), scores=[1.0]),
           0.0: FixedRun(0.0, _summary(2.0), scores=[None]),
           1.0: FixedRun(1.0, _summary(3.0), scores=[None]),
           2.0: FixedRun(2.0, _summary(4.0), scores=[7.0])}
    two_out = _run_kind("monotonic", FakeSession(tmp_path, runs=two), tmp_path, min_r=0.9)
    assert two_out.figures["per_response_r"] == 1.0


def test_monotonic_figures_round_to_four_decimals(tmp_path: Path) -> None:
    from tests.suites.test_expectations import _mono_runs

    tied = FakeSession(tmp_path, runs=_mono_runs({-2.0: 1.0, 0.0: 3.0, 1.0: 3.0, 2.0: 8.0}))
    r = 4.5 / math.sqrt(5 * 4.5)  # 0.948683...
    out = _run_kind("monotonic", tied, tmp_path, min_r=0.0)
    assert out.figures["spearman_r"] == round(r, 4) == 0.9487


def test_cross_trait_cosine_passes_the_suite_extraction_and_rounds(tmp_path: Path) -> None:
    ps = RecordingSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0],
                                          "kind": [1.0, 2.0, 0.0, 0.0],
                                          "rude": [0.0, 1.0, 0.0, 0.0]})
    out = _rec_run("cross_trait_cosine", ps, tmp_path, traits=["rude", "kind"], max=0.4)
    assert _params_seen(ps) == [("evil", EXTRACTION), ("rude", EXTRACTION),
                                ("kind", EXTRACTION)]
    assert all(p is EXTRACTION for _, p in _params_seen(ps))
    assert out.figures["cos[kind]"] == 0.4472  # 1 / sqrt(5)
    # the second trait is too close: one failing trait fails the whole check, in any place
    assert out.passed is False
    assert out.message.endswith(": rude: +0.000, kind: +0.447 (too high)")
    first_bad = _rec_run("cross_trait_cosine", ps, tmp_path, traits=["kind", "rude"], max=0.4)
    assert first_bad.passed is False


def test_vector_drift_passes_the_suite_extraction_and_names_the_file(tmp_path: Path) -> None:
    from tests.suites.test_expectations import _layers

    _layers([1.0, 2.0, 0.0, 0.0]).save(tmp_path / "v.safetensors")
    ps = RecordingSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0]})
    out = _rec_run("vector_drift", ps, tmp_path, file="v.safetensors", min_cosine=0.1)
    assert _params_seen(ps) == [("evil", EXTRACTION)]
    assert out.figures["cosine"] == 0.4472
    from pytest_persona.core.vectors import TraitVectors

    TraitVectors(torch.ones(N_WIDE_LAYERS, 5)).save(tmp_path / "wide.safetensors")
    with pytest.raises(ValueError) as e:
        _rec_run("vector_drift", ps, tmp_path, file="wide.safetensors")
    assert f"vectors from {tmp_path / 'wide.safetensors'} are [3, 5]" in str(e.value)


N_WIDE_LAYERS = 3


def test_projection_tracks_score_hands_over_the_scored_pairs(tmp_path: Path) -> None:
    from tests.suites.test_expectations import FixedRun

    answers = ["a0", "a1", "a2", "a3"]
    runs = {0.0: FixedRun(0.0, scores=[1.0, None], answers=answers[:2]),
            2.0: FixedRun(2.0, scores=[3.0, 2.0], answers=answers[2:])}
    ps = RecordingSession(tmp_path, runs=runs, vecs={"evil": [1.0, 0.5, 0.0, 0.0]},
                          answer_proj={"a0": 1.0, "a2": 2.0, "a3": 3.0})
    out = _rec_run("projection_tracks_score", ps, tmp_path, min_r=0.0)
    # three scored responses are enough
    assert out.figures["n"] == 3 and "pearson_r" in out.figures and out.passed
    assert _params_seen(ps) == [("evil", EXTRACTION)]
    [(loaded, prompts, vector, layer)] = [c[1] for c in ps.calls if c[0] == "projection_args"]
    assert loaded is ps.model and prompts == ["q0", "q0", "q1"]
    assert vector == [1.0, 0.5, 0.0, 0.0] and layer == LAYER


def test_projection_tracks_score_bound_is_inclusive_and_rounded(tmp_path: Path) -> None:
    from pytest_persona.core.projection import pearson
    from tests.suites.test_expectations import _track_session

    scores, proj = [1.0, 3.0, 2.0, 5.0], [1.0, 2.0, 3.0, 4.0]
    r = pearson(proj, scores)  # 0.8315218...
    ps = _track_session(tmp_path, list(scores), proj)
    out = _run_kind("projection_tracks_score", ps, tmp_path, min_r=r)
    assert out.passed and out.figures["pearson_r"] == round(r, 4) == 0.8315
    few = _track_session(tmp_path, [1.0, None, None, 2.0], proj)
    assert _run_kind("projection_tracks_score", few, tmp_path, min_r=-1.0).passed is False


def test_dataset_screen_hands_over_the_projector_and_extraction(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stub = ScreenStub(Screened(1, 0.123456, 0.012345, 0.234567, above=0))
    stub.install(monkeypatch)
    ps = RecordingSession(tmp_path, vecs={"evil": [1.0, 0.0, 0.0, 0.0]})
    out = _rec_run("dataset_screen", ps, tmp_path, file="d.jsonl", threshold=0.3,
                   max_flagged_fraction=0.5)
    assert _params_seen(ps) == [("evil", EXTRACTION)]
    assert stub.screen["projector"] is not None and stub.projector["layer"] == LAYER
    assert type(stub.screen["projector"]).__name__ == "Projector"
    assert out.passed  # one sample is enough
    assert out.message.endswith("; 0 of 1 samples (0.0%) above 0.3, at most 50% allowed")
    assert (out.figures["mean"], out.figures["ci_low"], out.figures["ci_high"]) == (
        0.1235, 0.0123, 0.2346)
    assert out.figures["fraction_above"] == 0.0


def test_dataset_screen_fraction_rounds_to_four_decimals(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, _, _ = _screen_run(tmp_path, monkeypatch, Screened(7, 1.0, 0.5, 1.5, above=1),
                            threshold=0.3)
    assert out.figures["fraction_above"] == 0.1429


@pytest.mark.parametrize("mean, above, ok", [(0.9, 1, False), (0.1, 9, False),
                                             (0.1, 1, True)])
def test_dataset_screen_both_bounds_must_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              mean: float, above: int, ok: bool) -> None:
    out, _, _ = _screen_run(tmp_path, monkeypatch, Screened(10, mean, 0.0, 1.0, above=above),
                            threshold=0.5, max_mean_difference=0.5, max_flagged_fraction=0.5)
    assert out.passed is ok
    assert out.message.count("(exceeded)") == (not ok)


def test_projection_order_hands_over_suite_and_trait_and_rounds(tmp_path: Path) -> None:
    class ProjSession(RecordingSession):
        def projections(self, rs: ResolvedSuite, trait: Any, coeff: float
                        ) -> dict[str, list[float]]:
            self.calls.append(("projections_args", (rs, trait.name, coeff)))
            return self._proj

    proj = {"baseline": [1.123456], "prompted": [2.123456], "steered": [3.123456]}
    ps = ProjSession(tmp_path, proj=proj)
    rs = _rec_rs(tmp_path)
    from tests.suites.test_expectations import _exp as exp_of

    out = ev.projection_order(ps, rs, exp_of("projection_order", coeff=2, margin=0.5),
                              TRAIT)
    assert ("projections_args", (ps.dosed(rs, TRAIT), "evil", 2.0)) in ps.calls
    assert (out.figures["baseline"], out.figures["prompted"], out.figures["steered"]) == (
        1.1235, 2.1235, 3.1235)


def _zero_with(tmp_path: Path, tiny: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch,
               factory: Any) -> ev.Outcome:
    from pytest_persona.core import steering

    monkeypatch.setattr(steering, "ActivationSteerer", factory)
    ps = ZeroSession(tmp_path, tiny)
    exp = _exp("coeff_zero_matches_baseline", n_prompts=N_PROMPTS, max_new_tokens=4)
    return ev.coeff_zero_matches_baseline(ps, _zero_rs(tmp_path, "all"), exp,
                                          _trait_with_questions())


def test_coeff_zero_fails_when_only_the_forward_pass_moves(
        tmp_path: Path, tiny: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Hidden states and logits differ, greedy tokens agree: still a failure."""
    from pytest_persona.core.steering import ActivationSteerer as real
    made: list[int] = []

    def first_only(model: Any, vec: Any, coeffs: Any, layer: int, positions: Any) -> Any:
        made.append(1)
        return real(model, vec, 1e-3 if len(made) == 1 else coeffs, layer, positions)

    out = _zero_with(tmp_path, tiny, monkeypatch, first_only)
    assert out.figures["hidden_equal"] is False and out.figures["logits_equal"] is False
    assert out.figures["tokens_equal"] is True
    assert out.passed is False


def test_coeff_zero_fails_when_only_generation_moves(
        tmp_path: Path, tiny: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The forward pass is untouched, decoding is steered: the greedy tokens catch it."""
    from pytest_persona.core.steering import ActivationSteerer as real

    class DecodeOnly(real):
        def _steer(self, hidden: torch.Tensor) -> torch.Tensor:
            return hidden if hidden.shape[1] > 1 else super()._steer(hidden)

    def decode_only(model: Any, vec: Any, coeffs: Any, layer: int, positions: Any) -> Any:
        return DecodeOnly(model, vec * 50.0, 1.0, layer, positions)

    out = _zero_with(tmp_path, tiny, monkeypatch, decode_only)
    assert out.figures["hidden_equal"] is True and out.figures["logits_equal"] is True
    assert out.figures["tokens_equal"] is False
    assert out.passed is False


def test_coeff_zero_reads_the_trait_vector_with_the_suite_extraction(
        tmp_path: Path, tiny: tuple[Any, Any]) -> None:
    class Rec(ZeroSession):
        def vectors(self, trait: Any, params: dict[str, Any] | None = None,
                    reference: bool = False) -> Any:
            self.calls.append(("vectors_params", (trait.name, params)))
            return super().vectors(trait, params, reference)

    ps = Rec(tmp_path, tiny)
    rs = _rec_rs(tmp_path)
    exp = _exp("coeff_zero_matches_baseline", n_prompts=1, max_new_tokens=2)
    assert ev.coeff_zero_matches_baseline(ps, rs, exp, _trait_with_questions()).passed
    assert _params_seen(ps) == [("evil", EXTRACTION)]


def _varied_shift_session(tmp_path: Path) -> ShiftSession:
    test_p = [math.sin(i + 1) * 3.7 + i ** 1.5 for i in range(8)]
    return ShiftSession(tmp_path, test_p, [0.0] * 8)


def test_checkpoint_shift_interval_is_seeded_by_trait_and_measure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_persona.results.paired import pair, per_question_means, seed_for

    ps = _varied_shift_session(tmp_path)
    seen = _stub_prompt_last(monkeypatch, ps)
    out = _shift(ps, tmp_path, max=100.0)
    diff = pair(per_question_means(ps.questions, [0.0] * 8),
                per_question_means(ps.questions, ps._values["test-model"]))
    lo, hi = diff.interval(0.95, seed_for("evil", "checkpoint_shift", "prompt_last"))
    assert (out.figures["ci_low"], out.figures["ci_high"]) == (round(lo, 4), round(hi, 4))
    other = diff.interval(0.95, seed_for("evil", "checkpoint_shift", "response"))
    assert (round(other[0], 4), round(other[1], 4)) != (round(lo, 4), round(hi, 4))
    assert out.figures["shift"] == round(diff.mean, 4) != round(diff.mean, 5)
    assert out.figures["test_mean"] == round(diff.new_mean, 4) != round(diff.new_mean, 5)
    assert seen[1][0] == "ref-model" and seen[1][4] is ps.cache  # both sides use the cache
    assert _params_seen_shift(ps) == [True]


def _params_seen_shift(ps: ShiftSession) -> list[bool]:
    return [c[1] for c in ps.calls if c[0] == "vectors"]


def test_checkpoint_shift_rounds_the_reference_mean(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ps = ShiftSession(tmp_path, [1.0, 2.0], [0.123456, 0.123456])
    _stub_prompt_last(monkeypatch, ps)
    out = _shift(ps, tmp_path, max=100.0)
    assert out.figures["reference_mean"] == 0.1235
    assert (out.figures["ci_low"], out.figures["ci_high"]) == (0.8765, 1.8765)


def test_checkpoint_shift_defaults_when_params_omit_at_and_require(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_persona.suites.schema import Expectation

    ps = ShiftSession(tmp_path, [0.0, 0.0, 0.0, 4.0], [0.0] * 4)
    seen = _stub_prompt_last(monkeypatch, ps)
    exp = Expectation("checkpoint_shift", "checkpoint_shift", {"max": 0.5}, line=1, index=0)
    out = ev.checkpoint_shift(ps, _std_rs(tmp_path), exp, TRAIT)
    assert out.figures["at"] == "prompt_last" and out.figures["require"] == "ci"
    assert seen and out.passed  # the CI lower bound (0) is below 0.5; the mean (1) is not


def test_checkpoint_shift_passes_the_suite_extraction(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    class Rec(ShiftSession):
        def vectors(self, trait: Any, params: dict[str, Any] | None = None,
                    reference: bool = False) -> Any:
            self.calls.append(("vectors_params", (trait.name, params)))
            return super().vectors(trait, params, reference)

    ps = Rec(tmp_path, [1.0, 2.0], [1.0, 1.0])
    _stub_prompt_last(monkeypatch, ps)
    ev.checkpoint_shift(ps, _rec_rs(tmp_path), _exp("checkpoint_shift", max=1.0),
                        TRAIT)
    assert _params_seen(ps) == [("evil", EXTRACTION)]


def test_dataset_screen_mean_exceeded_message(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    out, _, _ = _screen_run(tmp_path, monkeypatch, Screened(4, 0.9, 0.5, 1.5),
                            max_mean_difference=0.5)
    assert out.message == ("evil projection difference of data.jsonl at layer 1: mean 0.900 "
                           "(95% CI 0.500 to 1.500, n=4); mean 0.900 must be at most 0.5 "
                           "(exceeded)")


def test_coeff_zero_hands_tokens_and_cache_to_the_identity_check(
        tmp_path: Path, tiny: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake(model: Any, vec: Any, layer: int, positions: str, questions: list[str],
             max_new_tokens: int, cache: Any) -> dict[str, Any]:
        seen.update(max_new_tokens=max_new_tokens, cache=cache, questions=questions)
        return {"hidden_equal": True, "logits_equal": True, "tokens_equal": True,
                "hidden_points": 1, "max_abs_diff": 0.0}

    monkeypatch.setattr(ev, "coeff_zero_identity", fake)
    ps = ZeroSession(tmp_path, tiny)
    exp = _exp("coeff_zero_matches_baseline", n_prompts=2, max_new_tokens=7)
    out = ev.coeff_zero_matches_baseline(ps, _zero_rs(tmp_path, "all"), exp,
                                         _trait_with_questions())
    assert out.passed
    assert seen["max_new_tokens"] == 7 and seen["cache"] is ps.cache and seen["cache"] is not None
    assert seen["questions"] == ["What is 2+2?", "Say hi."]
