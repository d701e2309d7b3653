"""Move a persona cache between hosts: ``persona cache export`` / ``persona cache import``.

The archive is a ``.tar.gz`` holding ``manifest.json`` (format, version, sha256 and size of every
member) and the cache's own files under their keys: ``responses/*.jsonl``, ``vectors/*``
(safetensors + JSON sidecar), ``projections/*.json`` and ``judge.sqlite`` (a consistent SQLite
snapshot). Export reads plain files only: a symlink (``judge.sqlite`` included) is skipped and
named in the summary, never followed. Import checks everything before it writes anything: only
plain files at known, relative paths (no links, no absolute paths, no ``..``), each member's
sha256 and size against the manifest, vectors readable, the judge database intact and holding
nothing but the judge cache's own schema and well-typed rows (see :mod:`.judge_snapshot`). It
then merges: entries the local cache lacks are added, existing entries are never overwritten.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from pytest_persona._util.atomic import write_with
from pytest_persona.cache.archive_stage import (
    FORMAT,
    JUDGE_DB,
    LAYOUT,
    MANIFEST,
    VERSION,
    Limits,
    stage_archive,
)
from pytest_persona.cache.judge_snapshot import SnapshotError, check_snapshot, merge_snapshot
from pytest_persona.cache.store import (
    ResponseStore,
    _checked_vectors,
    _line_checksum,
    check_projection_entry,
)
from pytest_persona.errors import ArchiveError as ArchiveError


@dataclass
class ArchiveSummary:
    """What an export wrote or an import added/kept, per kind of entry."""

    added: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    #: entries left out of an export because they are symlinks (never followed)
    skipped: list[str] = field(default_factory=list)

    def count(self, bucket: dict[str, int], kind: str, n: int = 1) -> None:
        bucket[kind] = bucket.get(kind, 0) + n

    def text(self) -> str:
        kinds = sorted(set(self.added) | set(self.kept))
        parts = [f"{kind}: {self.added.get(kind, 0)} added, {self.kept.get(kind, 0)} kept"
                 for kind in kinds]
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)} symlink(s), not followed: "
                         + ", ".join(self.skipped[:5]) + (" ..." if len(self.skipped) > 5 else ""))
        return "; ".join(parts) or "nothing"


def _kind(name: str) -> str:
    return "judge scores" if name == JUDGE_DB else name.split("/", 1)[0]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _complete_lines(data: bytes) -> bytes:
    """Drop a torn last line (a writer may be appending right now)."""
    end = data.rfind(b"\n")
    return data[:end + 1] if end >= 0 else b""


def _snapshot_sqlite(path: Path) -> bytes:
    """A consistent copy of a live SQLite database (WAL contents included)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "snapshot.sqlite"
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        dst = sqlite3.connect(str(copy))
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        return copy.read_bytes()


def _collect(root: Path, skipped: list[str]) -> dict[str, bytes]:
    """The cache's own files: plain files only (a symlink, whatever it points to, is listed
    in ``skipped`` and never read)."""
    members: dict[str, bytes] = {}
    for sub, patterns in (("responses", ("*.jsonl",)), ("vectors", ("*.safetensors", "*.json")),
                          ("projections", ("*.json",))):
        if (root / sub).is_symlink():
            skipped.append(f"{sub}/")
            continue
        for pattern in patterns:
            for path in sorted((root / sub).glob(pattern)):
                name = f"{sub}/{path.name}"
                if path.is_symlink():
                    skipped.append(name)
                elif path.is_file() and LAYOUT.match(name):
                    data = path.read_bytes()
                    members[name] = _complete_lines(data) if sub == "responses" else data
    judge = root / JUDGE_DB
    if judge.is_symlink():
        skipped.append(JUDGE_DB)
    elif judge.is_file():
        members[JUDGE_DB] = _snapshot_sqlite(judge)
    return members


def export_cache(root: str | Path, out: str | Path) -> ArchiveSummary:
    """Write the cache under ``root`` to the archive ``out`` (atomically)."""
    source = Path(root)
    if not source.is_dir():
        raise ArchiveError(f"{source}: no persona cache there (not a directory)")
    skipped: list[str] = []
    members = _collect(source, skipped)
    manifest = {
        "format": FORMAT, "version": VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                        time.gmtime()),
        "members": {name: {"sha256": _sha256(data), "size": len(data)}
                    for name, data in sorted(members.items())},
    }

    def write(tmp: Path) -> None:
        with tarfile.open(tmp, "w:gz") as tar:
            for name, data in [(MANIFEST, json.dumps(manifest, indent=2).encode()),
                               *sorted(members.items())]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = int(time.time())
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))

    write_with(out, write)
    summary = ArchiveSummary(skipped=skipped)
    for name in members:
        summary.count(summary.added, _kind(name))
    return summary


# -- import ------------------------------------------------------------------------------------
def _validate_contents(archive: Path, staged: Path, names: list[str]) -> None:
    from pytest_persona.core.vectors import VectorFileError

    for name in names:
        path = staged / name
        if name.endswith(".safetensors"):
            try:
                _checked_vectors(path)  # float dtypes, finite, shape, sidecar an object
            except (VectorFileError, ValueError, TypeError, IndexError, RuntimeError,
                    OSError) as exc:
                raise ArchiveError(f"{archive}: member {name!r} is not a valid vector "
                                   f"file ({exc}); nothing was imported") from exc
        elif name.endswith(".json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ArchiveError(f"{archive}: member {name!r} is not valid JSON") from exc
            try:
                if name.startswith("projections/"):
                    check_projection_entry(data, None)
                elif not isinstance(data, dict):
                    raise ValueError(f"is a JSON {type(data).__name__}, not an object")
            except ValueError as exc:
                raise ArchiveError(f"{archive}: member {name!r}: {exc}; nothing was "
                                   "imported") from exc
        elif name == JUDGE_DB:
            try:
                check_snapshot(path)
            except SnapshotError as exc:
                raise ArchiveError(f"{archive}: member {name!r} {exc}; nothing was "
                                   "imported") from exc


def _read_responses(path: Path) -> dict[str, str]:
    """The entries of a responses JSONL whose line checksum holds."""
    entries: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
            key, text = entry["k"], entry["t"]
            if entry["c"] == _line_checksum(key, text):
                entries[key] = text
        except (ValueError, KeyError, TypeError):
            continue
    return entries


def _merge_responses(staged: Path, target: Path, summary: ArchiveSummary) -> None:
    entries = _read_responses(staged)
    local = ResponseStore(target)
    have = local.get_many(entries)
    new = {k: v for k, v in entries.items() if k not in have}
    local.put_many(new)
    summary.count(summary.added, "responses", len(new))
    summary.count(summary.kept, "responses", len(have))


def _merge_judge(staged: Path, target: Path, summary: ArchiveSummary) -> None:
    added, kept = merge_snapshot(staged, target)
    summary.count(summary.added, "judge scores", added)
    summary.count(summary.kept, "judge scores", kept)


def import_cache(archive: str | Path, root: str | Path, limits: Limits = Limits()
                 ) -> ArchiveSummary:
    """Verify ``archive`` completely, then add its entries that ``root`` lacks.

    A corrupted, tampered, unsafe or oversized archive raises :class:`ArchiveError` before
    anything under ``root`` is written; members are streamed to a staging folder under the
    caps of ``limits`` (see :mod:`.archive_stage`). Existing entries are kept as they are.
    """
    source, target = Path(archive), Path(root)
    if not source.is_file():
        raise ArchiveError(f"{source}: archive not found")
    summary = ArchiveSummary()
    with tempfile.TemporaryDirectory(prefix="persona-import-") as tmp:
        staged = Path(tmp)
        names = sorted(stage_archive(source, staged, limits))
        _validate_contents(source, staged, names)
        for name in names:
            dest = target / name
            if name.startswith("responses/"):
                _merge_responses(staged / name, dest, summary)
            elif name == JUDGE_DB:
                dest.parent.mkdir(parents=True, exist_ok=True)
                _merge_judge(staged / name, dest, summary)
            elif dest.exists() or dest.is_symlink():
                summary.count(summary.kept, _kind(name))
            else:
                write_with(dest, partial(shutil.copyfile, staged / name))
                summary.count(summary.added, _kind(name))
    return summary
