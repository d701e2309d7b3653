"""One pytest-xdist worker per GPU (or per group of GPUs), chosen before any model loads.

Worker ``gwK`` of ``N`` gets GPUs ``[K*G, (K+1)*G)`` of the visible ones, where ``G`` is
``--persona-gpus-per-worker``; ``CUDA_VISIBLE_DEVICES`` is narrowed to them in the worker's
``pytest_configure``, before torch initialises CUDA, so ``--device cuda`` means the worker's own
GPU and a model that needs several is sharded (``device_map="auto"``) over its own group only.

Visible GPUs are counted without importing torch: ``CUDA_VISIBLE_DEVICES`` when it is set, else
``nvidia-smi -L``. No GPU at all (a CPU run) leaves everything as it is.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

import pytest

from pytest_persona.errors import DeviceAssignmentError as DeviceAssignmentError
from pytest_persona.plugin.options import opt

ENV = "CUDA_VISIBLE_DEVICES"
_WORKER_ID = re.compile(r"^gw(\d+)$")


@dataclass(frozen=True)
class Assignment:
    """The GPUs one xdist worker uses (ids as ``CUDA_VISIBLE_DEVICES`` spells them)."""

    worker: int
    workers: int
    gpus: tuple[str, ...]

    @property
    def env_value(self) -> str:
        return ",".join(self.gpus)


def worker_index(worker_id: str) -> int:
    """``gw3`` -> 3 (the id pytest-xdist gives its workers)."""
    match = _WORKER_ID.match(worker_id.strip())
    if match is None:
        raise DeviceAssignmentError(
            f"PYTEST_XDIST_WORKER={worker_id!r} is not an xdist worker id like 'gw0'")
    return int(match.group(1))


def parse_visible(value: str) -> list[str]:
    """Device ids in ``CUDA_VISIBLE_DEVICES``; like CUDA, ids after an invalid one are ignored."""
    ids: list[str] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item or item.startswith("-"):
            break
        ids.append(item)
    return ids


def assign(worker: int, workers: int, visible: Sequence[str], per_worker: int) -> Assignment:
    """Worker ``worker`` of ``workers`` gets its own ``per_worker`` GPUs of ``visible``."""
    if per_worker < 1:
        raise DeviceAssignmentError(f"--persona-gpus-per-worker must be >= 1, got {per_worker}")
    if workers < 1 or not 0 <= worker < workers:
        raise DeviceAssignmentError(f"worker {worker} of {workers} is not a valid xdist worker")
    needed = workers * per_worker
    if needed > len(visible):
        raise DeviceAssignmentError(
            f"{workers} xdist workers x {per_worker} GPU(s) per worker need {needed} GPUs, but "
            f"{len(visible)} are visible ({ENV}={','.join(visible) or '<none>'}): use "
            f"-n {max(1, len(visible) // per_worker)} or fewer, or a smaller "
            f"--persona-gpus-per-worker")
    start = worker * per_worker
    return Assignment(worker, workers, tuple(visible[start:start + per_worker]))


def count_gpus_nvidia_smi() -> int:
    """GPUs the driver sees (``nvidia-smi -L``), 0 where there is no driver."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return 0
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def visible_devices(env: Mapping[str, str], count: Callable[[], int]) -> list[str]:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` when set, else ``count()``."""
    if ENV in env:
        return parse_visible(env[ENV])
    return [str(i) for i in range(count())]


def assign_from_env(
    env: MutableMapping[str, str],
    per_worker: int,
    count: Callable[[], int] = count_gpus_nvidia_smi,
    explicit: bool = False,
) -> Assignment | None:
    """Narrow ``env[CUDA_VISIBLE_DEVICES]`` to this xdist worker's GPUs.

    None (and ``env`` untouched) outside an xdist worker, or with no GPU unless ``explicit``
    (the user asked for GPUs per worker: then no GPU is an error).
    """
    worker_id = env.get("PYTEST_XDIST_WORKER")
    if not worker_id:
        return None
    count_text = env.get("PYTEST_XDIST_WORKER_COUNT", "")
    if not count_text.isdigit():
        raise DeviceAssignmentError(
            f"PYTEST_XDIST_WORKER_COUNT={count_text!r} is not a worker count")
    visible = visible_devices(env, count)
    if not visible and not explicit:
        return None
    assignment = assign(worker_index(worker_id), int(count_text), visible, per_worker)
    env[ENV] = assignment.env_value
    return assignment


def _cuda_already_initialised() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def configure_worker_devices(config: pytest.Config) -> Assignment | None:
    """pytest_configure step: give this xdist worker its own GPU(s); a clear error otherwise."""
    raw = str(opt(config, "persona_gpus_per_worker") or "1")
    explicit = config.getoption("persona_gpus_per_worker", default=None) not in (None, "")
    if not raw.isdigit():
        raise pytest.UsageError(f"--persona-gpus-per-worker: expected a whole number, got {raw!r}")
    try:
        if not hasattr(config, "workerinput"):
            _check_controller(config, int(raw), explicit)
            return None
        if _cuda_already_initialised():
            raise DeviceAssignmentError(
                "CUDA was initialised before pytest-persona could choose this worker's GPU "
                "(a conftest or plugin touched torch.cuda at import): move that into a fixture")
        return assign_from_env(os.environ, int(raw), explicit=explicit)
    except DeviceAssignmentError as exc:
        raise pytest.UsageError(str(exc)) from exc


def _check_controller(config: pytest.Config, per_worker: int, explicit: bool = False) -> None:
    """Fail before starting workers when ``-n N`` cannot fit (only a literal ``-n N``); with
    no GPU at all, only when GPUs per worker were asked for (else the run is on the CPU)."""
    workers = getattr(config.option, "numprocesses", None)
    if not isinstance(workers, int) or workers < 1:
        return
    visible = visible_devices(os.environ, count_gpus_nvidia_smi)
    if visible or explicit:
        assign(0, workers, visible, per_worker)
