"""The on-disk cache under ``--persona-cache``: responses, vectors, judge scores.

Generated responses are JSONL lines, each carrying its own checksum, appended under a file
lock as each batch finishes: an interrupted run keeps every finished batch, a torn line is
detected, warned about and recomputed. Vectors are safetensors files with a JSON sidecar,
written atomically. Judge scores live in the judges' SQLite file beside them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock

from pytest_persona._util.atomic import write_text
from pytest_persona.core.vectors import TraitVectors, VectorFileError

log = logging.getLogger(__name__)
CACHE_VERSION = 1


class CacheWarning(UserWarning):
    """A cache entry was unreadable and will be recomputed."""


def stable_hash(payload: Any, length: int = 32) -> str:
    """sha256 of a canonical JSON encoding."""
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _line_checksum(key: str, text: str) -> str:
    return hashlib.sha256(f"{key}\0{text}".encode()).hexdigest()[:16]


class ResponseStore:
    """Generated responses for one model, keyed by request key (see generation.request_key)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(str(path) + ".lock")
        self._data: dict[str, str] = {}
        self._loaded_size = -1
        self.hits = 0
        self.misses = 0

    def _load(self) -> None:
        if not self.path.exists():
            return
        size = self.path.stat().st_size
        if size == self._loaded_size:
            return
        bad = 0
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    entry = json.loads(line)
                    key, text = entry["k"], entry["t"]
                    if entry["c"] != _line_checksum(key, text):
                        raise ValueError("checksum mismatch")
                except (ValueError, KeyError, TypeError):
                    bad += 1
                    continue
                self._data[key] = text
        if bad:
            warnings.warn(f"{self.path}: {bad} corrupted line(s) ignored; those responses will "
                          "be regenerated", CacheWarning, stacklevel=3)
        self._loaded_size = size

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """The cached responses among ``keys``."""
        self._load()
        found = {k: self._data[k] for k in keys if k in self._data}
        return found

    def put_many(self, items: Mapping[str, str]) -> None:
        """Append responses durably (flush + fsync) under the file lock."""
        if not items:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(
            json.dumps({"k": k, "t": t, "c": _line_checksum(k, t)}, ensure_ascii=False) + "\n"
            for k, t in items.items()
        )
        with self._lock:
            with open(self.path, "a+b") as handle:
                handle.seek(0, os.SEEK_END)
                if handle.tell() > 0:
                    handle.seek(-1, os.SEEK_END)
                    if handle.read(1) != b"\n":  # a torn last line: start a fresh one
                        handle.write(b"\n")
                handle.write(lines.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        self._data.update(items)


class PersonaCache:
    """Content-addressed cache root. ``refresh=True`` ignores reads but still writes."""

    def __init__(self, root: str | Path, refresh: bool = False) -> None:
        self.root = Path(root)
        self.refresh = refresh
        self._responses: dict[str, ResponseStore] = {}
        self.vector_hits = 0
        self.vector_misses = 0

    @property
    def judge_path(self) -> Path:
        return self.root / "judge.sqlite"

    def responses(self, model_fingerprint: str) -> ResponseStore:
        name = stable_hash(model_fingerprint, 24)
        if name not in self._responses:
            self._responses[name] = ResponseStore(self.root / "responses" / f"{name}.jsonl")
        return self._responses[name]

    def vector_path(self, key: str) -> Path:
        return self.root / "vectors" / f"{key}.safetensors"

    def load_vectors(self, key: str) -> TraitVectors | None:
        """Cached vectors for ``key``; a corrupted entry warns and returns None."""
        path = self.vector_path(key)
        if self.refresh or not path.exists():
            self.vector_misses += 1
            return None
        try:
            vectors = TraitVectors.load(path)
        except VectorFileError as exc:
            warnings.warn(f"{exc}; recomputing", CacheWarning, stacklevel=2)
            self.vector_misses += 1
            return None
        self.vector_hits += 1
        return vectors

    def save_vectors(self, key: str, vectors: TraitVectors, sidecar: Mapping[str, Any]) -> Path:
        """Write vectors and their JSON sidecar (provenance, per-layer report) atomically."""
        path = self.vector_path(key)
        with FileLock(str(path) + ".lock"):
            vectors.save(path)
            write_text(path.with_suffix(".json"),
                       json.dumps({"cache_version": CACHE_VERSION, **sidecar}, indent=2,
                                  default=str))
        return path

    def stats(self) -> dict[str, int]:
        hits = sum(s.hits for s in self._responses.values()) + self.vector_hits
        misses = sum(s.misses for s in self._responses.values()) + self.vector_misses
        return {"hits": hits, "misses": misses}
