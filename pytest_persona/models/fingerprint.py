"""Content fingerprints of model weights that cover every byte, so caches never go stale.

A full sha256 of a multi-GB file takes seconds, so digests are memoised in one small JSON file
keyed by (resolved path, size, mtime_ns, ctime_ns, inode): an unchanged file is not re-hashed.
A file modified less than :data:`RACY_NS` before it was hashed is not memoised (the "racy
clean" problem: a second write within one timestamp tick would not change the stat).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from pytest_persona._util.atomic import write_text
from pytest_persona._util.locks import safe_lock

CHUNK_BYTES = 8 << 20
RACY_NS = 2_000_000_000  # files younger than this when hashed are hashed again next time
MEMO_NAME = "fingerprints.json"
MEMO_VERSION = 1
#: trainer state in a checkpoint directory: never loaded as the model, so not fingerprinted
TRAINER_STATE = frozenset({"optimizer.pt", "scheduler.pt", "trainer_state.json",
                           "training_args.bin", "scaler.pt"})

HASHED_BYTES = 0  # bytes hashed in this process (tests and benchmarks read it)


def cache_root() -> Path:
    """Where converted models and fingerprint memos live."""
    base = os.environ.get("PERSONA_MODEL_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pytest-persona"


def file_sha256(path: str | Path, chunk: int = CHUNK_BYTES) -> str:
    """Full sha256 of a file, every byte."""
    global HASHED_BYTES
    digest = hashlib.sha256()
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            digest.update(view[:n])
            HASHED_BYTES += n
    return digest.hexdigest()


def _stat_key(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def _read_memo(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != MEMO_VERSION:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def memoised_sha256(path: str | Path, memo_file: str | Path | None = None) -> str:
    """Full sha256 of ``path``, read from / written to the memo when its stat is unchanged."""
    target = Path(path).resolve()
    memo = Path(memo_file) if memo_file is not None else cache_root() / MEMO_NAME
    stat = target.stat()
    entry = _read_memo(memo).get(str(target))
    if (isinstance(entry, dict) and entry.get("stat") == _stat_key(stat)
            and isinstance(entry.get("sha256"), str)):
        return str(entry["sha256"])
    started = time.time_ns()
    value = file_sha256(target)
    after = target.stat()
    if _stat_key(after) != _stat_key(stat) or started - stat.st_mtime_ns < RACY_NS:
        return value  # changed while hashing, or too fresh to trust its stat next time
    memo.parent.mkdir(parents=True, exist_ok=True)
    with safe_lock(memo):
        files = _read_memo(memo)
        files[str(target)] = {"stat": _stat_key(stat), "sha256": value}
        write_text(memo, json.dumps({"version": MEMO_VERSION, "files": files}, indent=0))
    return value


def cached_file_sha256(path: str | Path, cache_dir: str | Path) -> str:
    """Full file sha256, memoised in ``cache_dir``'s memo file."""
    return memoised_sha256(path, Path(cache_dir) / MEMO_NAME)


def _fingerprinted(rel: str) -> bool:
    parts = rel.split("/")
    if any(p.startswith(".") for p in parts):  # .git, .cache (hub metadata), hidden files
        return False
    name = parts[-1]
    return name not in TRAINER_STATE and not name.startswith("rng_state") \
        and not name.endswith(".lock")


def directory_fingerprint(directory: str | Path, memo_file: str | Path | None = None) -> str:
    """Fingerprint of a local model directory: the full sha256 of every file that can change
    the model (weights, config, tokenizer, templates), by relative path."""
    root = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or not _fingerprinted(rel):
            continue
        digest.update(f"{rel}:{memoised_sha256(path, memo_file)}\n".encode())
    return "dir-sha256:" + digest.hexdigest()[:32]
