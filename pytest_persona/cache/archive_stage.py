"""Read a cache archive onto disk with every resource bounded (``persona cache import``).

The manifest comes first and is read under its own cap. Before one byte of any other member is
decompressed, the manifest's listing is checked: known names only, a 64-hex sha256 and a size
for each, each size under the per-member cap, their sum under the total cap and under the free
space of the staging folder, a sidecar for every vector file. Each member's tar header must then
declare the size the manifest lists (a lying size is refused before decompression) and its data
is streamed to the staging folder in chunks, hashed on the way, never held whole in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pytest_persona.errors import ArchiveError

FORMAT = "pytest-persona-cache"
VERSION = 1
MANIFEST = "manifest.json"
JUDGE_DB = "judge.sqlite"
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,200}"
LAYOUT = re.compile(
    rf"^(responses/{_NAME}\.jsonl|vectors/{_NAME}\.(safetensors|json)|projections/{_NAME}\.json"
    rf"|{re.escape(JUDGE_DB)})$"
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Caps on what one import may read and stage (defaults fit caches of 70B-class models)."""

    member_bytes: int = 2 * 2**30
    total_bytes: int = 16 * 2**30
    members: int = 200_000
    manifest_bytes: int = 32 * 2**20


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a member path of a cache archive, or None."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path; refusing to import"
    if ".." in name.replace("\\", "/").split("/"):
        return "leaves the cache directory ('..'); refusing to import"
    if name != MANIFEST and not LAYOUT.match(name):
        return ("is not a persona cache file (responses/*.jsonl, vectors/*, projections/*.json, "
                "judge.sqlite)")
    return None


def check_member(archive: Path, info: tarfile.TarInfo) -> None:
    """A plain file at a known, relative path inside the cache (the tar header alone)."""
    if not info.isfile():
        what = "a link" if info.issym() or info.islnk() else "not a plain file"
        raise ArchiveError(f"{archive}: member {info.name!r} is {what}; refusing to import")
    problem = name_problem(info.name)
    if problem:
        raise ArchiveError(f"{archive}: member {info.name!r} {problem}")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"key {key!r} appears twice")
        seen[key] = value
    return seen


def _read_capped(handle: IO[bytes], cap: int) -> bytes:
    data = handle.read(cap + 1)
    if len(data) > cap:
        raise ValueError(f"over {cap} bytes")
    return data


def parse_manifest(archive: Path, raw: bytes, limits: Limits) -> dict[str, tuple[str, int]]:
    """The listing ``{name: (sha256, size)}`` of a manifest, checked against ``limits``."""
    try:
        manifest = json.loads(raw, object_pairs_hook=_unique_object)
    except ValueError as exc:
        raise ArchiveError(f"{archive}: {MANIFEST} is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{archive}: {MANIFEST} field 'format' is not {FORMAT!r}")
    if manifest.get("version") != VERSION:
        raise ArchiveError(f"{archive}: {MANIFEST} field 'version' is "
                           f"{manifest.get('version')!r}; this version reads {VERSION}")
    members = manifest.get("members")
    if not isinstance(members, dict):
        raise ArchiveError(f"{archive}: {MANIFEST} field 'members' is missing")
    if len(members) > limits.members:
        raise ArchiveError(f"{archive}: {MANIFEST} lists {len(members)} members, over the "
                           f"limit of {limits.members}")
    listed: dict[str, tuple[str, int]] = {}
    for name, entry in members.items():
        where = f"{archive}: {MANIFEST} field 'members.{name}'"
        problem = "is the manifest itself" if name == MANIFEST else name_problem(name)
        if problem:
            raise ArchiveError(f"{archive}: member {name!r} (listed in {MANIFEST}) {problem}")
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise ArchiveError(f"{where}: 'sha256' is {sha!r}, expected 64 hex digits")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ArchiveError(f"{where}: 'size' is {size!r}, expected a byte count")
        if size > limits.member_bytes:
            raise ArchiveError(f"{where}: {size} bytes, over the per-member limit of "
                               f"{limits.member_bytes}; nothing was imported")
        listed[name] = (sha, size)
    total = sum(size for _, size in listed.values())
    if total > limits.total_bytes:
        raise ArchiveError(f"{archive}: {MANIFEST} lists {total} bytes in all, over the limit "
                           f"of {limits.total_bytes}; nothing was imported")
    for name in listed:
        if name.endswith(".safetensors") and name[:-len(".safetensors")] + ".json" not in listed:
            raise ArchiveError(f"{archive}: member {name!r} comes without its sidecar "
                               f"{name[:-len('.safetensors')] + '.json'!r}; refusing to import")
    return listed


def _copy_member(archive: Path, source: IO[bytes], dest: Path, name: str, sha: str,
                 size: int) -> None:
    digest = hashlib.sha256()
    written = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as out:
        while chunk := source.read(min(CHUNK, size - written + 1)):
            written += len(chunk)
            if written > size:
                break
            digest.update(chunk)
            out.write(chunk)
    if written != size or digest.hexdigest() != sha:
        raise ArchiveError(f"{archive}: member {name!r} fails its sha256/size check in "
                           f"{MANIFEST}: corrupted or tampered with; nothing was imported")


def _forget_members(tar: tarfile.TarFile) -> None:
    """Drop the headers tarfile keeps of members already read (memory stays flat)."""
    seen = getattr(tar, "members", None)  # a CPython attribute typeshed does not declare
    if isinstance(seen, list):
        seen.clear()


def stage_archive(archive: Path, staged: Path, limits: Limits = Limits()) -> list[str]:
    """Stream the members of ``archive`` into ``staged`` (checked as described above) and
    return their names. Raises :class:`ArchiveError` at the first problem."""
    names: list[str] = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST:
                raise ArchiveError(f"{archive}: the first member is not {MANIFEST}; not a "
                                   "persona cache archive")
            check_member(archive, first)
            if first.size > limits.manifest_bytes:
                raise ArchiveError(f"{archive}: {MANIFEST} is {first.size} bytes, over the "
                                   f"limit of {limits.manifest_bytes}")
            handle = tar.extractfile(first)
            assert handle is not None  # a regular file, checked above
            try:
                raw = _read_capped(handle, limits.manifest_bytes)
            except ValueError as exc:
                raise ArchiveError(f"{archive}: {MANIFEST} is {exc}") from exc
            listed = parse_manifest(archive, raw, limits)
            need = sum(size for _, size in listed.values())
            free = shutil.disk_usage(staged).free
            if need > free:
                raise ArchiveError(f"{archive}: its members need {need} bytes to stage in "
                                   f"{staged}, which has {free} free; nothing was imported")
            while (info := tar.next()) is not None:
                _forget_members(tar)
                check_member(archive, info)
                name = info.name
                if name not in listed:
                    raise ArchiveError(f"{archive}: member {name!r} is not listed in "
                                       f"{MANIFEST}; nothing was imported")
                if name in names:
                    raise ArchiveError(f"{archive}: member {name!r} appears twice")
                sha, size = listed[name]
                if info.size != size:
                    raise ArchiveError(f"{archive}: member {name!r} declares {info.size} bytes "
                                       f"in its tar header but {MANIFEST} lists {size}: "
                                       "corrupted or tampered with; refused before "
                                       "decompressing it, nothing was imported")
                source = tar.extractfile(info)
                assert source is not None
                _copy_member(archive, source, staged / name, name, sha, size)
                names.append(name)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ArchiveError(f"{archive}: not a readable .tar.gz ({exc})") from exc
    missing = sorted(set(listed) - set(names))
    if missing:
        raise ArchiveError(f"{archive}: members do not match {MANIFEST} (missing: {missing}; "
                           "not listed: none)")
    return names
