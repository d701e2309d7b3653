"""Cost of fingerprinting local weights: a full sha256 (cold) vs the stat-keyed memo (warm).

    python -m benchmarks.fingerprint [SIZE_GIB]   # writes SIZE_GIB of random bytes to a temp
                                                  # file (default 2), times both, deletes it
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

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


if __name__ == "__main__":
    print(json.dumps(bench_fingerprint(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)))
