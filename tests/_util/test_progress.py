from __future__ import annotations

from pytest_persona._util.progress import ProgressPrinter, bind


def test_progress_lines_start_throttle_and_finish() -> None:
    lines: list[str] = []
    printer = ProgressPrinter(write=lines.append, min_interval=3600)
    printer("generate evil sweep", 0, 100)
    printer("generate evil sweep", 10, 100)  # throttled
    printer("generate evil sweep", 100, 100)
    assert lines[0] == "[persona] generate evil sweep: 0/100 (starting)"
    assert len(lines) == 2 and lines[1].startswith("[persona] generate evil sweep: 100/100 (done in")


def test_bind_adapts_to_done_total() -> None:
    seen: list[tuple[str, int, int]] = []
    cb = bind(lambda s, d, t: seen.append((s, d, t)), "judge")
    assert cb is not None
    cb(3, 4)
    assert seen == [("judge", 3, 4)] and bind(None, "x") is None
