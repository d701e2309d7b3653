"""benchmarks/fingerprint.py: the cold sha256 and the memoised lookup, as a harness report."""

from __future__ import annotations

from benchmarks.fingerprint import bench_fingerprint, to_report


def test_a_small_file_is_hashed_cold_then_found_in_the_memo() -> None:
    measured = bench_fingerprint(1 / 16)  # one 64 MiB block
    assert measured["size_gib"] == 0.06 and measured["cold_s"] >= 0
    report = to_report(measured, {"device": "cpu"}, "python -m benchmarks.fingerprint 0.0625")
    assert report["benchmark"] == "fingerprint"
    assert report["command"] == "python -m benchmarks.fingerprint 0.0625"
    by = {f["name"]: f for f in report["figures"]}
    assert by["cold_gib_per_s"]["value"] == measured["cold_gib_per_s"]
    assert by["cold_gib_per_s"]["unit"] == "GiB/s" and "0.06 GiB" in by["cold_gib_per_s"]["what"]
    assert by["memoised_ms"]["value"] == measured["memoised_ms"]
    assert report["measured"] == measured
