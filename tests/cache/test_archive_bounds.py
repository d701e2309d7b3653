"""Issue 25 item 7: archive import is bounded. Members are streamed to disk (memory stays flat
for a gzip bomb), sizes are checked against the manifest before decompression, per-member and
total caps hold, and a vector file never arrives without its sidecar."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch

from pytest_persona.cache.archive import ArchiveError, import_cache
from pytest_persona.cache.archive_stage import Limits
from pytest_persona.core.vectors import TraitVectors
from tests.cache.tmpfs import small_tmpfs

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MiB = 2**20


class _Zeros(io.RawIOBase):
    """``n`` zero bytes, produced as they are read (the test itself stays small in memory)."""

    def __init__(self, n: int) -> None:
        self.left = n

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self.left)
        view[:n] = bytes(n)
        self.left -= n
        return n


def _zeros_sha(n: int) -> str:
    digest = hashlib.sha256()
    block = bytes(MiB)
    for _ in range(n // MiB):
        digest.update(block)
    digest.update(bytes(n % MiB))
    return digest.hexdigest()


def bomb(path: Path, name: str, real: int, listed: int | None = None,
         header: int | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """An archive with ``name`` holding ``real`` zero bytes (a few KB once gzipped); the
    manifest lists ``listed`` bytes for it and its tar header ``header`` (both default to the
    truth), plus the small members ``extra``."""
    extra = extra or {}
    members = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
               for n, d in extra.items()}
    members[name] = {"sha256": _zeros_sha(real), "size": real if listed is None else listed}
    manifest = json.dumps({"format": "pytest-persona-cache", "version": 1,
                           "members": members}).encode()
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for n, d in [("manifest.json", manifest), *extra.items()]:
            info = tarfile.TarInfo(n)
            info.size = len(d)
            tar.addfile(info, io.BytesIO(d))
        info = tarfile.TarInfo(name)
        info.size = real
        tar.addfile(info, io.BufferedReader(_Zeros(real)))
    if header is not None:  # rewrite the size field of the last header (octal, 12 bytes)
        raw = bytearray(gzip.decompress(path.read_bytes()))
        at = raw.rfind(name.encode(), 0, 4096)  # the last header (after the manifest)
        raw[at + 124:at + 136] = f"{header:011o}\0".encode()
        raw[at + 148:at + 156] = b" " * 8
        raw[at + 148:at + 155] = f"{sum(raw[at:at + 512]):06o}\0".encode()
        path.write_bytes(gzip.compress(bytes(raw), compresslevel=1))
    return path


SIDECAR = {"vectors/bomb.json": b"{}"}

_RSS = """
import sys
from pathlib import Path
from pytest_persona.cache.archive import ArchiveError, import_cache

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # reset the peak to the current RSS
before = rss_kib()
try:
    import_cache(Path(sys.argv[1]), Path(sys.argv[2]))
    print("imported")
except ArchiveError as exc:
    print("refused:", exc)
print((peak_kib() - before) // 1024)
"""


def test_gzip_bomb_streams_with_flat_memory(tmp_path: Path) -> None:
    """Regression: a 1 MB gzip made RSS reach 3.19 GB (every member was read whole)."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc to measure the peak RSS")
    size = 192 * MiB
    arc = bomb(tmp_path / "bomb.tar.gz", "vectors/bomb.safetensors", size, extra=SIDECAR)
    assert arc.stat().st_size < 2 * MiB
    dst = tmp_path / "dst"
    done = subprocess.run([sys.executable, "-c", _RSS, str(arc), str(dst)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    verdict, grown = done.stdout.strip().splitlines()
    assert verdict.startswith("refused:") and "vectors/bomb.safetensors" in verdict
    assert int(grown) < 64, f"peak RSS grew by {grown} MiB for a {size // MiB} MiB member"
    assert not dst.exists()  # staged outside the cache and removed


def test_member_over_its_cap_is_refused_before_decompression(tmp_path: Path) -> None:
    arc = bomb(tmp_path / "b.tar.gz", "vectors/bomb.safetensors", 64 * MiB, extra=SIDECAR)
    start = time.perf_counter()
    with pytest.raises(ArchiveError, match="over the per-member limit"):
        import_cache(arc, tmp_path / "dst", Limits(member_bytes=MiB))
    assert time.perf_counter() - start < 0.1 * 64  # not decompressed (~0.1 s per MiB floor)
    assert not (tmp_path / "dst").exists()


def test_total_over_its_cap_is_refused(tmp_path: Path) -> None:
    extra = {f"projections/p{i}.json": json.dumps({"values": [0.0] * 3000}).encode()
             for i in range(4)}
    arc = bomb(tmp_path / "t.tar.gz", "projections/last.json", 10, extra=extra)
    with pytest.raises(ArchiveError, match="in all, over the limit"):
        import_cache(arc, tmp_path / "dst", Limits(total_bytes=40_000))


@pytest.mark.parametrize("listed,header,message", [
    (10, None, "declares .* in its tar header but manifest.json lists 10"),
    (None, 10, "declares 10 bytes in its tar header"),
])
def test_lying_sizes_are_refused_before_decompression(tmp_path: Path, listed: int | None,
                                                      header: int | None, message: str) -> None:
    arc = bomb(tmp_path / "l.tar.gz", "responses/r.jsonl", 32 * MiB, listed=listed,
               header=header)
    with pytest.raises(ArchiveError, match=message):
        import_cache(arc, tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


def test_listed_size_longer_than_the_data_is_refused(tmp_path: Path) -> None:
    arc = bomb(tmp_path / "s.tar.gz", "responses/r.jsonl", 1000, listed=5000, header=5000)
    with pytest.raises(ArchiveError, match="not a readable|tampered"):
        import_cache(arc, tmp_path / "dst")


def test_staging_space_is_checked_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with small_tmpfs(tmp_path / "mnt") as mnt:
        monkeypatch.setattr(tempfile, "tempdir", str(mnt))
        arc = bomb(tmp_path / "d.tar.gz", "responses/r.jsonl", 4 * MiB)
        with pytest.raises(ArchiveError, match="need .* bytes to stage"):
            import_cache(arc, tmp_path / "dst")
        assert list(mnt.iterdir()) == []


def _plain(path: Path, members: dict[str, bytes], order: list[str] | None = None) -> Path:
    manifest = json.dumps({"format": "pytest-persona-cache", "version": 1, "members": {
        n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
        for n, d in members.items()}}).encode()
    items = {"manifest.json": manifest, **members}
    with tarfile.open(path, "w:gz") as tar:
        for name in order or list(items):
            info = tarfile.TarInfo(name)
            info.size = len(items[name])
            tar.addfile(info, io.BytesIO(items[name]))
    return path


def test_vector_without_its_sidecar_is_refused(tmp_path: Path) -> None:
    """Regression: a vector file was written without a sidecar."""
    vec = tmp_path / "v.safetensors"
    TraitVectors(torch.ones(2, 4), {"trait": "evil"}).save(vec)
    arc = _plain(tmp_path / "v.tar.gz", {"vectors/vk.safetensors": vec.read_bytes()})
    with pytest.raises(ArchiveError, match="without its sidecar"):
        import_cache(arc, tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


def test_vector_with_integer_or_nan_tensor_is_refused(tmp_path: Path) -> None:
    vec = tmp_path / "v.safetensors"
    TraitVectors(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), {"trait": "evil"}).save(vec)
    arc = _plain(tmp_path / "v.tar.gz", {"vectors/vk.safetensors": vec.read_bytes(),
                                         "vectors/vk.json": b"{}"})
    with pytest.raises(ArchiveError, match="vectors/vk.safetensors"):
        import_cache(arc, tmp_path / "dst")


@pytest.mark.parametrize("name", ['responses/a"b.jsonl', "projections/it's.json",
                                  'judge.sqlite"; DROP TABLE x; --'])
def test_quote_in_a_member_name_is_refused(tmp_path: Path, name: str) -> None:
    arc = _plain(tmp_path / "q.tar.gz", {name: b"{}"})
    with pytest.raises(ArchiveError, match="not a persona cache file"):
        import_cache(arc, tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


def test_manifest_must_come_first_and_be_small(tmp_path: Path) -> None:
    members = {"projections/p.json": b'{"values": [1.0]}'}
    late = _plain(tmp_path / "late.tar.gz", members,
                  order=["projections/p.json", "manifest.json"])
    with pytest.raises(ArchiveError, match="first member is not manifest.json"):
        import_cache(late, tmp_path / "dst")
    ok = _plain(tmp_path / "ok.tar.gz", members)
    with pytest.raises(ArchiveError, match="manifest.json is .* over the limit"):
        import_cache(ok, tmp_path / "dst", Limits(manifest_bytes=20))
    assert import_cache(ok, tmp_path / "dst").added == {"projections": 1}
