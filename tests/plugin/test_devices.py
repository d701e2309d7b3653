"""xdist worker -> GPU assignment: pure logic on simulated device counts, then real workers."""

from __future__ import annotations

import pytest

from pytest_persona.plugin.devices import (
    ENV,
    DeviceAssignmentError,
    assign,
    assign_from_env,
    parse_visible,
    worker_index,
)


def test_worker_index_reads_xdist_ids() -> None:
    assert worker_index("gw0") == 0
    assert worker_index("gw11") == 11
    with pytest.raises(DeviceAssignmentError, match="'master'"):
        worker_index("master")


def test_parse_visible_follows_cuda_rules() -> None:
    assert parse_visible("0,1, 3") == ["0", "1", "3"]
    assert parse_visible("GPU-aa,GPU-bb") == ["GPU-aa", "GPU-bb"]
    assert parse_visible("") == []
    assert parse_visible("2,-1,3") == ["2"]  # CUDA ignores ids after an invalid one


@pytest.mark.parametrize("workers,per,expected", [
    (8, 1, [("0",), ("1",), ("2",), ("3",), ("4",), ("5",), ("6",), ("7",)]),
    (4, 2, [("0", "1"), ("2", "3"), ("4", "5"), ("6", "7")]),
    (2, 4, [("0", "1", "2", "3"), ("4", "5", "6", "7")]),
    (3, 2, [("0", "1"), ("2", "3"), ("4", "5")]),  # spare GPUs stay unused
])
def test_each_worker_gets_its_own_disjoint_group(workers: int, per: int,
                                                 expected: list[tuple[str, ...]]) -> None:
    visible = [str(i) for i in range(8)]
    got = [assign(k, workers, visible, per).gpus for k in range(workers)]
    assert got == expected
    flat = [g for group in got for g in group]
    assert len(flat) == len(set(flat))


def test_assignment_maps_through_an_existing_restriction() -> None:
    assert assign(1, 2, ["4", "6", "5", "7"], 2).gpus == ("5", "7")


def test_too_many_workers_is_a_clear_error() -> None:
    with pytest.raises(DeviceAssignmentError) as info:
        assign(0, 5, ["0", "1", "2", "3", "4", "5", "6", "7"], 2)
    text = str(info.value)
    assert "5 xdist workers x 2 GPU(s) per worker need 10 GPUs, but 8 are visible" in text
    assert "-n 4 or fewer" in text


def test_bad_per_worker_and_worker_numbers() -> None:
    with pytest.raises(DeviceAssignmentError, match=">= 1"):
        assign(0, 1, ["0"], 0)
    with pytest.raises(DeviceAssignmentError, match="worker 2 of 2"):
        assign(2, 2, ["0", "1"], 1)


def test_env_is_narrowed_for_a_worker_with_a_simulated_count() -> None:
    env = {"PYTEST_XDIST_WORKER": "gw2", "PYTEST_XDIST_WORKER_COUNT": "4"}
    got = assign_from_env(env, 1, count=lambda: 4)
    assert got is not None and got.gpus == ("2",)
    assert env[ENV] == "2"


def test_env_restriction_is_respected_over_the_count() -> None:
    env = {"PYTEST_XDIST_WORKER": "gw1", "PYTEST_XDIST_WORKER_COUNT": "2", ENV: "3,5,6,7"}
    assign_from_env(env, 2, count=lambda: 99)
    assert env[ENV] == "6,7"


def test_no_worker_or_no_gpu_leaves_env_alone() -> None:
    env: dict[str, str] = {}
    assert assign_from_env(env, 1, count=lambda: 8) is None
    assert env == {}
    env = {"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": "2"}
    assert assign_from_env(env, 1, count=lambda: 0) is None
    assert ENV not in env


def test_explicit_gpus_per_worker_without_gpus_is_an_error() -> None:
    env = {"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": "1"}
    with pytest.raises(DeviceAssignmentError, match="need 2 GPUs, but 0 are visible"):
        assign_from_env(env, 2, count=lambda: 0, explicit=True)


def test_malformed_worker_count() -> None:
    env = {"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": "many"}
    with pytest.raises(DeviceAssignmentError, match="PYTEST_XDIST_WORKER_COUNT='many'"):
        assign_from_env(env, 1, count=lambda: 1)


PROBE = """
import os
from pathlib import Path

def test_probe(worker_id, request):
    out = Path(str(request.config.rootpath)) / f"probe-{worker_id}-{request.node.name}.txt"
    out.write_text(os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"))
"""


def test_real_xdist_workers_get_their_own_gpus(pytester: pytest.Pytester,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Two real xdist workers over four simulated GPUs, two each, set before any test runs."""
    monkeypatch.setenv(ENV, "0,1,2,3")
    pytester.makepyfile(test_probe=PROBE)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "each", "-p", "no:cacheprovider",
                                           "--persona-gpus-per-worker", "2")
    result.assert_outcomes(passed=2)
    seen = {p.name: p.read_text() for p in pytester.path.glob("probe-*.txt")}
    assert seen == {"probe-gw0-test_probe.txt": "0,1", "probe-gw1-test_probe.txt": "2,3"}


def test_workers_that_do_not_fit_fail_before_running(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "0,1")
    pytester.makepyfile(test_probe=PROBE)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider",
                                           "--persona-gpus-per-worker", "2")
    assert result.ret != 0
    text = "\n".join(result.outlines + result.errlines)
    assert "2 xdist workers x 2 GPU(s) per worker need 4 GPUs, but 2 are visible" in text
