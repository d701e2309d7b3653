"""What every bench shares: the OpenMP wait policy, a prefixed stderr log, rounding, best-of-N
timing, offline hub settings, the machine description, the one report shape, its text table and
the atomic JSON write of a report.

Every result file has one shape (:func:`report`)::

    {"benchmark": "bench", "machine": {...}, "command": "python -m benchmarks.bench ...",
     "figures": [{"name", "value", "unit", "what", "target", "step"}, ...], ...}

followed by whatever else the bench records (``details``, ``config``, ...). The docs render
``figures`` (``<!-- bench: FILE.json -->``, docs/_hooks/persona_docs.py); figures copied from an
earlier run instead of measured again say so with ``"remeasured": false`` and a ``provenance``.

Import it before torch (its first line sets ``OMP_WAIT_POLICY``: under CPU contention OpenMP's
default spin-waiting made single-token forward passes 25x slower on 2 cores)."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

#: one measured figure: ``{"name", "value", "unit", "what", "target", "step"}`` (plus, for a
#: bench that has them, per-figure extras such as ``peak_gpu_mib``)
Figure = dict[str, Any]


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
    for key, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ):
        os.environ.setdefault(key, value)


def write_report(path: str | Path, report: dict[str, Any]) -> None:
    """The report as indented JSON, written atomically (a reader never sees half a file)."""
    from pytest_persona._util.atomic import write_text

    write_text(path, json.dumps(report, indent=2, default=str) + "\n")


def figure(
    name: str,
    value: Any,
    unit: str = "",
    what: str = "",
    target: str | None = None,
    step: str | None = None,
) -> Figure:
    """One entry of a report's ``figures`` list."""
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "what": what,
        "target": target,
        "step": step,
    }


def loadavg() -> list[float]:
    """The 1, 5 and 15-minute load averages, rounded (empty where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_info(device: str = "cpu", **extra: Any) -> dict[str, Any]:
    """The machine a bench ran on: cores, load average at the start, Python and platform, and
    torch / transformers / CUDA where they are installed; ``extra`` is added (model, dtype...).

    Absolute times depend on the load of a shared machine: ratios measured in one run do not,
    which is why every bench reports ratios and records ``loadavg_start`` (and, through
    :func:`report`, ``loadavg_end``)."""
    info: dict[str, Any] = {
        "device": device,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "loadavg_start": loadavg(),
    }
    try:
        import torch
    except ImportError:  # a bench that never needs torch (the judges) still describes the host
        torch = None  # type: ignore[assignment]
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.version.cuda
        cuda = device.startswith("cuda") and torch.cuda.is_available()
        info["device_name"] = (
            torch.cuda.get_device_name(0)
            if cuda
            else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
        )
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        pass
    return {**info, **extra}


def command_line(module: str, argv: Sequence[str] | None = None) -> str:
    """The command that reproduces a run: ``python -m MODULE ARGS`` (``sys.argv`` by default)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return shlex.join(["python", "-m", module, *args])


def report(
    benchmark: str, command: str, figures: Iterable[Figure], machine: dict[str, Any], **rest: Any
) -> dict[str, Any]:
    """A result in the one shape every bench writes: ``benchmark``, ``machine`` (with the load
    average at the end added), ``command``, ``figures``, then ``rest`` in order."""
    machine = {**machine, "loadavg_end": loadavg()}
    return {
        "benchmark": benchmark,
        "machine": machine,
        "command": command,
        "figures": list(figures),
        **rest,
    }


def format_table(figures: Iterable[Figure], extra: Sequence[tuple[str, str]] = ()) -> str:
    """The figures as an aligned text table for the terminal: figure, value with its unit,
    target, then one column per ``(key, header)`` of ``extra`` (per-figure extras)."""
    rows = [("figure", "value", "target", *(header for _, header in extra))]
    for f in figures:
        value = f["value"]
        text = f"{value:g}" if isinstance(value, float) else str(value)
        cells = [f.get(k) for k, _ in extra]
        rows.append(
            (
                f["name"],
                f"{text} {f.get('unit') or ''}".strip(),
                f.get("target") or "-",
                *(
                    "n/a" if c is None else f"{c:g}" if isinstance(c, float) else str(c)
                    for c in cells
                ),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
