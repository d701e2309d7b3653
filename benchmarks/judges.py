"""Judge bench: concurrent vs sequential judging against a slow local server, and a warm cache.

    python -m benchmarks.judges [N] [LATENCY]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_persona.judges import JudgeRequest, make_judge
from tests.support.judge_server import JudgeServer

_TEMPLATE = "Rate the answer 0-100.\nQuestion: {question}\nAnswer: {answer}"


def bench_judges(n: int = 200, latency: float = 0.05, concurrency: int = 16
                 ) -> dict[str, Any]:
    reqs = [JudgeRequest(f"question {i}", f"answer {i}", _TEMPLATE, "bench") for i in range(n)]
    with JudgeServer(latency=latency) as srv, tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "judge-cache.sqlite"

        def run(conc: int, cache_path: Path | None) -> float:
            judge = make_judge("openai:", base_url=srv.base_url, concurrency=conc,
                               cache_path=cache_path)
            t0 = time.perf_counter()
            res = judge.score_many_sync(reqs)
            dt = time.perf_counter() - t0
            judge.close()
            assert all(r.score is not None for r in res), "bench judgments went missing"
            return dt

        sequential = run(1, None)
        concurrent = run(concurrency, cache)  # cold: fills the cache
        calls_before = srv.calls
        warm = run(concurrency, cache)
        warm_calls = srv.calls - calls_before
        max_in_flight = srv.max_in_flight
    return {
        "judge_concurrency_speedup": round(sequential / concurrent, 2),
        "judge_warm_calls": warm_calls,
        "sequential_s": round(sequential, 3),
        "concurrent_s": round(concurrent, 3),
        "warm_s": round(warm, 3),
        "n": n,
        "latency_s": latency,
        "concurrency": concurrency,
        "max_in_flight": max_in_flight,
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 200
    latency = float(args[1]) if len(args) > 1 else 0.05
    print(json.dumps(bench_judges(n, latency), indent=2))


if __name__ == "__main__":
    main()
