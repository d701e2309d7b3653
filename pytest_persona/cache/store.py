"""The on-disk cache under ``--persona-cache``: responses, vectors, judge scores.

Generated responses are JSONL lines, each carrying its own checksum, appended under a file
lock as each batch finishes: an interrupted run keeps every finished batch; a torn or corrupted
line is dropped (the file is rewritten atomically without it, one warning) and recomputed. Vectors are safetensors files with a JSON sidecar,
written atomically. Projections are JSON lists of finite numbers, checked on every read (a
wrong type, length or a NaN warns and is recomputed). Judge scores live in the judges' SQLite
file beside them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from filelock import FileLock

from pytest_persona._util.atomic import write_text
from pytest_persona._util.deprecated import renamed_keyword
from pytest_persona._util.locks import safe_lock
from pytest_persona.core.vectors import TraitVectors, VectorFileError
from pytest_persona.errors import CacheIOError

log = logging.getLogger(__name__)
CACHE_VERSION = 1
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # an entry that is a symlink is never opened


T = TypeVar("T")


class CacheWarning(UserWarning):
    """A cache entry was unreadable and will be recomputed."""


def stable_hash(payload: Any, length: int = 32) -> str:
    """sha256 of a canonical JSON encoding."""
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _line_checksum(key: str, text: str) -> str:
    return hashlib.sha256(f"{key}\0{text}".encode()).hexdigest()[:16]


class ResponseStore:
    """Generated responses for one model, keyed by request key (see generation.request_key).

    Reads and writes happen under the file lock, so a reader never sees a half-written line.
    The first writer of a key wins: a later, different text for the same key is not stored,
    a warning names the key, and the stored text is returned to the caller.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(str(path) + ".lock")
        self._data: dict[str, str] = {}
        self._offset = 0
        self._inode = -1
        self.hits = 0
        self.misses = 0
        self.conflicts = 0

    def _refuse_symlinks(self) -> None:
        """A symlink at the entry or its lock file, dangling or not, is never followed (that
        would read or append outside the cache): it is moved aside with a warning."""
        for path in (self.path, Path(str(self.path) + ".lock")):
            if path.is_symlink():
                try:
                    target = os.readlink(path)
                except OSError:
                    target = "?"
                warnings.warn(f"{path}: a symlink (to {target}) where the cache keeps a plain "
                              "file; not followed, moved aside, responses stored here instead",
                              CacheWarning, stacklevel=4)
                _move_aside(path)

    def _scan(self) -> None:
        """Read lines appended since the last scan (call with the lock held)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW)
        except FileNotFoundError:
            return
        with os.fdopen(fd, "rb") as handle:
            bad = self._read_new(handle)
        if bad:
            self._compact(bad)

    def _read_new(self, handle: BinaryIO) -> int:
        """Take the valid lines after the last offset; return how many were bad."""
        stat = os.fstat(handle.fileno())
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            self._data, self._offset, self._inode = {}, 0, stat.st_ino  # replaced: read it all
        if stat.st_size == self._offset:
            return 0
        good: dict[str, str] = {}
        bad = 0
        handle.seek(self._offset)
        for raw in handle:
            if not raw.endswith(b"\n"):
                bad += 1  # torn: no writer is mid-line while we hold the lock
                continue
            parsed = _parse_line(raw)
            if parsed is None:
                bad += 1
                continue
            good.setdefault(parsed[0], parsed[1])
        self._offset = handle.tell()
        for key, text in good.items():
            self._data.setdefault(key, text)
        return bad

    def _compact(self, bad: int) -> None:
        """Rewrite the file atomically with only its valid lines (lock held), warn once."""
        lines = "".join(_format_line(k, t) for k, t in self._data.items())
        write_text(self.path, lines)
        stat = self.path.stat()
        self._offset, self._inode = stat.st_size, stat.st_ino
        warnings.warn(f"{self.path}: {bad} corrupted line(s) dropped and the file compacted; "
                      "those responses will be regenerated", CacheWarning, stacklevel=4)

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """The cached responses among ``keys``."""
        self._refuse_symlinks()
        if self.path.exists():
            with self._lock:
                self._scan()
        return {k: self._data[k] for k in keys if k in self._data}

    def put_many(self, items: Mapping[str, str]) -> dict[str, str]:
        """Append new responses durably (flush + fsync) under the file lock.

        Returns the stored text of every key: the caller's text, or the first writer's where
        another process stored that key first (a different text warns: a nondeterminism bug).
        """
        if not items:
            return {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._refuse_symlinks()
        with self._lock:
            self._scan()
            fresh = {k: t for k, t in items.items() if k not in self._data}
            clash = [k for k, t in items.items() if k in self._data and self._data[k] != t]
            if fresh:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW,
                             0o666)
                with os.fdopen(fd, "ab") as handle:
                    handle.write("".join(_format_line(k, t) for k, t in fresh.items())
                                 .encode("utf-8"))
                    handle.flush()
                    os.fsync(handle.fileno())
                    stat = os.fstat(handle.fileno())
                self._offset, self._inode = stat.st_size, stat.st_ino
                self._data.update(fresh)
        if clash:
            self.conflicts += len(clash)
            warnings.warn(f"{self.path}: {len(clash)} response(s) differ from the text another "
                          f"writer stored first (e.g. key {clash[0][:16]}); keeping the first. "
                          "Generation is not deterministic here (different device, dtype or "
                          "library version sharing one cache?)", CacheWarning, stacklevel=2)
        return {k: self._data[k] for k in items}


def _format_line(key: str, text: str) -> str:
    return json.dumps({"k": key, "t": text, "c": _line_checksum(key, text)},
                      ensure_ascii=False) + "\n"


def _parse_line(raw: bytes) -> tuple[str, str] | None:
    try:
        entry = json.loads(raw.decode("utf-8"))
        key, text = entry["k"], entry["t"]
        if not isinstance(key, str) or not isinstance(text, str):
            return None
        if entry["c"] != _line_checksum(key, text):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return key, text


def cache_root_problem(root: Path) -> str | None:
    """Why ``root`` cannot be a cache folder (it, or the nearest existing folder above it,
    is a regular file or something else that is not a folder), or None."""
    for path in (root, *root.parents):
        if path.is_dir():
            return None
        if path.exists() or path.is_symlink():
            what = "a regular file" if path.is_file() else "not a folder"
            where = "" if path == root else f" (a parent of {root})"
            return (f"{path}{where} is {what}; the persona cache must be a folder "
                    "(--persona-cache names one, created when missing)")
    return None


class PersonaCache:
    """Content-addressed cache root. ``refresh=True`` ignores reads but still writes."""

    def __init__(self, root: str | Path, refresh: bool = False) -> None:
        self.root = Path(root)
        problem = cache_root_problem(self.root)
        if problem:
            raise CacheIOError(problem)
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

    def load_vectors(self, key: str, *, recheck: bool = False, ignore_refresh: bool = False
                     ) -> TraitVectors | None:
        """Cached vectors for ``key``; a corrupted entry warns, is moved aside, returns None.

        Corrupted means anything :meth:`TraitVectors.load` rejects, a directory in place of
        the file, a sidecar that is missing or not a JSON object, or a main tensor that is
        not a finite floating-point ``[n_layers, d_model]`` matrix agreeing with its metadata.
        ``recheck``: a second look for the same key, after taking its :meth:`computing` lock
        (a miss is not counted twice; a hit turns the first look's miss into a hit).
        ``ignore_refresh``: read even under ``refresh`` (the caller waited for another process
        that wrote the entry during this run).
        """
        path = self.vector_path(key)
        if (self.refresh and not ignore_refresh) or not (path.exists() or path.is_symlink()):
            self.vector_misses += 0 if recheck else 1
            return None
        try:
            vectors = _checked_vectors(path)
        except (VectorFileError, ValueError, TypeError, IndexError, RuntimeError,
                OSError) as exc:
            warnings.warn(f"{path}: corrupt vector cache entry ({exc}); moved aside, "
                          "recomputing", CacheWarning, stacklevel=2)
            _move_aside(path)
            _move_aside(path.with_suffix(".json"))
            self.vector_misses += 0 if recheck else 1
            return None
        if recheck:
            self.vector_misses -= 1  # the first look's miss was answered by another process
        self.vector_hits += 1
        return vectors

    def save_vectors(self, key: str, vectors: TraitVectors, sidecar: Mapping[str, Any]) -> Path:
        """Write vectors and their JSON sidecar (provenance, per-layer report) atomically."""
        path = self.vector_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with safe_lock(path, CacheWarning):
            for target in (path, path.with_suffix(".json")):
                if target.is_dir() and not target.is_symlink():
                    _move_aside(target)  # os.replace cannot put a file over a directory
            vectors.save(path)
            write_text(path.with_suffix(".json"),
                       json.dumps({"cache_version": CACHE_VERSION, **sidecar}, indent=2,
                                  default=str))
        return path

    def computing(self, folder: str, key: str) -> FileLock:
        """The lock one process holds while it computes entry ``key`` of ``folder``: another
        process that needs the same entry (an xdist worker sharing this cache) waits on it,
        then finds the entry written instead of computing it again. Released by the OS if the
        holder dies. Its path differs from the entry's own write lock, which the holder takes
        inside it."""
        path = self.root / folder / f"{key}.computing"
        path.parent.mkdir(parents=True, exist_ok=True)
        return safe_lock(path, CacheWarning)

    def projection_path(self, key: str) -> Path:
        return self.root / "projections" / f"{key}.json"

    def load_projections(self, key: str, n: int) -> list[float] | None:
        """Cached projections for ``key`` (``n`` finite numbers), or None: absent, ``refresh``
        set, or an entry that is not exactly that (it warns, is moved aside, is recomputed)."""
        path = self.projection_path(key)
        if self.refresh or not (path.exists() or path.is_symlink()):
            return None
        try:
            if not path.is_file() or path.is_symlink():
                raise ValueError("not a regular file")
            return check_projection_entry(json.loads(path.read_text(encoding="utf-8")), n)
        except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSON errors included
            warnings.warn(f"{path}: corrupt projection cache entry ({exc}); moved aside, "
                          "recomputing", CacheWarning, stacklevel=2)
            _move_aside(path)
            return None

    def save_projections(self, key: str, values: list[float]) -> Path | None:
        """Write projections atomically; non-finite values are returned but never cached."""
        try:
            check_projection_entry({"values": values}, len(values))
        except ValueError as exc:
            warnings.warn(f"projections {key[:16]}: not cached ({exc})", CacheWarning,
                          stacklevel=2)
            return None
        path = self.projection_path(key)
        write_text(path, json.dumps({"values": [float(v) for v in values]}, allow_nan=False))
        return path

    @renamed_keyword("kind", "folder")
    def record_path(self, folder: str, key: str) -> Path:
        """Where the record ``key`` of ``folder`` (such as ``checks``) lives."""
        return self.root / folder / f"{key}.json"

    @renamed_keyword("kind", "folder")
    def load_record(self, folder: str, key: str) -> dict[str, Any] | None:
        """A cached JSON outcome (``folder``: such as ``checks``), or None when absent,
        unreadable or ``refresh`` is set (a corrupt record is recomputed and overwritten)."""
        path = self.record_path(folder, key)
        if self.refresh or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @renamed_keyword("kind", "folder")
    def load_checked(self, folder: str, key: str, check: Callable[[dict[str, Any]], T],
                     what: str) -> T | None:
        """:meth:`load_record` passed through ``check``; an entry ``check`` rejects (a
        ValueError) warns, naming the file, and reads as absent, so it is measured again."""
        found = self.load_record(folder, key)
        if found is None:
            return None
        try:
            return check(found)
        except ValueError as exc:
            warnings.warn(f"{self.record_path(folder, key)}: corrupt {what} cache entry "
                          f"({exc}); measuring again", CacheWarning,
                          stacklevel=4)  # the caller's caller, past the renamed_keyword frame
            return None

    @renamed_keyword("kind", "folder")
    def save_record(self, folder: str, key: str, payload: Mapping[str, Any]) -> Path:
        """Write a JSON outcome atomically."""
        path = self.record_path(folder, key)
        write_text(path, json.dumps(dict(payload), sort_keys=True))
        return path

    def stats(self) -> dict[str, int]:
        hits = sum(s.hits for s in self._responses.values()) + self.vector_hits
        misses = sum(s.misses for s in self._responses.values()) + self.vector_misses
        return {"hits": hits, "misses": misses}


def check_projection_entry(data: Any, n: int | None) -> list[float]:
    """The values of a projection cache entry ``{"values": [finite numbers]}``, ``n`` of
    them when ``n`` is given; raises ValueError saying what is wrong otherwise."""
    if not isinstance(data, dict):
        raise ValueError(f"entry is a JSON {type(data).__name__}, not an object")
    if "values" not in data:
        raise ValueError("field 'values' is missing")
    values = data["values"]
    if not isinstance(values, list):
        raise ValueError(f"field 'values' is a JSON {type(values).__name__}, not a list")
    if n is not None and len(values) != n:
        raise ValueError(f"field 'values' has {len(values)} entries, expected {n}")
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"field 'values[{i}]' is {value!r}, expected a number")
        if not math.isfinite(value):
            raise ValueError(f"field 'values[{i}]' is {value!r}, expected a finite number")
    return [float(v) for v in values]


def _checked_vectors(path: Path) -> TraitVectors:
    """Load and validate one cached vector entry; raises on anything inconsistent."""
    if not path.is_file():
        raise VectorFileError("not a regular file")
    _check_float_dtypes(path)
    vectors = TraitVectors.load(path)
    sidecar = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    if not isinstance(sidecar, dict):
        raise VectorFileError(f"sidecar is a JSON {type(sidecar).__name__}, not an object")
    if not vectors.all_finite():  # extras have the main shape: TraitVectors checks it
        raise VectorFileError("a tensor holds NaN or infinite values")
    return vectors


FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})


def _check_float_dtypes(path: Path) -> None:
    """Every tensor in the safetensors header is floating point (loading would upcast ints)."""
    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        if not 2 <= size <= 100_000_000:
            raise VectorFileError(f"safetensors header size {size} is implausible")
        header = json.loads(handle.read(size))
    if not isinstance(header, dict):
        raise VectorFileError("safetensors header is not a JSON object")
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info.get("dtype") if isinstance(info, dict) else None
        if dtype not in FLOAT_DTYPES:
            raise VectorFileError(f"tensor {name!r} has dtype {dtype}, expected floating point")


def _move_aside(path: Path) -> None:
    """Rename a corrupt entry to ``<name>.corrupt-<ns>`` (kept for inspection, never read)."""
    if path.exists() or path.is_symlink():
        try:
            os.replace(path, path.with_name(f"{path.name}.corrupt-{time.time_ns()}"))
        except OSError as exc:
            log.warning("could not move aside %s: %s", path, exc)
