"""Fast, content-based fingerprints of model weights, so that caches never go stale."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

SAMPLE_BYTES = 1 << 16  # bytes read at each sampled offset
SAMPLES_PER_FILE = 16
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".msgpack", ".h5")


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Full sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sampled_file_digest(path: Path) -> str:
    """sha256 over the size and evenly spaced samples of a file (fast on multi-GB weights)."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        if size <= SAMPLE_BYTES * SAMPLES_PER_FILE:
            digest.update(handle.read())
        else:
            step = (size - SAMPLE_BYTES) // (SAMPLES_PER_FILE - 1)
            for index in range(SAMPLES_PER_FILE):
                handle.seek(index * step)
                digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()


def directory_fingerprint(directory: str | Path) -> str:
    """Fingerprint of a local model directory: config, file sizes and sampled weight bytes."""
    root = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if rel.endswith(".json") or rel.endswith(".jinja") or rel.endswith(".model"):
            digest.update(f"{rel}:{file_sha256(path)}".encode())
        elif rel.endswith(WEIGHT_SUFFIXES):
            digest.update(f"{rel}:{sampled_file_digest(path)}".encode())
    return "dir-sha256:" + digest.hexdigest()[:32]


def cached_file_sha256(path: str | Path, cache_dir: str | Path) -> str:
    """Full file sha256, memoised on disk by (path, size, mtime)."""
    target = Path(path).resolve()
    stat = target.stat()
    key = hashlib.sha256(f"{target}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    memo = Path(cache_dir) / f"{key}.json"
    if memo.exists():
        try:
            return str(json.loads(memo.read_text())["sha256"])
        except (OSError, ValueError, KeyError):
            pass
    value = file_sha256(target)
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"path": str(target), "sha256": value}))
    os.replace(tmp, memo)
    return value
