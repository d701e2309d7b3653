"""The session's memo keys (suites/keys.py), matched by field, and the unsteered-run vocabulary."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from pytest_persona.core.requests import GenerationConfig
from pytest_persona.pipeline.extraction import ExtractionConfig
from pytest_persona.suites.keys import SweepKey, UnsteeredKey
from pytest_persona.suites.repeats import RepeatView
from pytest_persona.suites.schema import ResolvedSuite
from pytest_persona.suites.session import CoeffRun, PersonaOptions, PersonaSession, Sweep
from pytest_persona.traits.loader import TraitData

TRAIT = TraitData(
    name="evil",
    path=Path("evil.json"),
    instructions=(),
    extract_questions=(),
    eval_questions=("q1", "q2", "q3"),
    eval_prompt="",
    sha256="sha-evil",
)


class NoModelSession(PersonaSession):
    """A session whose model is a fingerprint only: nothing here may load or generate."""

    @property
    def model(self) -> Any:
        return SimpleNamespace(fingerprint="fp-1", name="fake")


def _rs(tmp_path: Path, *, layer: int = 2, judge_repeats: int = 1) -> ResolvedSuite:
    suite = SimpleNamespace(
        path=tmp_path / "s.yaml", extraction={}, expectations=[], max_missing_fraction=0.1
    )
    return ResolvedSuite(
        suite=cast(Any, suite), layer=layer, positions="response", coefficients=[0.0, 4.0],
        n_questions=2, max_new_tokens=8, judge_repeats=judge_repeats)


def _run(answer: str) -> CoeffRun:
    return CoeffRun(0.0, ["q1", "q2"], [answer, answer], [10.0, 20.0], [80.0, 90.0])


@pytest.fixture()
def ps(tmp_path: Path) -> PersonaSession:
    return NoModelSession(PersonaOptions(cache_dir=tmp_path / "cache"))


def _sweep_key(ps: PersonaSession, rs: ResolvedSuite) -> SweepKey:
    return SweepKey(
        ps._unsteered_key(rs, TRAIT),
        rs.layer,
        rs.positions,
        (0.0, 4.0),
        rs.suite.max_missing_fraction,
        ps.extraction_config({}),
    )


def test_keys_are_frozen_and_compare_by_field() -> None:
    config = GenerationConfig(max_new_tokens=8)
    a = UnsteeredKey("fp", "sha", ("q1",), config, 1, 1)
    b = UnsteeredKey("fp", "sha", ("q1",), GenerationConfig(max_new_tokens=8), 1, 1)
    assert a == b and hash(a) == hash(b)
    assert dataclasses.replace(a, judge_repeats=3) != a
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.model = "other"  # type: ignore[misc]
    sweep = SweepKey(a, 2, "response", (0.0, 4.0), 0.1, ExtractionConfig())
    assert sweep.unsteered == b  # the sweep's coefficient-0 row is this unsteered run
    assert {sweep: 1}[dataclasses.replace(sweep, unsteered=b)] == 1


def test_unsteered_run_is_the_sweep_row_whatever_the_layer(
    tmp_path: Path, ps: PersonaSession
) -> None:
    # the sweep steers at layer 5; its coefficient-0 row does not depend on the layer
    swept = _rs(tmp_path, layer=5)
    row = _run("from the sweep")
    ps._sweeps[_sweep_key(ps, swept)] = Sweep(5, {0.0: row, 4.0: _run("steered")})
    assert ps.unsteered_run(_rs(tmp_path, layer=2), TRAIT) is row


def test_unsteered_run_ignores_a_sweep_judged_differently(
    tmp_path: Path, ps: PersonaSession
) -> None:
    ps._sweeps[_sweep_key(ps, _rs(tmp_path, judge_repeats=3))] = Sweep(
        2, {0.0: _run("judged three times")}
    )
    alone = _run("unsteered alone")
    rs = _rs(tmp_path)
    ps._unsteered[ps._unsteered_key(rs, TRAIT)] = alone
    assert ps.unsteered_run(rs, TRAIT) is alone


def test_baseline_is_a_deprecated_alias(tmp_path: Path, ps: PersonaSession) -> None:
    rs = _rs(tmp_path)
    run = ps._unsteered[ps._unsteered_key(rs, TRAIT)] = _run("x")
    with pytest.warns(DeprecationWarning, match="baseline is now unsteered_run"):
        assert ps.baseline(rs, TRAIT) is run
    with pytest.warns(DeprecationWarning, match="baseline is now unsteered_run"):
        assert RepeatView(ps, 0).baseline(rs, TRAIT) is run


def test_a_subclass_overriding_baseline_still_answers_unsteered_run(tmp_path: Path) -> None:
    fixed = _run("fixed")
    with pytest.warns(DeprecationWarning, match="OldStyle overrides PersonaSession.baseline"):

        class OldStyle(NoModelSession):
            def baseline(self, rs: ResolvedSuite, trait: TraitData) -> CoeffRun:
                return fixed

    ps = OldStyle(PersonaOptions(cache_dir=tmp_path / "cache"))
    assert ps.unsteered_run(_rs(tmp_path), TRAIT) is fixed


def test_sections_are_the_builders(ps: PersonaSession) -> None:
    ps.section("evil")["metrics"]["custom"] = 1.0
    assert ps.sections == ps.results.traits == {"evil": {"metrics": {"custom": 1.0}}}
