"""Where ``make demo``'s time goes: each phase timed as it runs, in wall-clock and CPU
seconds, the suite run split per trait and stage (from the ``demo.timing`` plugin's file), the
install read back from the virtual environment's files; printed as a table at the end and
saved as JSON."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: ``make demo`` starts the demo seconds after its install; an install that ended longer than
#: this before the demo started was not part of this run (a warm rerun of ``make demo``)
INSTALL_WINDOW_S = 120.0
#: without the Makefile's start marker, a venv made longer than this before its install stamp
#: was not made by that install (the span would hold idle time)
MAX_INSTALL_S = 1800.0

PROCEDURE = (
    "one make demo run (n=1). wall: time.monotonic around each phase. cpu: user+system "
    "seconds of the demo process and its finished children (getrusage SELF + CHILDREN), so a "
    "pytest phase counts its whole subprocess, every thread. The suite run's parts come from "
    "the demo.timing plugin inside that pytest process, or inside each xdist worker: exclusive "
    "wall and process_time per (trait, stage, worker); 'rest' is the phase minus its parts "
    "(in wall time, minus the busiest worker's parts, since workers overlap). The install ran "
    "before the demo "
    "(make install): its wall time is read back from .venv/.install-started to "
    ".venv/.installed, its CPU is not known. On a shared machine wall time includes waiting "
    "for other processes' CPU; CPU seconds do not, so compare CPU across runs and read wall "
    "with the load averages."
)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have ended."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass(frozen=True)
class Row:
    """One timed span: wall and CPU seconds (CPU None where it was not measured)."""

    name: str
    wall: float
    cpu: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "wall_s": round(self.wall, 2),
            "cpu_s": None if self.cpu is None else round(self.cpu, 2),
            "note": self.note,
        }


@dataclass
class Phases:
    """Named phases, in order; ``parts`` break one phase down (not added again)."""

    clock: Callable[[], float] = time.monotonic
    cpu_clock: Callable[[], float] = cpu_seconds
    rows: list[Row] = field(default_factory=list)
    parts: dict[str, list[Row]] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str, note: str = "") -> Iterator[None]:
        wall, cpu = self.clock(), self.cpu_clock()
        try:
            yield
        finally:
            self.rows.append(Row(name, self.clock() - wall, self.cpu_clock() - cpu, note))

    def add(self, name: str, wall: float, cpu: float | None = None, note: str = "") -> None:
        self.rows.append(Row(name, wall, cpu, note))

    def annotate(self, name: str, note: str) -> None:
        """Replace the note of phase ``name``."""
        self.rows = [Row(r.name, r.wall, r.cpu, note) if r.name == name else r for r in self.rows]

    def split(self, name: str, parts: list[Row]) -> None:
        self.parts[name] = parts

    @property
    def total(self) -> float:
        return sum(r.wall for r in self.rows)

    @property
    def total_cpu(self) -> float:
        return sum(r.cpu for r in self.rows if r.cpu is not None)

    def table(self) -> str:
        total = self.total or 1.0
        width = max(
            [len(r.name) for r in self.rows]
            + [len(p.name) + 4 for ps in self.parts.values() for p in ps]
            + [5]
        )

        def line(label: str, r: Row) -> str:
            cpu = "-" if r.cpu is None else f"{r.cpu:.1f}"
            return f"  {label:<{width}}  {r.wall:8.1f}  {cpu:>8}  {100 * r.wall / total:5.1f}%" + (
                f"  {r.note}" if r.note else ""
            )

        lines = [f"  {'phase':<{width}}  {'wall s':>8}  {'cpu s':>8}  {'wall%':>6}"]
        for r in self.rows:
            lines.append(line(r.name, r))
            for p in self.parts.get(r.name, []):
                lines.append(line(f"  - {p.name}", p))
        lines.append(
            f"  {'total':<{width}}  {self.total:8.1f}  {self.total_cpu:8.1f}  "
            "(one run; cpu: user+system of the demo and its subprocesses)"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phases": [r.to_dict() for r in self.rows],
            "parts": {k: [p.to_dict() for p in v] for k, v in self.parts.items()},
            "total_wall_s": round(self.total, 2),
            "total_cpu_s": round(self.total_cpu, 2),
            "n": 1,
            "procedure": PROCEDURE,
        }

    def save(self, path: Path, **extra: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**self.to_dict(), **extra}, indent=2) + "\n", encoding="utf-8")


def machine() -> dict[str, Any]:
    """The CPU count and load averages now: how shared the machine was."""
    return {"cpus": os.cpu_count(), "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()]}


def install_seconds(venv: Path, started_wall: float) -> float | None:
    """Seconds ``make install`` took, when it ran just before this demo: from
    ``VENV/.install-started`` (when the Makefile writes it) or else the creation of
    ``VENV/pyvenv.cfg``, to the install stamp ``VENV/.installed``. None when the install was
    not part of this run: the stamp is older than :data:`INSTALL_WINDOW_S`, or (without the
    start marker) the venv was made long before the stamp, so the span would hold idle time."""
    try:
        stamp = (venv / ".installed").stat().st_mtime
    except OSError:
        return None
    marker = venv / ".install-started"
    try:
        began, exact = marker.stat().st_mtime, True
    except OSError:
        try:
            began, exact = (venv / "pyvenv.cfg").stat().st_mtime, False
        except OSError:
            return None
    if stamp < began or started_wall - stamp > INSTALL_WINDOW_S:
        return None
    if not exact and stamp - began > MAX_INSTALL_S:
        return None
    return stamp - began


def suite_parts(timings: Path, phase_wall: float, phase_cpu: float | None) -> list[Row]:
    """The suite run's parts from the ``demo.timing`` file: one row per trait and stage (in
    first-seen order, traits first, then model and judge loads), and the rest of the phase.
    Under xdist a part's note names its worker; parts of different workers overlap in time, so
    the rest's wall is the phase minus the busiest worker's parts (CPU still adds up).
    Empty when the file is missing or unreadable (the phase then stands alone)."""
    try:
        data = json.loads(timings.read_text(encoding="utf-8"))
        stages = [s for s in data["stages"] if isinstance(s, dict)]
        rows = [
            Row(
                f"{s['subject']}: {s['stage']}" if s["subject"] != "run" else str(s["stage"]),
                float(s["wall_s"]),
                float(s["cpu_s"]),
                ", ".join(
                    ([str(s["worker"])] if "worker" in s else [])
                    + ([f"{s['calls']} calls"] if int(s.get("calls", 1)) > 1 else [])
                ),
            )
            for s in stages
        ]
        busy: dict[str, float] = {}
        for s in stages:
            worker = str(s.get("worker", ""))
            busy[worker] = busy.get(worker, 0.0) + float(s["wall_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return []
    first = {r.name.partition(":")[0]: i for i, r in reversed(list(enumerate(rows)))}
    # per-trait rows first, a trait's rows together (from whichever worker), stable otherwise
    rows.sort(key=lambda r: (":" not in r.name, first[r.name.partition(":")[0]]))
    wall = max(phase_wall - max(busy.values(), default=0.0), 0.0)
    cpu = None if phase_cpu is None else max(phase_cpu - sum(r.cpu or 0.0 for r in rows), 0.0)
    rest = "rest: start-up, collection, expectations' own checks, report"
    if len(busy) > 1:
        rest += " (wall: beyond the busiest worker's parts)"
    return [*rows, Row(rest, wall, cpu)]
