"""The SQLite judge cache across processes (as with pytest-xdist workers)."""

from __future__ import annotations

import subprocess
import sys

from pytest_persona.judges.cache import JudgeCache, cache_key

_WRITER = """
import sys
from pytest_persona.judges.cache import JudgeCache
c = JudgeCache(sys.argv[1])
for i in range(50):
    c.put(f"{sys.argv[2]}-{i}", "judge", "t", float(i), "v1")
c.close()
"""


def test_concurrent_processes_share_cache(tmp_path) -> None:
    path = tmp_path / "cache.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), f"w{k}"])
             for k in range(4)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    cache = JudgeCache(path)
    assert len(cache) == 200
    assert cache.get("w3-49") == 49.0
    row = cache.get_row("w0-1")
    assert row is not None and row["model_version"] == "v1"
    mode = cache._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode.lower() == "wal"


def test_cache_key_covers_inputs() -> None:
    k = cache_key("j", "m", "t", "q", "a", {"p": 1})
    for changed in [cache_key("j2", "m", "t", "q", "a", {"p": 1}),
                    cache_key("j", "m2", "t", "q", "a", {"p": 1}),
                    cache_key("j", "m", "t2", "q", "a", {"p": 1}),
                    cache_key("j", "m", "t", "q2", "a", {"p": 1}),
                    cache_key("j", "m", "t", "q", "a2", {"p": 1}),
                    cache_key("j", "m", "t", "q", "a", {"p": 2})]:
        assert changed != k


# -- faults (issue 13.7) -------------------------------------------------------------------------
import sqlite3  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from pytest_persona.judges.cache import KEY_FIELDS, JudgeCacheWarning  # noqa: E402


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database at all\x00" * 200)


def _truncated(path: Path) -> None:
    cache = JudgeCache(path)
    for i in range(300):
        cache.put(f"k{i}", "j", "t", float(i))
    cache.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    conn.commit()
    conn.close()


def _wrong_columns(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE judge_outcomes (key TEXT, value BLOB)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("damage", [_garbage, _truncated, _foreign, _wrong_columns])
def test_unusable_cache_is_moved_aside_and_recreated(tmp_path: Path, damage) -> None:
    """Regression: these gave hundreds of traceback lines per item."""
    path = tmp_path / "judge.sqlite"
    damage(path)
    with pytest.warns(JudgeCacheWarning, match="moved aside"):
        cache = JudgeCache(path)
    cache.put("k", "j", "t", 42.0)
    assert cache.get("k") == 42.0 and len(cache) == 1
    cache.close()
    assert any(p.name.startswith("judge.sqlite.corrupt-") for p in tmp_path.iterdir())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert JudgeCache(path).get("k") == 42.0  # the fresh cache opens quietly


def test_legacy_table_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "judge.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE judge_scores (key TEXT PRIMARY KEY, judge_id TEXT NOT NULL, "
                 "model_version TEXT, template_sha256 TEXT NOT NULL, score REAL NOT NULL, "
                 "created REAL NOT NULL)")
    conn.commit()
    conn.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        JudgeCache(path).put("k", "j", "t", 1.0)


def test_lock_held_past_the_timeout_keeps_the_score(tmp_path: Path) -> None:
    """Regression: a score already paid for was lost when the write timed out."""
    path = tmp_path / "judge.sqlite"
    cache = JudgeCache(path, busy_timeout_ms=50)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.warns(JudgeCacheWarning, match="kept in memory"):
        cache.put("paid", "j", "t", 77.0, "v1")
    assert cache.pending == 1 and cache.get("paid") == 77.0  # still served in this process
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, not per write
        cache.put("second", "j", "t", 5.0)
    assert cache.pending == 2
    holder.execute("COMMIT")
    cache.put("third", "j", "t", 6.0)  # the next write flushes everything
    assert cache.pending == 0
    holder.close()
    cache.close()
    fresh = JudgeCache(path)
    assert fresh.get("paid") == 77.0 and fresh.get("second") == 5.0 and len(fresh) == 3


def test_lock_still_held_at_close_warns(tmp_path: Path) -> None:
    path = tmp_path / "judge.sqlite"
    cache = JudgeCache(path, busy_timeout_ms=20)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.warns(JudgeCacheWarning):
        cache.put("paid", "j", "t", 1.0)
    with pytest.warns(JudgeCacheWarning, match="could not be written"):
        cache.close()
    holder.execute("ROLLBACK")
    holder.close()


def test_non_score_outcome_round_trips_and_needs_a_reason(tmp_path: Path) -> None:
    cache = JudgeCache(tmp_path / "c.sqlite")
    cache.put("r", "j", "t", None, "v1", reason="refusal")
    found = cache.get_outcome("r")
    assert found is not None and found.score is None and found.reason == "refusal"
    assert cache.get("r") is None and cache.get_outcome("missing") is None
    with pytest.raises(ValueError, match="needs its reason"):
        cache.put("x", "j", "t", None)


def test_key_fields_match_the_signature() -> None:
    import inspect

    assert tuple(inspect.signature(cache_key).parameters) == KEY_FIELDS
