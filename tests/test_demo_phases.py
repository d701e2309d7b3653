"""``make demo`` prints where its time went (issue 25 item 19): phases timed in wall and CPU
seconds, the suite run split per trait and stage, the install read back from the venv."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from demo.phases import Phases, Row, cpu_seconds, install_seconds, machine, suite_parts


def _ticks(*values: float) -> Callable[[], float]:
    it = iter(values)
    return lambda: next(it)


def test_phases_are_timed_in_wall_and_cpu_and_tabled() -> None:
    phases = Phases(clock=_ticks(0.0, 10.0, 10.0, 70.0), cpu_clock=_ticks(1.0, 9.0, 9.0, 129.0))
    with phases.phase("conversion"):
        pass
    with phases.phase("suites", "extraction, sweeps"):
        pass
    phases.split("suites", [Row("evil: extraction", 40.0, 80.0), Row("rest", 20.0, 40.0)])
    phases.add("install", 30.0, None, "cpu not measured")
    assert [(r.name, r.wall, r.cpu) for r in phases.rows] == [
        ("conversion", 10.0, 8.0),
        ("suites", 60.0, 120.0),
        ("install", 30.0, None),
    ]
    table = phases.table().splitlines()
    assert table[0].split() == ["phase", "wall", "s", "cpu", "s", "wall%"]
    assert table[1].split() == ["conversion", "10.0", "8.0", "10.0%"]
    assert table[2].split() == ["suites", "60.0", "120.0", "60.0%", "extraction,", "sweeps"]
    assert table[3].split() == ["-", "evil:", "extraction", "40.0", "80.0", "40.0%"]
    assert table[5].split()[:4] == ["install", "30.0", "-", "30.0%"]  # CPU unknown, not 0
    assert table[-1].split()[:3] == ["total", "100.0", "128.0"]
    d = phases.to_dict()
    assert d["total_wall_s"] == 100.0 and d["total_cpu_s"] == 128.0 and d["n"] == 1
    assert d["phases"][2] == {
        "name": "install",
        "wall_s": 30.0,
        "cpu_s": None,
        "note": "cpu not measured",
    }
    assert d["parts"]["suites"][0] == {
        "name": "evil: extraction",
        "wall_s": 40.0,
        "cpu_s": 80.0,
        "note": "",
    }
    assert "getrusage" in d["procedure"] and "wall" in d["procedure"]


def test_annotate_replaces_one_phase_note() -> None:
    phases = Phases()
    phases.add("a", 1.0, 1.0, "old")
    phases.add("b", 2.0, 2.0, "kept")
    phases.annotate("a", "already converted (cached)")
    assert [r.note for r in phases.rows] == ["already converted (cached)", "kept"]


def test_save_writes_the_table_data_with_command_and_machine(tmp_path: Path) -> None:
    phases = Phases()
    phases.add("x", 1.5, 0.5)
    phases.save(
        tmp_path / "sub" / "t.json", command=["python", "-m", "demo.run"], machine=machine()
    )
    data = json.loads((tmp_path / "sub" / "t.json").read_text())
    assert data["phases"][0]["cpu_s"] == 0.5 and data["command"][-1] == "demo.run"
    assert data["machine"]["cpus"] == os.cpu_count()
    assert len(data["machine"]["load_avg_1_5_15"]) == 3


def test_cpu_seconds_counts_this_process_and_its_finished_children() -> None:
    import subprocess
    import sys

    before = cpu_seconds()
    subprocess.run([sys.executable, "-c", "x = 0\nfor i in range(3_000_000): x += i"], check=True)
    assert cpu_seconds() - before > 0.05  # the child's CPU, not only ours (which is ~0)


def test_suite_parts_from_the_timing_plugin_file(tmp_path: Path) -> None:
    f = tmp_path / "suite-timings.json"
    f.write_text(
        json.dumps(
            {
                "stages": [
                    {
                        "subject": "run",
                        "stage": "model load",
                        "wall_s": 3.0,
                        "cpu_s": 2.0,
                        "calls": 1,
                    },
                    {
                        "subject": "evil",
                        "stage": "extraction",
                        "wall_s": 50.0,
                        "cpu_s": 90.0,
                        "calls": 1,
                    },
                    {
                        "subject": "evil",
                        "stage": "sweep",
                        "wall_s": 20.0,
                        "cpu_s": 30.0,
                        "calls": 3,
                    },
                ]
            }
        )
    )
    rows = suite_parts(f, 100.0, 150.0)
    assert [(r.name, r.wall, r.cpu, r.note) for r in rows] == [
        ("evil: extraction", 50.0, 90.0, ""),
        ("evil: sweep", 20.0, 30.0, "3 calls"),
        ("model load", 3.0, 2.0, ""),
        ("rest: start-up, collection, expectations' own checks, report", 27.0, 28.0, ""),
    ]
    assert suite_parts(tmp_path / "missing.json", 1.0, 1.0) == []
    f.write_text('{"stages": [{"subject": "evil"}]}')
    assert suite_parts(f, 1.0, 1.0) == []  # malformed: the phase stands alone


def test_suite_parts_of_parallel_workers(tmp_path: Path) -> None:
    """Under xdist the parts overlap: each names its worker, a trait's rows stay together, and
    the rest's wall is what the busiest worker's parts leave of the phase."""
    f = tmp_path / "suite-timings.json"

    def stage(subject: str, name: str, wall: float, cpu: float, worker: str) -> dict[str, object]:
        return {"subject": subject, "stage": name, "wall_s": wall, "cpu_s": cpu, "calls": 1,
                "worker": worker}

    f.write_text(json.dumps({"stages": [
        stage("evil", "extraction", 60.0, 50.0, "gw0"),
        stage("run", "model load", 2.0, 2.0, "gw0"),
        stage("syco", "extraction", 70.0, 55.0, "gw1"),
        stage("evil", "extraction", 10.0, 0.1, "gw1"),  # waited for gw0's extraction
        stage("syco", "sweep", 20.0, 15.0, "gw1"),
    ], "workers": {"gw0": {"wall_s": 70.0, "cpu_s": 55.0}, "gw1": {"wall_s": 105.0,
                                                                   "cpu_s": 75.0}}}))
    rows = suite_parts(f, 110.0, 140.0)
    assert [(r.name, r.note) for r in rows] == [
        ("evil: extraction", "gw0"), ("evil: extraction", "gw1"),
        ("syco: extraction", "gw1"), ("syco: sweep", "gw1"), ("model load", "gw0"),
        ("rest: start-up, collection, expectations' own checks, report (wall: beyond the "
         "busiest worker's parts)", ""),
    ]
    assert rows[-1].wall == 10.0  # 110 - (70 + 10 + 20), gw1 being the busiest
    assert rows[-1].cpu == pytest.approx(140.0 - 122.1)


def test_demo_runs_one_worker_per_suite_with_one_thread_each(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import demo.run as run

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    calls: list[tuple[list[str], dict[str, str] | None]] = []

    def fake_pytest(args: list[str], env: dict[str, str] | None = None) -> int:
        calls.append((list(args), env))
        return 0

    monkeypatch.setattr(run, "_pytest", fake_pytest)
    monkeypatch.setattr(run, "convert_if_needed", lambda: False)
    reports = tmp_path / "r"
    assert run.main(["--reports", str(reports), "--skip-gate", "--cache", str(tmp_path / "c")]) == 0
    args, env = calls[0]
    assert args[args.index("-n") + 1] == str(run.DEMO_WORKERS) == "3"
    assert args[args.index("--dist") + 1] == "loadfile"
    assert env == {"OMP_NUM_THREADS": "1"}
    calls.clear()
    run.main(["--reports", str(reports), "--skip-gate", "--workers", "1"])
    args, env = calls[0]
    assert "-n" not in args and not env  # one process, torch's own thread count


def test_install_seconds_only_when_installed_just_before(tmp_path: Path) -> None:
    (tmp_path / "pyvenv.cfg").write_text("")
    (tmp_path / ".installed").write_text("")
    now = time.time()
    os.utime(tmp_path / "pyvenv.cfg", (now - 200, now - 200))
    os.utime(tmp_path / ".installed", (now - 20, now - 20))
    assert abs((install_seconds(tmp_path, now) or 0) - 180) < 1
    assert install_seconds(tmp_path, now + 7200) is None  # installed long before this run
    # regression: a warm rerun of make demo ten minutes after the install counted it again
    assert install_seconds(tmp_path, now + 600) is None
    assert install_seconds(tmp_path / "nothing", now) is None
    os.utime(tmp_path / "pyvenv.cfg", (now - 2700, now - 2700))  # venv made long before
    assert install_seconds(tmp_path, now) is None  # the span would hold idle time
    (tmp_path / ".install-started").write_text("")  # the Makefile's own start marker
    os.utime(tmp_path / ".install-started", (now - 320, now - 320))
    assert abs((install_seconds(tmp_path, now) or 0) - 300) < 1


def test_demo_passes_its_batch_size_unless_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import demo.run as run

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # main() sets it by default: restored after
    calls: list[list[str]] = []

    def fake_pytest(args: list[str], env: dict[str, str] | None = None) -> int:
        calls.append(list(args))
        return 0

    monkeypatch.setattr(run, "_pytest", fake_pytest)
    monkeypatch.setattr(run, "convert_if_needed", lambda: False)
    reports = tmp_path / "r"
    assert run.main(["--reports", str(reports), "--skip-gate", "--cache", str(tmp_path / "c")]) == 0
    args = calls[0]
    assert args[args.index("--batch-size") + 1] == str(run.DEMO_BATCH)
    assert args[args.index("-p", args.index("-rxXs")) + 1] == "demo.timing"
    calls.clear()
    run.main(["--reports", str(reports), "--skip-gate", "--batch-size", "8"])
    assert calls[0].count("--batch-size") == 1
    assert calls[0][calls[0].index("--batch-size") + 1] == "8"
    saved = json.loads((reports / "demo-timings.json").read_text())
    assert saved["phases"][-1]["name"] == "trait suites (pytest trait_suites/)"
    assert saved["phases"][-1]["cpu_s"] is not None
    assert saved["command"][-2:] == ["--batch-size", "8"]
