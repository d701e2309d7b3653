from benchmarks.judges import bench_judges


def test_bench_small() -> None:
    """The bench runs end to end; concurrency is checked structurally (requests really overlap
    at the server), never by wall-clock time: timings belong to `make bench`, not to tests."""
    out = bench_judges(n=32, latency=0.03, concurrency=8)
    assert out["judge_warm_calls"] == 0
    assert 2 <= out["max_in_flight"] <= 8
    assert out["judge_concurrency_speedup"] > 0
    assert set(out) >= {"judge_concurrency_speedup", "judge_warm_calls", "sequential_s",
                        "concurrent_s", "max_in_flight"}
