"""Issue 25 item 2: a full disk or an I/O error is not damage. The judge cache must stay where it
is with every paid score in it, the run must stop with a message naming the file, and a write
that fails on a full disk must say so (not "database locked")."""

from __future__ import annotations

import hashlib
import sqlite3
import warnings
from pathlib import Path

import pytest

from pytest_persona.errors import CacheIOError, PersonaError
from pytest_persona.judges import cache as cache_mod
from pytest_persona.judges.cache import JudgeCache, JudgeCacheWarning
from tests.cache.tmpfs import fill, small_tmpfs


def _paid(path: Path, n: int = 20) -> None:
    cache = JudgeCache(path)
    for i in range(n):
        cache.put(f"k{i}", "openai:gpt-4.1-mini", "t" * 64, float(i))
    cache.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_full_disk_at_open_keeps_the_cache_and_names_the_file(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "mnt") as mnt:
        path = mnt / "judge.sqlite"
        _paid(path)
        before = _digest(path)
        filler = fill(mnt)
        with pytest.raises(CacheIOError) as caught:
            JudgeCache(path)
        message = str(caught.value)
        assert str(path) in message and "not damage" in message
        assert isinstance(caught.value, PersonaError) and isinstance(caught.value, OSError)
        assert not [p for p in mnt.iterdir() if ".corrupt-" in p.name]  # nothing moved aside
        assert _digest(path) == before
        filler.unlink()  # space again: every paid score is still there
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cache = JudgeCache(path)
        assert len(cache) == 20 and cache.get("k19") == 19.0
        cache.close()


def test_full_disk_at_write_says_disk_full_and_keeps_the_score(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "mnt") as mnt:
        path = mnt / "judge.sqlite"
        _paid(path, 2)
        cache = JudgeCache(path, busy_timeout_ms=50)
        filler = fill(mnt)
        with pytest.warns(JudgeCacheWarning) as record:
            for i in range(40):  # the WAL has some slack: write until a page is refused
                cache.put(f"new{i}", "j", "t", 50.0)
                if cache.pending:
                    break
        text = " ".join(str(w.message) for w in record)
        assert "locked" not in text.replace("not a lock", "")
        assert "full" in text or "I/O" in text
        assert cache.pending >= 1 and cache.get(f"new{i}") == 50.0  # served from memory
        filler.unlink()
        cache.close()  # retried at close, now with space
        reopened = JudgeCache(path)
        assert reopened.get(f"new{i}") == 50.0 and reopened.get("k1") == 1.0
        reopened.close()


def _raise_at_open(code: int, message: str):
    def fake_open(self: JudgeCache) -> sqlite3.Connection:
        exc = sqlite3.OperationalError(message)
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
        exc.sqlite_errorname = "SQLITE_TEST"  # type: ignore[attr-defined]
        raise exc
    return fake_open


@pytest.mark.parametrize("code,message", [(10, "disk I/O error"), (13, "database or disk is full"),
                                          (14, "unable to open database file"),
                                          (3, "access permission denied")])
def test_io_errors_at_open_raise_and_move_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  code: int, message: str) -> None:
    """Without root: the same classification, by SQLite result code."""
    path = tmp_path / "judge.sqlite"
    _paid(path)
    before = _digest(path)
    monkeypatch.setattr(JudgeCache, "_open", _raise_at_open(code, message))
    with pytest.raises(CacheIOError, match="judge.sqlite"):
        JudgeCache(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["judge.sqlite"]
    assert _digest(path) == before


@pytest.mark.parametrize("code", [11, 26])
def test_damage_codes_still_move_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       code: int) -> None:
    path = tmp_path / "judge.sqlite"
    _paid(path)
    real_open = JudgeCache._open
    calls: list[int] = []

    def first_fails(self: JudgeCache) -> sqlite3.Connection:
        calls.append(1)
        if len(calls) == 1:
            _raise_at_open(code, "database disk image is malformed")(self)
        return real_open(self)

    monkeypatch.setattr(JudgeCache, "_open", first_fails)
    with pytest.warns(JudgeCacheWarning, match="moved aside"):
        cache = JudgeCache(path)
    cache.close()
    assert any(".corrupt-" in p.name for p in tmp_path.iterdir())


def test_write_failure_wording() -> None:
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5  # type: ignore[attr-defined]
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]
    assert "locked" in cache_mod.write_failure(locked)
    assert "disk full" in cache_mod.write_failure(full)
    assert "locked past" not in cache_mod.write_failure(full)


def test_cache_folder_that_is_a_file_is_a_cache_error(tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("not a folder")
    with pytest.raises(CacheIOError, match="cache"):
        JudgeCache(tmp_path / "cache" / "judge.sqlite")
