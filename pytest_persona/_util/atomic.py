"""Atomic file writes: a temporary file in the same directory, then ``os.replace``."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _create_temp(dest: Path) -> Path:
    """An empty, new file beside ``dest``, created with mode 0666 less the user's umask (as
    ``open()`` would create ``dest`` itself; ``tempfile.mkstemp`` would force 0600)."""
    for _ in range(100):
        tmp = dest.parent / f".{dest.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"could not create a temporary file beside {dest}")


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``target`` atomically, else it is removed."""
    dest = Path(target)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(dest)
    mode = stat.S_IMODE(tmp.stat().st_mode)  # 0666 less the umask
    try:
        yield tmp
        if stat.S_IMODE(tmp.stat().st_mode) != mode:  # a writer that re-created the file
            os.chmod(tmp, mode)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(target: str | Path, text: str) -> None:
    """Write text atomically."""
    with atomic_path(target) as tmp:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


def write_with(target: str | Path, writer: Callable[[Path], object]) -> None:
    """Call ``writer(tmp_path)`` (its return value is ignored) and move the result into place
    atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)
