"""A tiny tmpfs for full-disk tests: mounted when the tests run as root, skipped otherwise."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(where: Path, size: str = "256k") -> Iterator[Path]:
    """Mount a ``size`` tmpfs at ``where`` (skip the test when that is not allowed)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write ``folder/filler`` until the file system is full; return its path."""
    path = folder / "filler"
    with open(path, "wb", buffering=0) as handle:
        for chunk in (4096, 512, 1):
            try:
                while True:
                    handle.write(b"\0" * chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return path
