"""A file lock whose ``.lock`` path is never followed when it is a symlink.

``filelock`` opens its lock file with ``O_TRUNC``; a symlink planted at that path would
truncate its target. :func:`safe_lock` moves such a symlink aside (one warning) first.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from filelock import FileLock


def lock_path(path: str | Path) -> Path:
    return Path(str(path) + ".lock")


def clear_symlinked_lock(path: str | Path, category: type[Warning] = UserWarning) -> None:
    """Move a symlink at ``path``'s lock file aside (renamed, never followed), with a warning."""
    lock = lock_path(path)
    if not lock.is_symlink():
        return
    try:
        target = os.readlink(lock)
    except OSError:
        target = "?"
    aside = lock.with_name(f"{lock.name}.symlink-{os.getpid()}")
    os.replace(lock, aside)
    warnings.warn(f"{lock}: a symlink (to {target}) where a lock file belongs; not followed, "
                  f"moved aside to {aside.name}", category, stacklevel=3)


def safe_lock(path: str | Path, category: type[Warning] = UserWarning) -> FileLock:
    """A FileLock on ``path + '.lock'`` after any symlink there is moved aside."""
    clear_symlinked_lock(path, category)
    return FileLock(str(lock_path(path)))
