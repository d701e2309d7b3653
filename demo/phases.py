"""Where ``make demo``'s time goes: each phase timed as it runs, the suite run split per trait
(from the expectations' own durations in the results file), the install read back from the
virtual environment's files; printed as a table at the end and saved as JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: an install older than this before the demo started was not part of this run
INSTALL_WINDOW_S = 3600.0


@dataclass
class Phases:
    """Named wall-clock phases, in order; ``parts`` break one phase down (not added again)."""

    clock: Callable[[], float] = time.monotonic
    rows: list[tuple[str, float, str]] = field(default_factory=list)
    parts: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str, note: str = "") -> Iterator[None]:
        started = self.clock()
        try:
            yield
        finally:
            self.rows.append((name, self.clock() - started, note))

    def add(self, name: str, seconds: float, note: str = "") -> None:
        self.rows.append((name, seconds, note))

    def split(self, name: str, parts: list[tuple[str, float]]) -> None:
        self.parts[name] = parts

    @property
    def total(self) -> float:
        return sum(s for _, s, _ in self.rows)

    def table(self) -> str:
        total = self.total or 1.0
        width = max([len(n) for n, _, _ in self.rows] +
                    [len(p) + 4 for ps in self.parts.values() for p, _ in ps] + [5])
        lines = [f"  {'phase':<{width}}  {'seconds':>8}  {'share':>6}"]
        for name, seconds, note in self.rows:
            lines.append(f"  {name:<{width}}  {seconds:8.1f}  {100 * seconds / total:5.1f}%"
                         + (f"  {note}" if note else ""))
            for part, s in self.parts.get(name, []):
                lines.append(f"    - {part:<{width - 4}}  {s:8.1f}  {100 * s / total:5.1f}%")
        lines.append(f"  {'total':<{width}}  {self.total:8.1f}  (wall clock, one run)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"phases": [{"name": n, "seconds": round(s, 2), "note": note}
                           for n, s, note in self.rows],
                "parts": {k: [{"name": p, "seconds": round(s, 2)} for p, s in v]
                          for k, v in self.parts.items()},
                "total_seconds": round(self.total, 2),
                "how": "wall clock per phase of one make demo run (time.monotonic); the suite "
                       "run split per trait suite by the summed duration_s of its expectations "
                       "(extraction, sweep and judging fall in the first expectation that "
                       "needs them, which may extract another trait's vector: "
                       "cross_trait_cosine)"}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


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
    if not exact and stamp - began > INSTALL_WINDOW_S / 2:
        return None
    return stamp - began


def trait_seconds(results: Path) -> list[tuple[str, float]]:
    """Summed expectation durations per trait in a results file (first-seen order)."""
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    found: dict[str, float] = {}
    for e in data.get("expectations") or []:
        if isinstance(e, dict) and e.get("trait"):
            found[str(e["trait"])] = found.get(str(e["trait"]), 0.0) + float(
                e.get("duration_s") or 0.0)
    return [(f"trait {name}", s) for name, s in found.items()]
