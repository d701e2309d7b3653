"""Check and merge a judge-cache SQLite file that came from elsewhere (a cache archive).

Nothing in the incoming file chooses what is read or written: the only table imported is the
judge cache's own (:data:`~pytest_persona.judges.cache.TABLE`, named by this code, never taken
from the file), and the file is refused as a whole when it holds any other object (a foreign
table, a view, a trigger, an index of its own), when its table's columns or declared types
differ from the schema this version creates, or when any row holds a value of the wrong type
(a non-finite score, a score without a reason, a key that is not text).
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from pytest_persona.judges.cache import COLUMNS, LEGACY_TABLES, SCHEMA, TABLE, JudgeCache

_COLS = ", ".join(COLUMNS)


class SnapshotError(ValueError):
    """The incoming judge database is not one this version wrote (the message says why)."""


def _table_info(conn: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    # (name, declared type, not null, primary key): what makes two schemas the same
    return [(r[1], str(r[2]).upper(), r[3], r[5])
            for r in conn.execute(f"PRAGMA table_info({table})")]


def _expected_info() -> list[tuple[object, ...]]:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(SCHEMA)
        return _table_info(conn, TABLE)
    finally:
        conn.close()


def _check_objects(conn: sqlite3.Connection) -> None:
    allowed = {TABLE, *LEGACY_TABLES}
    for kind, name, table in conn.execute("SELECT type, name, tbl_name FROM sqlite_master"):
        if kind == "table" and name in allowed:
            continue
        if kind == "index" and str(name).startswith("sqlite_autoindex_") and table in allowed:
            continue  # the PRIMARY KEY's own index
        raise SnapshotError(f"holds a foreign {kind} {name!r}; only the table {TABLE!r} "
                            "is imported, so the whole file is refused")
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if TABLE in names:
        info, want = _table_info(conn, TABLE), _expected_info()
        if info != want:
            raise SnapshotError(f"table {TABLE!r} has columns {info}, expected {want} "
                                "(name, type, not null, primary key)")
    for legacy, columns in LEGACY_TABLES.items():
        if legacy in names:
            found = tuple(r[0] for r in _table_info(conn, legacy))
            if found != columns:
                raise SnapshotError(f"legacy table {legacy!r} has columns {list(found)}, "
                                    f"expected {list(columns)}")


def _row_problem(row: tuple[object, ...]) -> str | None:
    key, judge_id, model_version, template, score, reason, created = row
    for name, value in (("key", key), ("judge_id", judge_id), ("template_sha256", template)):
        if not isinstance(value, str) or not value:
            return f"field {name!r} is {value!r}, expected non-empty text"
    for name, value in (("model_version", model_version), ("reason", reason)):
        if value is not None and not isinstance(value, str):
            return f"field {name!r} is {type(value).__name__}, expected text or NULL"
    if score is None:
        if not reason:
            return "field 'score' is NULL without a reason"
    elif not isinstance(score, (int, float)) or not math.isfinite(score):
        return f"field 'score' is {score!r}, expected a finite number or NULL"
    if not isinstance(created, (int, float)) or not math.isfinite(created):
        return f"field 'created' is {created!r}, expected a finite number"
    return None


def check_snapshot(path: Path) -> int:
    """Validate the judge database at ``path`` (read only); return its number of outcomes."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SnapshotError(f"is not a SQLite database ({exc})") from exc
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()
        if not ok or ok[0] != "ok":
            raise SnapshotError(f"fails SQLite's integrity check ({ok})")
        _check_objects(conn)
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                            (TABLE,)).fetchone():
            return 0
        count = 0
        for count, row in enumerate(conn.execute(f"SELECT {_COLS} FROM {TABLE}"), start=1):
            problem = _row_problem(row)
            if problem:
                raise SnapshotError(f"row {count} of {TABLE!r} (key {str(row[0])[:16]!r}): "
                                    f"{problem}")
        return count
    except sqlite3.Error as exc:
        raise SnapshotError(f"is not a readable SQLite database ({exc})") from exc
    finally:
        conn.close()


def merge_snapshot(staged: Path, target: Path) -> tuple[int, int]:
    """Add the outcomes of ``staged`` (already checked) that ``target`` lacks; never
    overwrite. Returns (added, kept)."""
    JudgeCache(target).close()  # the local schema, created or checked by the cache itself
    conn = sqlite3.connect(str(target), timeout=60, isolation_level=None, uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=60000")
        conn.execute("ATTACH DATABASE ? AS incoming", (f"file:{staged}?mode=ro",))
        has = conn.execute("SELECT 1 FROM incoming.sqlite_master WHERE type='table' AND name=?",
                           (TABLE,)).fetchone()
        if not has:
            return 0, 0
        conn.execute("BEGIN IMMEDIATE")
        before = conn.total_changes
        conn.execute(f"INSERT OR IGNORE INTO main.{TABLE} ({_COLS}) "
                     f"SELECT {_COLS} FROM incoming.{TABLE}")
        added = conn.total_changes - before
        total = int(conn.execute(f"SELECT COUNT(*) FROM incoming.{TABLE}").fetchone()[0])
        conn.execute("COMMIT")
    finally:
        conn.close()
    return added, total - added
