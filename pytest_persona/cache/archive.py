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

import errno
import hashlib
import io
import json
import os
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


_CHUNK = 1 << 20  # export and import both move members in 1 MiB pieces


@dataclass(frozen=True)
class _Member:
    """One member staged for export: a private copy, so its bytes cannot change between the
    manifest (written first) and the tar member."""

    name: str
    path: Path
    sha256: str
    size: int


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_plain(src: Path, dst: Path, *, whole_lines: bool) -> None:
    """Copy ``src`` to ``dst`` in chunks without following a symlink; with ``whole_lines`` a
    torn last line (a writer may be appending right now) is left out."""
    fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    last_newline = 0
    with os.fdopen(fd, "rb") as fin, dst.open("wb") as fout:
        offset = 0
        while chunk := fin.read(_CHUNK):
            fout.write(chunk)
            end = chunk.rfind(b"\n")
            if end >= 0:
                last_newline = offset + end + 1
            offset += len(chunk)
        if whole_lines:
            fout.truncate(last_newline)


def _snapshot_sqlite(path: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite database (WAL contents included), written to ``dst``."""
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out = sqlite3.connect(str(dst))
    try:
        src.backup(out)
    finally:
        src.close()
        out.close()


def _stage(root: Path, staging: Path, skipped: list[str]) -> list[_Member]:
    """Copy the cache's own files into ``staging``: plain files only (a symlink, whatever it
    points to, is listed in ``skipped`` and never read). Memory stays at one chunk whatever
    the sizes."""
    members: list[_Member] = []

    def add(name: str, copy: Path) -> None:
        members.append(_Member(name, copy, _hash_file(copy), copy.stat().st_size))

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
                    copy = staging / f"{len(members)}.member"
                    try:
                        _copy_plain(path, copy, whole_lines=sub == "responses")
                    except OSError as exc:
                        if exc.errno == errno.ELOOP:  # became a symlink since the listing
                            skipped.append(name)
                            continue
                        raise
                    add(name, copy)
    judge = root / JUDGE_DB
    if judge.is_symlink():
        skipped.append(JUDGE_DB)
    elif judge.is_file():
        copy = staging / "judge.member"
        _snapshot_sqlite(judge, copy)
        add(JUDGE_DB, copy)
    return sorted(members, key=lambda m: m.name)


def export_cache(root: str | Path, out: str | Path) -> ArchiveSummary:
    """Write the cache under ``root`` to the archive ``out`` (atomically).

    Members are staged as private copies beside ``out`` (so their bytes are fixed before the
    manifest that lists them is written) and streamed into the archive chunk by chunk: memory
    does not grow with the size of the cache; temporary disk use is one copy of it.
    """
    source = Path(root)
    if not source.is_dir():
        raise ArchiveError(f"{source}: no persona cache there (not a directory)")
    skipped: list[str] = []
    target = Path(out)
    with tempfile.TemporaryDirectory(prefix=".persona-export-",
                                     dir=target.parent if target.parent.is_dir() else None) as tmp:
        members = _stage(source, Path(tmp), skipped)
        manifest = {
            "format": FORMAT, "version": VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "members": {m.name: {"sha256": m.sha256, "size": m.size} for m in members},
        }

        def write(tmp_out: Path) -> None:
            now = int(time.time())

            def info(name: str, size: int) -> tarfile.TarInfo:
                ti = tarfile.TarInfo(name)
                ti.size, ti.mtime, ti.mode = size, now, 0o644
                return ti

            with tarfile.open(tmp_out, "w:gz") as tar:
                head = json.dumps(manifest, indent=2).encode()
                tar.addfile(info(MANIFEST, len(head)), io.BytesIO(head))
                for m in members:
                    with m.path.open("rb") as fh:
                        tar.addfile(info(m.name, m.size), fh)

        write_with(target, write)
    summary = ArchiveSummary(skipped=skipped)
    for m in members:
        summary.count(summary.added, _kind(m.name))
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
