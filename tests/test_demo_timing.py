"""The ``demo.timing`` plugin: exclusive wall and CPU seconds per trait and stage of the suite
run, written to ``--demo-timings`` (issue 25 item 19)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo.timing import TIMED, StageClock, _timed, install
from pytest_persona.suites.session import PersonaSession

ROOT = Path(__file__).resolve().parents[1]


def test_nested_stages_are_exclusive() -> None:
    ticks = iter([0.0, 10.0, 30.0, 100.0])  # sweep starts, extraction 10-30, sweep ends
    cpu = iter([0.0, 5.0, 45.0, 60.0])
    clock = StageClock(wall=lambda: next(ticks), cpu=lambda: next(cpu))
    with clock.stage("evil", "sweep"):
        with clock.stage("evil", "extraction"):
            pass
    rows = {(r["subject"], r["stage"]): r for r in clock.to_list()}
    assert rows["evil", "extraction"]["wall_s"] == 20.0
    assert rows["evil", "extraction"]["cpu_s"] == 40.0
    assert rows["evil", "sweep"]["wall_s"] == 80.0  # 100 s in all, less the nested 20
    assert rows["evil", "sweep"]["cpu_s"] == 20.0


def test_install_wraps_each_timed_method_once_and_uninstall_restores() -> None:
    original = PersonaSession.__dict__["sweep"]
    uninstall = install(StageClock())
    try:
        wrapped = PersonaSession.__dict__["sweep"]
        assert wrapped is not original and wrapped.__wrapped__ is original
        install(StageClock())()  # already wrapped: nothing is wrapped twice
        assert PersonaSession.__dict__["sweep"] is wrapped
    finally:
        uninstall()
    assert PersonaSession.__dict__["sweep"] is original
    assert {t[1] for t in TIMED} >= {"vectors", "sweep", "projections", "_materialize"}


def test_a_timed_call_is_counted_under_its_trait_even_when_it_raises() -> None:
    class Trait:
        name = "evil"

    def sweep(self: object, rs: object, trait: object) -> None:
        raise RuntimeError("boom")

    clock = StageClock()
    timed = _timed(clock, sweep, "sweep", 1)
    with pytest.raises(RuntimeError):
        timed(object(), None, Trait())
    with pytest.raises(RuntimeError):
        timed(object(), None, trait=Trait())
    [row] = clock.to_list()
    assert (row["subject"], row["stage"], row["calls"]) == ("evil", "sweep", 2)


SUITE = """\
trait: sycophantic
layer: 1
coefficients: [0, 4]
n_questions: 2
max_new_tokens: 4
extraction: {n_questions: 4, n_instructions: 2, min_pairs: 1, max_new_tokens: 4,
             trait_threshold: 0, coherence_threshold: 0}
expectations:
  - {kind: steering_raises, coeff: 4, threshold: 0}
  - {kind: projection_order, margin: -1000}
"""


def _project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *traits: str) -> Path:
    """A tiny-model project with one suite per trait; returns where the timings go."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # `demo` is not installed: the checkout is
    pytester.makefile(
        ".ini",
        pytest=f"""
        [pytest]
        persona_model = tiny-random-qwen2
        persona_judge = offline
        persona_cache = {pytester.path / ".persona_cache"}
    """,
    )
    (pytester.path / "trait_suites").mkdir()
    for trait in traits:
        (pytester.path / "trait_suites" / f"{trait}.yaml").write_text(
            SUITE.replace("trait: sycophantic", f"trait: {trait}"))
    return pytester.path / "t" / "suite-timings.json"


def test_the_plugin_writes_per_trait_stage_times(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _project(pytester, monkeypatch, "sycophantic")
    res = pytester.runpytest_subprocess(
        "trait_suites",
        "-p",
        "no:cacheprovider",
        "-p",
        "demo.timing",
        "--demo-timings",
        str(out),
        timeout=600,
    )
    assert res.ret in (0, 1), res.stdout.str()[-3000:]  # timed whatever the verdicts
    data = json.loads(out.read_text())
    stages = {(s["subject"], s["stage"]): s for s in data["stages"]}
    assert {("sycophantic", "extraction"), ("sycophantic", "sweep"), ("run", "model load")} <= set(
        stages
    )
    for s in data["stages"]:
        assert s["wall_s"] >= 0 and s["cpu_s"] >= 0 and s["calls"] >= 1
    assert stages["sycophantic", "extraction"]["cpu_s"] > 0
    total = sum(s["cpu_s"] for s in data["stages"])
    assert total <= data["configured_to_end"]["cpu_s"] + 0.5  # exclusive: never counted twice


def test_under_xdist_each_workers_stages_reach_the_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: under pytest-xdist the workers' stages never reached the controller (the
    file held the controller's own, empty, timings), and worker progress lines were lost."""
    out = _project(pytester, monkeypatch, "sycophantic", "evil")
    res = pytester.runpytest_subprocess(
        "trait_suites", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup",
        "-p", "demo.timing", "--demo-timings", str(out), timeout=600,
    )
    assert res.ret in (0, 1), res.stdout.str()[-3000:]
    data = json.loads(out.read_text())
    assert set(data["workers"]) == {"gw0", "gw1"}
    extractions = {s["subject"]: s["worker"] for s in data["stages"]
                   if s["stage"] == "extraction"}
    assert set(extractions) == {"sycophantic", "evil"}, data["stages"]
    assert set(extractions.values()) <= {"gw0", "gw1"}  # each marked with its worker
    for worker, span in data["workers"].items():
        own = sum(s["cpu_s"] for s in data["stages"] if s.get("worker") == worker)
        assert own <= span["cpu_s"] + 0.5
    err = res.stderr.str()
    for worker in set(extractions.values()):  # progress lines of workers reach the terminal
        assert f"[{worker}] [persona] generate" in err
