"""Throughput of sampled generation on a CPU: processes x torch threads per process.

    python -m benchmarks.cpu_workers [--rows 100] [--tokens 64] [--out FILE]

Each configuration starts its processes at once; every process loads the model, waits until
all of them have (a file barrier), then generates the same ``--rows`` sampled rows (the demo's
sycophantic contrastive prompts, temperature 1, batch 50) on the embedded SmolLM2-135M in
float32 with its own thread count. The figure is rows per second of the whole configuration
(all processes' rows over the wall time from the first generation start to the last end)
relative to one process with two threads, measured in the same invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    Figure,
    command_line,
    figure,
    logger,
    machine_info,
    offline,
    report,
    write_report,
)

REFERENCE = (1, 2)
#: (processes, threads per process)
CONFIGS = ((1, 2), (2, 1), (3, 1), (3, 2))
_log = logger("cpu_workers")


def _run(processes: int, threads: int, rows: int, tokens: int, tmp: Path) -> dict[str, Any]:
    _log(f"{processes} process(es) x {threads} thread(s), {rows} rows x {tokens} tokens each")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    outs = [tmp / f"p{processes}-t{threads}-{i}.json" for i in range(processes)]
    barrier = tmp / f"barrier-p{processes}-t{threads}"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.sampled_stability", "--child",
                               f"{threads},50", "--rows", str(rows), "--tokens", str(tokens),
                               "--out", str(out), "--barrier", str(barrier),
                               "--peers", str(processes)], env=env) for out in outs]
    try:
        for proc in procs:
            if proc.wait() != 0:
                raise RuntimeError(f"a generation process exited {proc.returncode}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    done = [json.loads(out.read_text()) for out in outs]
    span = max(d["end"] for d in done) - min(d["start"] for d in done)
    return {"processes": processes, "threads": threads, "rows": rows * processes,
            "wall_s_per_process": [round(d["wall_s"], 2) for d in done],
            "span_s": round(span, 2), "rows_per_s": round(rows * processes / span, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--out", default="reports/cpu-workers.json")
    args = parser.parse_args(argv)
    offline()
    start = machine_info(model="smollm2-135m", dtype="float32")
    with tempfile.TemporaryDirectory() as tmp:
        runs = {c: _run(*c, args.rows, args.tokens, Path(tmp)) for c in CONFIGS}
    ref = runs[REFERENCE]["rows_per_s"]
    figures: list[Figure] = []
    for (processes, threads), run in runs.items():
        if (processes, threads) == REFERENCE:
            continue
        figures.append(figure(
            f"{processes} processes x {threads} thread(s)", round(run["rows_per_s"] / ref, 2),
            "x", f"sampled rows per second against 1 process x 2 threads ({run['rows']} rows "
            f"in {run['span_s']:g} s against {runs[REFERENCE]['rows']} in "
            f"{runs[REFERENCE]['span_s']:g} s; {args.tokens} tokens, batch 50)",
            step="throughput"))
    doc = report("cpu_workers", command_line("benchmarks.cpu_workers", argv), figures, start,
                 procedure="each configuration's processes start together and begin generating "
                           "once all have loaded the model (file barrier); rows/s of the "
                           "configuration = all rows / (last generation end - first start)",
                 details={f"{p}x{t}": run for (p, t), run in runs.items()})
    write_report(Path(args.out), doc)
    for f in figures:
        print(f"{f['name']}: {f['value']} {f['unit']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
