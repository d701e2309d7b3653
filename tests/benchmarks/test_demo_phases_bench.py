"""benchmarks.demo_phases: the result file of cold make demo runs, from GNU time and the demo's
own phase table."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks.demo_phases import gnu_time, main

TIME_V = """\
  suites on smollm2-135m: all expectations met or xfailed as documented
  gate on the modified checkpoint: CAUGHT (exit 1), as it should be; gate report: r.html
\tCommand being timed: "make demo"
\tUser time (seconds): 682.25
\tSystem time (seconds): 40.97
\tElapsed (wall clock) time (h:mm:ss or m:ss): 6:57.79
\tMaximum resident set size (kbytes): 2458052
"""


def test_gnu_time_reads_wall_cpu_and_peak_memory() -> None:
    got = gnu_time(TIME_V)
    assert got == {"wall_s": 417.79, "user_s": 682.25, "system_s": 40.97, "cpu_s": 723.22,
                   "max_rss_kib": 2458052.0}
    assert gnu_time(TIME_V.replace("6:57.79", "1:02:03.5"))["wall_s"] == 3723.5
    with pytest.raises(ValueError, match="no .Elapsed .wall clock. time"):
        gnu_time("nothing here")


def test_the_file_holds_a_row_per_run_and_phase(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    (clone / "reports").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    (clone / "reports" / "demo-timings.json").write_text(json.dumps({
        "phases": [{"name": "GGUF conversion of the embedded model", "wall_s": 17.8,
                    "cpu_s": 17.9, "note": ""}],
        "parts": {}, "machine": {"at_start": {"cpus": 2, "load_avg_1_5_15": [1.5, 2.0, 2.0]}}}))
    log = tmp_path / "log.txt"
    log.write_text(TIME_V)
    out = tmp_path / "demo_phases.json"
    assert main(["--run", f"after={clone}:{log}", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    names = [f["name"] for f in doc["figures"]]
    assert names == ["after: make demo wall", "after: make demo CPU",
                     "after: GGUF conversion of the embedded model wall"]
    assert doc["figures"][0]["value"] == 417.79 and "under 600 s" in doc["figures"][0]["target"]
    assert "(2 cores)" in doc["figures"][0]["what"] and doc["machine"]["cpu_count"] == 2
    assert doc["runs"]["after"]["verdicts"][1].startswith("gate on the modified checkpoint: CAUGHT")
