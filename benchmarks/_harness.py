"""What every bench shares: the OpenMP wait policy, a prefixed stderr log, rounding, best-of-N
timing, offline hub settings and the atomic JSON write of a report.

Import it before torch (its first line sets ``OMP_WAIT_POLICY``: under CPU contention OpenMP's
default spin-waiting made single-token forward passes 25x slower on 2 cores)."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def logger(prefix: str) -> Callable[[str], None]:
    """A function printing ``[prefix] message`` to stderr, flushed."""

    def log(msg: str) -> None:
        print(f"[{prefix}] {msg}", file=sys.stderr, flush=True)

    return log


def rounded(x: float, nd: int = 3) -> float:
    """``x`` as a float rounded to ``nd`` digits (figures in the JSON reports)."""
    return round(float(x), nd)


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Run ``fn`` ``repeats`` times; the best wall time, all times (rounded to ms) and the
    last result."""
    times: list[float] = []
    result: Any = None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), [round(t, 3) for t in times], result


def offline() -> None:
    """Never reach a model hub from a bench (the machines have no internet)."""
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                       ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(key, value)


def write_report(path: str | Path, report: dict[str, Any]) -> None:
    """The report as indented JSON, written atomically (a reader never sees half a file)."""
    from pytest_persona._util.atomic import write_text

    write_text(path, json.dumps(report, indent=2, default=str) + "\n")
