"""Assemble ``benchmarks/results/demo_phases.json`` from cold ``make demo`` runs on fresh clones.

    python -m benchmarks.demo_phases --run before=CLONE:LOG --run after=CLONE:LOG [--out FILE]

Each run is a fresh clone (``CLONE``: its ``reports/demo-timings.json`` and git head are read)
where ``/usr/bin/time -v make demo`` ran with an empty persona cache and an empty converted-model
cache (``PERSONA_MODEL_CACHE``), its output in ``LOG``. The figures: the whole ``make demo``
(install included) in wall and CPU seconds from GNU time, and each phase from the demo's own
table; one row per run (``step``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from benchmarks._harness import Figure, figure, write_report

TARGET = "under 600 s from a fresh clone, install included, on 2 cores (issue 25 item 19)"


def gnu_time(log: str) -> dict[str, float]:
    """Wall, user and system seconds and the peak RSS from ``/usr/bin/time -v`` output."""
    def grab(label: str) -> str:
        found = re.search(rf"{re.escape(label)}: (.+)", log)
        if found is None:
            raise ValueError(f"no {label!r} line in the GNU time output")
        return found.group(1).strip()

    parts = [float(p) for p in grab("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    user, system = float(grab("User time (seconds)")), float(grab("System time (seconds)"))
    return {"wall_s": round(wall, 2), "user_s": user, "system_s": system,
            "cpu_s": round(user + system, 2),
            "max_rss_kib": float(grab("Maximum resident set size (kbytes)"))}


def one_run(step: str, clone: Path, log_path: Path) -> tuple[list[Figure], dict[str, Any]]:
    timings = json.loads((clone / "reports" / "demo-timings.json").read_text(encoding="utf-8"))
    log = log_path.read_text(encoding="utf-8", errors="replace")
    total = gnu_time(log)
    head = subprocess.run(["git", "-C", str(clone), "log", "-1", "--format=%h"],
                          capture_output=True, text=True, check=True).stdout.strip()
    verdict = [line.strip() for line in log.splitlines()
               if line.strip().startswith(("suites on", "gate on"))]
    start = timings["machine"]["at_start"]["load_avg_1_5_15"]
    cpus = timings["machine"]["at_start"].get("cpus", "?")
    figures = [
        figure(f"{step}: make demo wall", total["wall_s"], "s",
               f"fresh clone at {head}, install included, GNU time; load average {start[0]:g} "
               f"at the demo's start ({cpus} cores)", TARGET, step),
        figure(f"{step}: make demo CPU", total["cpu_s"], "s",
               "user + system of make demo and every subprocess (GNU time)", None, step),
    ]
    for phase in timings["phases"]:
        figures.append(figure(f"{step}: {phase['name']} wall", phase["wall_s"], "s",
                              phase["note"] or "the demo's own phase table", None, step))
    run = {"commit": head, "gnu_time": total, "phases": timings["phases"],
           "parts": timings["parts"], "machine": timings["machine"], "verdicts": verdict}
    return figures, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", action="append", required=True, metavar="STEP=CLONE:LOG")
    parser.add_argument("--out", default="benchmarks/results/demo_phases.json")
    args = parser.parse_args(argv)
    figures: list[Figure] = []
    runs: dict[str, Any] = {}
    for spec in args.run:
        step, _, paths = spec.partition("=")
        clone, _, log = paths.partition(":")
        got, runs[step] = one_run(step, Path(clone), Path(log))
        figures += got
    cpus = {run["machine"]["at_start"].get("cpus") for run in runs.values()}
    doc = {
        "benchmark": "demo_phases",
        "machine": {"device": "cpu", "cpu_count": cpus.pop() if len(cpus) == 1 else sorted(cpus),
                    "device_name": "CPU, the runs one after the other on one machine"},
        "command": ("git clone <main> CLONE && cd CLONE && env -u OPENAI_API_KEY -u "
                    "ANTHROPIC_API_KEY PERSONA_MODEL_CACHE=<empty dir> /usr/bin/time -v make demo"),
        "figures": figures,
        "n": 1,
        "procedure": ("one cold make demo per step on a fresh clone (empty .venv with pip's "
                      "cache warm, empty persona cache, empty converted-model cache), run one "
                      "after the other on the same 2 cores; the whole command timed by GNU "
                      "time, the phases by the demo's own table (demo/phases.py)"),
        "runs": runs,
    }
    write_report(Path(args.out), doc)
    for f in figures[:2] + figures[len(figures) // 2:len(figures) // 2 + 2]:
        print(f"{f['name']}: {f['value']} {f['unit']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
