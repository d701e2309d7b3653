"""Progress reporting that stays visible under pytest: stage, done/total, rate, time left."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO


class Progress(Protocol):
    """Called as ``progress(stage, done, total)``."""

    def __call__(self, stage: str, done: int, total: int) -> None: ...


def _fmt(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class ProgressPrinter:
    """Writes one line per update (throttled), e.g. ``[persona] generate sycophantic 40/120 ...``.

    ``write`` lets the pytest plugin route lines past output capture.
    """

    def __init__(self, write: Callable[[str], None] | None = None, stream: TextIO | None = None,
                 min_interval: float = 2.0) -> None:
        self._stream = stream or sys.stderr
        self._write = write or self._default_write
        self._min_interval = min_interval
        self._started: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def _default_write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        start = self._started.setdefault(stage, now)
        finished = done >= total
        if not finished and now - self._last.get(stage, 0.0) < self._min_interval and done > 0:
            return
        self._last[stage] = now
        elapsed = now - start
        rate = done / elapsed if elapsed > 0 and done else 0.0
        left = (total - done) / rate if rate else 0.0
        if finished:
            tail = f"done in {_fmt(elapsed)}"
        elif done == 0:
            tail = "starting"
        else:
            tail = f"{_fmt(elapsed)} elapsed, ~{_fmt(left)} left"
        self._write(f"[persona] {stage}: {done}/{total} ({tail})")
        if finished:
            self._started.pop(stage, None)
            self._last.pop(stage, None)


def bind(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    """Adapt a staged progress callback to the ``(done, total)`` form the engines call."""
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)
