"""``make demo`` prints where its time went (issue 25 item 19): phases timed, the suite run
split per trait, the install read back from the venv."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from demo.phases import Phases, install_seconds, trait_seconds


def test_phases_are_timed_in_order_and_tabled() -> None:
    ticks = iter([0.0, 10.0, 10.0, 70.0])
    phases = Phases(clock=lambda: next(ticks))
    with phases.phase("conversion"):
        pass
    with phases.phase("suites", "extraction, sweeps"):
        pass
    phases.split("suites", [("trait evil", 40.0), ("trait sycophantic", 15.0)])
    phases.add("install", 30.0)
    assert [(n, s) for n, s, _ in phases.rows] == [("conversion", 10.0), ("suites", 60.0),
                                                   ("install", 30.0)]
    table = phases.table()
    assert "conversion" in table and "10.0   10.0%" in table
    assert "suites" in table and "60.0   60.0%  extraction, sweeps" in table
    assert "- trait evil" in table and "40.0" in table
    assert table.splitlines()[-1].split()[:2] == ["total", "100.0"]
    d = phases.to_dict()
    assert d["total_seconds"] == 100.0 and d["parts"]["suites"][0]["name"] == "trait evil"


def test_trait_seconds_sums_expectation_durations(tmp_path: Path) -> None:
    results = tmp_path / "r.json"
    results.write_text(json.dumps({"expectations": [
        {"trait": "evil", "duration_s": 30.5}, {"trait": "sycophantic", "duration_s": 2},
        {"trait": "evil", "duration_s": 1.5}, {"trait": "", "duration_s": 9}]}))
    assert trait_seconds(results) == [("trait evil", 32.0), ("trait sycophantic", 2.0)]
    assert trait_seconds(tmp_path / "missing.json") == []


def test_install_seconds_only_when_installed_just_before(tmp_path: Path) -> None:
    (tmp_path / "pyvenv.cfg").write_text("")
    (tmp_path / ".installed").write_text("")
    now = time.time()
    os.utime(tmp_path / "pyvenv.cfg", (now - 200, now - 200))
    os.utime(tmp_path / ".installed", (now - 20, now - 20))
    assert abs((install_seconds(tmp_path, now) or 0) - 180) < 1
    assert install_seconds(tmp_path, now + 7200) is None  # installed long before this run
    assert install_seconds(tmp_path / "nothing", now) is None
    os.utime(tmp_path / "pyvenv.cfg", (now - 2700, now - 2700))  # venv made long before
    assert install_seconds(tmp_path, now) is None  # the span would hold idle time
    (tmp_path / ".install-started").write_text("")  # the Makefile's own start marker
    os.utime(tmp_path / ".install-started", (now - 320, now - 320))
    assert abs((install_seconds(tmp_path, now) or 0) - 300) < 1
