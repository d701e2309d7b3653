"""``-n 2 --persona-gpus-per-worker 4`` where no GPU is visible is one usage error from the
controller (exit 4), not an xdist traceback from every worker (issue 25 item 18)."""

from __future__ import annotations

import pytest


def test_gpus_per_worker_without_gpus_is_a_usage_error(pytester: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xdist")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    pytester.makefile(".ini", pytest="[pytest]\npersona_model = tiny-random-qwen2\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    res = pytester.runpytest_subprocess("-n", "2", "--persona-gpus-per-worker", "4",
                                        "-p", "no:cacheprovider", timeout=120)
    assert res.ret == 4
    err = res.stderr.str()
    assert "2 xdist workers x 4 GPU(s) per worker need 8 GPUs, but 0 are visible" in err
    assert "Traceback" not in err + res.stdout.str()


def test_without_the_option_a_cpu_run_with_workers_still_runs(pytester: pytest.Pytester,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    pytest.importorskip("xdist")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    pytester.makefile(".ini", pytest="[pytest]\npersona_model = tiny-random-qwen2\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    res = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", timeout=120)
    assert res.ret == 0
