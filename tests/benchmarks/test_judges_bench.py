from benchmarks.judges import bench_judges


def test_bench_small() -> None:
    out = bench_judges(n=32, latency=0.03, concurrency=8)
    assert out["judge_warm_calls"] == 0
    assert out["judge_concurrency_speedup"] > 3
    assert set(out) >= {"judge_concurrency_speedup", "judge_warm_calls", "sequential_s",
                        "concurrent_s"}
