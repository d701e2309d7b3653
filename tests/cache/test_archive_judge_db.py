"""Issue 25 items 3 and 4: the judge database inside a cache archive.

Import takes only the judge cache's own table, named by the code; a foreign table, a quote in a
table name, a foreign column type or a badly typed row refuses the whole archive before anything
touches the target. Export never follows a ``judge.sqlite`` symlink."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tarfile
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_persona.cache.archive import ArchiveError, export_cache, import_cache
from pytest_persona.judges.cache import SCHEMA, JudgeCache


def archive_of(path: Path, members: dict[str, bytes]) -> Path:
    """A well-formed archive (manifest with true sha256 and sizes) holding ``members``."""
    manifest = {"format": "pytest-persona-cache", "version": 1,
                "members": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                            for name, data in members.items()}}
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _db(tmp: Path, build: Callable[[sqlite3.Connection], None]) -> bytes:
    path = tmp / f"build-{len(list(tmp.glob('build-*')))}.sqlite"
    conn = sqlite3.connect(path)
    build(conn)
    conn.commit()
    conn.close()
    return path.read_bytes()


def _good_rows(conn: sqlite3.Connection) -> None:
    conn.execute(SCHEMA)
    conn.execute("INSERT INTO judge_outcomes VALUES ('a1', 'offline', NULL, 't', 40.0, NULL, 1.0)")
    conn.execute("INSERT INTO judge_outcomes VALUES ('a2', 'offline', NULL, 't', NULL, "
                 "'refusal: mass 0.1', 1.0)")


def _foreign_table(conn: sqlite3.Connection) -> None:
    _good_rows(conn)
    conn.execute("CREATE TABLE users (id INTEGER, password TEXT)")
    conn.execute("INSERT INTO users VALUES (1, 'hunter2')")


def _quoted_name(conn: sqlite3.Connection) -> None:
    _good_rows(conn)
    conn.execute('CREATE TABLE "x""; DROP TABLE judge_outcomes; --" (a TEXT)')


def _trigger(conn: sqlite3.Connection) -> None:
    _good_rows(conn)
    conn.execute("CREATE TRIGGER t AFTER INSERT ON judge_outcomes BEGIN "
                 "DELETE FROM judge_outcomes; END")


def _view(conn: sqlite3.Connection) -> None:
    _good_rows(conn)
    conn.execute("CREATE VIEW v AS SELECT key FROM judge_outcomes")


def _foreign_types(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE judge_outcomes (key TEXT PRIMARY KEY, judge_id TEXT NOT NULL, "
                 "model_version TEXT, template_sha256 TEXT NOT NULL, score BLOB, reason TEXT, "
                 "created REAL NOT NULL)")


def _row(values: str) -> Callable[[sqlite3.Connection], None]:
    def build(conn: sqlite3.Connection) -> None:
        _good_rows(conn)
        conn.execute(f"INSERT INTO judge_outcomes VALUES ({values})")
    return build


HOSTILE = {
    "foreign table": (_foreign_table, "foreign table 'users'"),
    "quote in a table name": (_quoted_name, "foreign table"),
    "trigger": (_trigger, "foreign trigger"),
    "view": (_view, "foreign view"),
    "foreign column type": (_foreign_types, "has columns"),
    "text score": (_row("'b1', 'offline', NULL, 't', 'high', NULL, 1.0"), "field 'score'"),
    "infinite score": (_row("'b1', 'offline', NULL, 't', 9e999, NULL, 1.0"), "field 'score'"),
    "null score without reason": (_row("'b1', 'offline', NULL, 't', NULL, NULL, 1.0"),
                                  "without a reason"),
    "blob key": (_row("x'00ff', 'offline', NULL, 't', 1.0, NULL, 1.0"), "field 'key'"),
}


def _snapshot(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    conn = sqlite3.connect(path)
    try:
        return {"master": sorted(conn.execute("SELECT type, name FROM sqlite_master")),
                "rows": sorted(conn.execute("SELECT key, score FROM judge_outcomes"))}
    finally:
        conn.close()


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("target", ["empty", "existing"])
def test_hostile_judge_db_is_refused_before_the_target_is_touched(tmp_path: Path, case: str,
                                                                  target: str) -> None:
    build, message = HOSTILE[case]
    arc = archive_of(tmp_path / "evil.tar.gz", {"judge.sqlite": _db(tmp_path, build)})
    dst = tmp_path / "dst"
    if target == "existing":
        local = JudgeCache(dst / "judge.sqlite")
        local.put("mine", "offline", "t", 12.0)
        local.close()
    before = _snapshot(dst / "judge.sqlite")
    with pytest.raises(ArchiveError, match=message):
        import_cache(arc, dst)
    assert _snapshot(dst / "judge.sqlite") == before
    if target == "empty":
        assert not dst.exists()


def test_only_the_known_table_is_imported_and_the_next_run_is_quiet(tmp_path: Path) -> None:
    def with_legacy(conn: sqlite3.Connection) -> None:
        _good_rows(conn)
        conn.execute("CREATE TABLE judge_scores (key TEXT PRIMARY KEY, judge_id TEXT NOT NULL, "
                     "model_version TEXT, template_sha256 TEXT NOT NULL, score REAL NOT NULL, "
                     "created REAL NOT NULL)")
        conn.execute("INSERT INTO judge_scores VALUES ('old', 'j', NULL, 't', 3.0, 1.0)")

    arc = archive_of(tmp_path / "a.tar.gz", {"judge.sqlite": _db(tmp_path, with_legacy)})
    for dst in (tmp_path / "empty", tmp_path / "existing"):
        if dst.name == "existing":
            JudgeCache(dst / "judge.sqlite").close()
        summary = import_cache(arc, dst)
        assert summary.added == {"judge scores": 2}
        tables = {n for (n,) in sqlite3.connect(dst / "judge.sqlite").execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"judge_outcomes"}
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # not moved aside as foreign
            cache = JudgeCache(dst / "judge.sqlite")
        assert cache.get("a1") == 40.0
        outcome = cache.get_outcome("a2")
        assert outcome is not None and outcome.reason == "refusal: mass 0.1"
        cache.close()


def test_export_skips_a_judge_db_symlink(tmp_path: Path) -> None:
    elsewhere = tmp_path / "secrets.sqlite"
    conn = sqlite3.connect(elsewhere)
    conn.execute("CREATE TABLE accounts (user TEXT, token TEXT)")
    conn.execute("INSERT INTO accounts VALUES ('root', 'sk-live-123')")
    conn.commit()
    conn.close()
    src = tmp_path / "src"
    (src / "projections").mkdir(parents=True)
    (src / "judge.sqlite").symlink_to(elsewhere)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "p.json").write_text('{"values": [1.0]}')
    (src / "vectors").symlink_to(outside)
    summary = export_cache(src, tmp_path / "out.tar.gz")
    with tarfile.open(tmp_path / "out.tar.gz") as tar:
        names = tar.getnames()
        blob = b"".join(tar.extractfile(m).read() for m in tar if m.isfile())  # type: ignore[union-attr]
    assert "judge.sqlite" not in names and not any(n.startswith("vectors/") for n in names)
    assert b"sk-live-123" not in blob
    assert summary.skipped == ["vectors/", "judge.sqlite"]
    assert "skipped 2 symlink(s)" in summary.text()
