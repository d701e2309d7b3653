"""Where the demo's suite run spends its time: a pytest plugin that ``make demo`` loads
(``-p demo.timing --demo-timings FILE``).

It times the session's shared, memoised work per trait (extraction, dose scale, sweep,
projections, unsteered baseline) and the model and judge loads, in wall and CPU seconds
(``time.process_time``: every thread of the pytest process), and writes them to ``FILE`` at
the end of the run. Each stage's time is exclusive: a sweep that extracts its vector first
counts the extraction under ``extraction``, not twice. Whatever no stage covers (start-up,
collection, each expectation's own checks, the report) is the rest of the phase.

Under pytest-xdist each worker times its own stages and hands them to the controller at the
end (``workeroutput``); the file then lists every worker's stages, each marked with its worker,
and each worker's own span (``workers``).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: (class path, method name, stage, index of the TraitData argument or None: not per trait)
TIMED: tuple[tuple[str, str, str, int | None], ...] = (
    ("pytest_persona.suites.session:PersonaSession", "vectors", "extraction", 0),
    ("pytest_persona.suites.session:PersonaSession", "dose_scale", "dose scale", 1),
    ("pytest_persona.suites.session:PersonaSession", "sweep", "sweep", 1),
    ("pytest_persona.suites.session:PersonaSession", "projections", "projections", 1),
    ("pytest_persona.suites.session:PersonaSession", "baseline", "baseline", 1),
    ("pytest_persona.models.loading:LazyLoadedModel", "_materialize", "model load", None),
    ("pytest_persona.judges.offline:Embedder", "__init__", "offline judge load", None),
)


@dataclass
class StageClock:
    """Exclusive wall and CPU seconds per (subject, stage); nested stages are subtracted from
    the stage that called them."""

    wall: Callable[[], float] = time.monotonic
    cpu: Callable[[], float] = time.process_time
    totals: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    _stack: list[list[float]] = field(default_factory=list)

    @contextmanager
    def stage(self, subject: str, stage: str) -> Iterator[None]:
        # each frame: [wall at start, cpu at start, wall of nested stages, cpu of nested]
        frame = [self.wall(), self.cpu(), 0.0, 0.0]
        self._stack.append(frame)
        try:
            yield
        finally:
            self._stack.pop()
            wall, cpu = self.wall() - frame[0], self.cpu() - frame[1]
            row = self.totals.setdefault((subject, stage), [0.0, 0.0, 0.0])
            row[0] += wall - frame[2]
            row[1] += cpu - frame[3]
            row[2] += 1
            if self._stack:
                self._stack[-1][2] += wall
                self._stack[-1][3] += cpu

    def to_list(self) -> list[dict[str, Any]]:
        return [
            {
                "subject": s,
                "stage": st,
                "wall_s": round(w, 3),
                "cpu_s": round(c, 3),
                "calls": int(n),
            }
            for (s, st), (w, c, n) in self.totals.items()
        ]


def _subject(args: tuple[Any, ...], kwargs: dict[str, Any], index: int | None) -> str:
    if index is None:
        return "run"
    trait = args[index] if len(args) > index else kwargs.get("trait")
    return str(getattr(trait, "name", trait))


def _timed(
    clock: StageClock, method: Callable[..., Any], stage: str, index: int | None
) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with clock.stage(_subject(args, kwargs, index), stage):
            return method(self, *args, **kwargs)

    wrapper.__demo_timed__ = True  # type: ignore[attr-defined]
    return wrapper


def install(clock: StageClock) -> Callable[[], None]:
    """Wrap the :data:`TIMED` methods; returns the function that unwraps them."""
    import importlib

    undo: list[tuple[type, str, Any]] = []
    for target, name, stage, index in TIMED:
        module, _, cls_name = target.partition(":")
        cls = getattr(importlib.import_module(module), cls_name)
        original = cls.__dict__[name]
        if getattr(original, "__demo_timed__", False):
            continue
        setattr(cls, name, _timed(clock, original, stage, index))
        undo.append((cls, name, original))

    def uninstall() -> None:
        for cls, name, original in reversed(undo):
            setattr(cls, name, original)

    return uninstall


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--demo-timings",
        default=None,
        metavar="FILE",
        help="make demo: write the suite run's per-trait stage times to FILE",
    )


_KEY = pytest.StashKey[tuple[StageClock, Callable[[], None], float, float]]()


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--demo-timings") is None:
        return
    clock = StageClock()
    config.stash[_KEY] = (clock, install(clock), time.monotonic(), time.process_time())


def _report(config: pytest.Config) -> dict[str, Any] | None:
    found = config.stash.get(_KEY, None)
    if found is None:
        return None
    clock, _, wall0, cpu0 = found
    return {
        "stages": clock.to_list(),
        "configured_to_end": {
            "wall_s": round(time.monotonic() - wall0, 3),
            "cpu_s": round(time.process_time() - cpu0, 3),
        },
    }


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands its stages to the controller (sent after this hook)."""
    output = getattr(session.config, "workeroutput", None)
    report = _report(session.config)
    if output is not None and report is not None:
        output["demo_timings"] = json.dumps(report)


_WORKERS = pytest.StashKey[dict[str, dict[str, Any]]]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller keeps each worker's stages (an xdist hook)."""
    raw = getattr(node, "workeroutput", {}).get("demo_timings")
    if raw is None:
        return
    worker = str(getattr(node, "workerinput", {}).get("workerid", "worker"))
    node.config.stash.setdefault(_WORKERS, {})[worker] = json.loads(raw)


def pytest_unconfigure(config: pytest.Config) -> None:
    found = config.stash.get(_KEY, None)
    if found is None or hasattr(config, "workerinput"):
        if found is not None:
            found[1]()  # an xdist worker: its stages went to the controller
        return
    report = _report(config)
    found[1]()
    assert report is not None
    workers = config.stash.get(_WORKERS, {})
    stages = list(report["stages"])
    for worker, data in sorted(workers.items()):
        stages += [{**stage, "worker": worker} for stage in data["stages"]]
    out = Path(config.getoption("--demo-timings"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "stages": stages,
                "configured_to_end": report["configured_to_end"],
                "workers": {w: d["configured_to_end"] for w, d in sorted(workers.items())},
                "how": "exclusive wall (time.monotonic) and CPU (time.process_time, all threads of "
                "the pytest process) seconds per stage of the session's memoised work, summed "
                "over calls (a memo hit costs ~0); under xdist per worker process, whose stages "
                "run at the same time as the other workers'",
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
