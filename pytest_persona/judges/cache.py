"""SQLite cache of judge outcomes.

WAL mode and a busy timeout make it safe for several processes (pytest-xdist workers) at once.
Each outcome is committed as it arrives, so an interrupted run keeps what it has.

What is stored: real scores, and real outcomes that are not scores (a refusal, too little
probability mass on numbers, an unparsable reply) with their reason, so a warm run asks
nothing. Transport failures (429, 5xx, timeouts) never reach the cache.

Faults: a file that is not a SQLite database (SQLITE_NOTADB), is damaged (SQLITE_CORRUPT, a
failed ``PRAGMA quick_check``), or holds a foreign schema is moved aside
(``<name>.corrupt-<ns>``) with a warning and a fresh cache is created. Any other failure to
open it (disk full, I/O error, permissions, a file where the folder belongs) is not damage:
it raises :class:`~pytest_persona.errors.CacheIOError` naming the file and leaves the file
where it is, so no paid score is thrown away. A write that still finds the database locked
(SQLITE_BUSY/SQLITE_LOCKED) after the busy timeout and a few retries, or that fails on a full
disk or an I/O error, is kept in memory (served to readers of this process) and retried on
every later write and at close; one warning names the real cause. A fetched score is never
dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_persona.errors import CacheIOError

TABLE = "judge_outcomes"
COLUMNS = ("key", "judge_id", "model_version", "template_sha256", "score", "reason", "created")
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    key TEXT PRIMARY KEY,
    judge_id TEXT NOT NULL,
    model_version TEXT,
    template_sha256 TEXT NOT NULL,
    score REAL,
    reason TEXT,
    created REAL NOT NULL
)
"""
#: the table of earlier versions (scores only, keyed without the resolved model): ignored
LEGACY_TABLES = {"judge_scores": ("key", "judge_id", "model_version", "template_sha256",
                                  "score", "created")}
WRITE_ATTEMPTS = 3
#: primary SQLite result codes (``exc.sqlite_errorcode & 0xFF``)
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_CORRUPT, SQLITE_NOTADB = 5, 6, 11, 26
_DAMAGE_CODES = frozenset({SQLITE_CORRUPT, SQLITE_NOTADB})
_LOCK_CODES = frozenset({SQLITE_BUSY, SQLITE_LOCKED})


class JudgeCacheWarning(UserWarning):
    """The judge cache was unusable (moved aside) or a write had to be deferred."""


@dataclass(frozen=True)
class CachedOutcome:
    """One cached judge outcome: a score, or no score with the reason."""

    score: float | None
    reason: str | None = None


#: the fields of a judge cache key, in order (tests derive one variation per field from this)
KEY_FIELDS = ("judge_id", "resolved_model", "template_sha256", "question", "answer", "params")


def cache_key(
    judge_id: str,
    resolved_model: str,
    template_sha256: str,
    question: str,
    answer: str,
    params: dict[str, Any],
) -> str:
    """sha256 over everything that can change an outcome.

    ``resolved_model`` is the dated model name the provider answers with (for a dated
    snapshot, the requested name), so an alias that moves to a new model misses the cache.
    """
    payload = json.dumps(
        [judge_id, resolved_model, template_sha256, question, answer, params],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgeCache:
    def __init__(self, path: str | Path, busy_timeout_ms: int = 60_000):
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[Any, ...]] = {}
        self._warned_pending = False
        self._deferring = False  # while locked out: short waits, one attempt per write
        self._last_failure = "the database stayed locked past its timeout"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheIOError(f"{self.path}: cannot create the cache folder "
                               f"{self.path.parent} ({exc}); is a regular file in the way? "
                               "(--persona-cache must name a folder)") from exc
        try:
            self._conn = self._open_checked()
        except _Damaged as exc:
            self._move_aside(exc)
            self._conn = self._open_checked(fresh=True)

    # -- opening ------------------------------------------------------------------------------
    def _open_checked(self, fresh: bool = False) -> sqlite3.Connection:
        """Open, telling damage (:class:`_Damaged`) from every other fault (CacheIOError)."""
        try:
            return self._open()
        except _Damaged:
            if fresh:
                raise CacheIOError(f"{self.path}: a freshly created judge cache is unusable"
                                   ) from None
            raise
        except sqlite3.DatabaseError as exc:
            if is_damage(exc) and not fresh:
                raise _Damaged(str(exc)) from exc
            raise CacheIOError(_io_message(self.path, exc)) from exc
        except OSError as exc:
            raise CacheIOError(_io_message(self.path, exc)) from exc

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_ms / 1000,
                               check_same_thread=False, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            _check_schema(conn)
            conn.execute(SCHEMA)
            ok = conn.execute("PRAGMA quick_check").fetchone()
            if ok is None or ok[0] != "ok":
                raise _Damaged(f"integrity check failed: {ok}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _move_aside(self, exc: BaseException) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.time_ns()}")
        for suffix in ("-wal", "-shm"):
            side = Path(str(self.path) + suffix)
            if side.exists():
                os.replace(side, Path(str(aside) + suffix))
        if self.path.exists():
            os.replace(self.path, aside)
        warnings.warn(f"{self.path}: judge cache unusable ({exc}); moved aside to {aside.name} "
                      "and starting a fresh one (scores will be fetched again)",
                      JudgeCacheWarning, stacklevel=3)

    # -- reading ------------------------------------------------------------------------------
    def get(self, key: str) -> float | None:
        """The cached score for ``key`` (None for a miss or a cached non-score outcome)."""
        found = self.get_outcome(key)
        return None if found is None else found.score

    def get_outcome(self, key: str) -> CachedOutcome | None:
        """The cached outcome for ``key``, or None on a miss."""
        row = self.get_row(key)
        if row is None:
            return None
        return CachedOutcome(None if row["score"] is None else float(row["score"]), row["reason"])

    def get_row(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            if key in self._pending:
                return dict(zip(COLUMNS, self._pending[key]))
            try:
                row = self._conn.execute(
                    f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE key = ?", (key,)
                ).fetchone()
            except sqlite3.OperationalError:  # locked past the timeout: a miss, not a crash
                return None
        return None if row is None else dict(zip(COLUMNS, row))

    # -- writing ------------------------------------------------------------------------------
    def put(
        self, key: str, judge_id: str, template_sha256: str, score: float | None,
        model_version: str | None = None, reason: str | None = None,
    ) -> None:
        """Store an outcome: a score, or ``score=None`` with the reason it is not one."""
        if score is None and not reason:
            raise ValueError("a cached outcome without a score needs its reason")
        if score is not None and not math.isfinite(score):
            raise ValueError(f"a cached score must be finite, got {score!r}")
        row = (key, judge_id, model_version, template_sha256,
               None if score is None else float(score), reason, time.time())
        with self._lock:
            self._pending[key] = row
            self._flush_locked()

    def _set_timeout(self, ms: int) -> None:
        self._conn.execute(f"PRAGMA busy_timeout={int(ms)}")

    def _flush_locked(self, final: bool = False) -> bool:
        """Write every pending row; True when none is left (call with ``self._lock``)."""
        if not self._pending:
            return True
        rows = list(self._pending.values())
        attempts = WRITE_ATTEMPTS if final or not self._deferring else 1
        if self._deferring and final:
            self._set_timeout(self.busy_timeout_ms)
        for attempt in range(attempts):
            try:
                self._conn.executemany(
                    f"INSERT OR REPLACE INTO {TABLE} ({', '.join(COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(COLUMNS))})", rows)
            except sqlite3.DatabaseError as exc:
                self._last_failure = write_failure(exc)
                if not is_locked(exc):
                    break  # disk full, I/O error: waiting does not help, a later write may
                time.sleep(0.05 * (attempt + 1))
                continue
            for row in rows:
                if self._pending.get(row[0]) is row:
                    del self._pending[row[0]]
            if self._deferring:
                self._deferring = False
                self._set_timeout(self.busy_timeout_ms)
            return not self._pending
        if not self._deferring:
            self._deferring = True
            self._set_timeout(min(self.busy_timeout_ms, 200))
        if not self._warned_pending:
            self._warned_pending = True
            warnings.warn(f"{self.path}: judge cache write failed ({self._last_failure}); "
                          f"{len(self._pending)} fetched outcome(s) kept in memory and retried "
                          "on later writes and at close", JudgeCacheWarning, stacklevel=4)
        return False

    @property
    def pending(self) -> int:
        """Outcomes fetched but not yet written (the database was locked)."""
        return len(self._pending)

    def __len__(self) -> int:
        with self._lock:
            stored = int(self._conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])
            return stored + len(self._pending)

    def close(self) -> None:
        with self._lock:
            if not self._flush_locked(final=True):
                warnings.warn(f"{self.path}: {len(self._pending)} judge outcome(s) could not be "
                              f"written ({self._last_failure}); they will be fetched again "
                              "next run", JudgeCacheWarning, stacklevel=3)
            try:
                self._conn.close()
            except sqlite3.Error:
                pass


class _Damaged(Exception):
    """The file is not a usable judge cache: not a database, damaged, or a foreign schema."""


class _ForeignSchema(_Damaged):
    """The file is a SQLite database, but not one this cache wrote."""


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says the file itself is damaged or not a database (move it aside)."""
    return _primary_code(exc) in _DAMAGE_CODES


def is_locked(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says another connection holds the database (worth waiting for)."""
    return _primary_code(exc) in _LOCK_CODES


def write_failure(exc: sqlite3.Error) -> str:
    """What a failed write reports: locked, or the real cause (disk full, I/O error)."""
    if is_locked(exc):
        return "the database stayed locked past its timeout"
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    return f"{exc} [{name}]: disk full or I/O error, not a lock"


def _io_message(path: Path, exc: BaseException) -> str:
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    return (f"{path}: the judge cache cannot be opened ({exc} [{name}]). This is not damage "
            "to the file, which is left where it is with every score in it; free disk space "
            "or fix the permissions and run again")


def _check_schema(conn: sqlite3.Connection) -> None:
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    expected = {TABLE: COLUMNS, **LEGACY_TABLES}
    for name in tables:
        if name not in expected:
            raise _ForeignSchema(f"foreign table {name!r}")
        columns = tuple(r[1] for r in conn.execute(f"PRAGMA table_info({name})"))
        if columns != expected[name]:
            raise _ForeignSchema(f"table {name!r} has columns {list(columns)}, expected "
                                 f"{list(expected[name])}")
