"""Cost of fingerprinting local weights: a full sha256 (cold) vs the stat-keyed memo (warm).

    python -m benchmarks.fingerprint [SIZE_GIB] [--out FILE.json]
        # writes SIZE_GIB of random bytes to a temp file (default 2), times both, deletes it
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    command_line,
    figure,
    format_table,
    machine_info,
    report,
    write_report,
)
from pytest_persona.models.fingerprint import memoised_sha256

BLOCK = 64 << 20


def bench_fingerprint(size_gib: float = 2.0) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
        path, memo = Path(tmp) / "model.safetensors", Path(tmp) / "memo.json"
        block = os.urandom(BLOCK)
        with open(path, "wb") as handle:
            for _ in range(int(size_gib * (1 << 30)) // BLOCK):
                handle.write(block)
        old = time.time_ns() - 3600 * 10**9  # older than the racy window, so it is memoised
        os.utime(path, ns=(old, old))
        t0 = time.perf_counter()
        cold_hash = memoised_sha256(path, memo)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm_hash = memoised_sha256(path, memo)
        warm = time.perf_counter() - t0
        assert cold_hash == warm_hash
        size = path.stat().st_size / (1 << 30)
    return {"size_gib": round(size, 2), "cold_s": round(cold, 2),
            "cold_gib_per_s": round(size / cold, 2), "memoised_ms": round(warm * 1000, 2),
            "loadavg_1min": round(os.getloadavg()[0], 1)}


def to_report(measured: dict[str, float], machine: dict[str, Any], command: str
              ) -> dict[str, Any]:
    """The harness's report of one measurement."""
    size = f"a {measured['size_gib']:g} GiB file of random bytes"
    figures = [
        figure("cold_gib_per_s", measured["cold_gib_per_s"], "GiB/s",
               f"sha256 of {size} read from disk ({measured['cold_s']:g} s), one core"),
        figure("memoised_ms", measured["memoised_ms"], "ms",
               "the same file again: a stat-keyed lookup in fingerprints.json"),
    ]
    return report("fingerprint", command, figures, machine, measured=measured)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fingerprint")
    parser.add_argument("size_gib", nargs="?", type=float, default=2.0)
    parser.add_argument("--out", default="", help="also write the report to this JSON file")
    args = parser.parse_args(argv)
    machine = machine_info("cpu")
    result = to_report(bench_fingerprint(args.size_gib), machine,
                       command_line("benchmarks.fingerprint", argv))
    if args.out:
        write_report(args.out, result)
    print(format_table(result["figures"]))
    print(json.dumps(result["measured"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
