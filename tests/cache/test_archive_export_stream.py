"""persona cache export streams: memory stays bounded whatever the cache holds, a torn last
response line is left out, and the staged copies fix each member's bytes before the manifest."""

from __future__ import annotations

import hashlib
import json
import tarfile
import tracemalloc
from pathlib import Path

from pytest_persona.cache.archive import export_cache, import_cache
from pytest_persona.cache.store import PersonaCache

MIB = 1 << 20
FP = "tiny:tiny-random-qwen2:seed0|float32|cpu"


def _responses(root: Path, name: str, size: int, torn: bytes = b"") -> bytes:
    folder = root / "responses"
    folder.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"k": "x" * 1000}).encode() + b"\n"
    data = line * (size // len(line)) + torn
    (folder / name).write_bytes(data)
    return data


def test_export_memory_does_not_grow_with_the_cache(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    _responses(root, "a" * 64 + ".jsonl", 48 * MIB)
    tracemalloc.start()
    try:
        export_cache(root, tmp_path / "c.tar.gz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the old export held every member in memory at once: 48.3 MiB peak here, now about 2 MiB
    assert peak < 8 * MIB, f"peak traced memory {peak / MIB:.1f} MiB for a 48 MiB cache"
    with tarfile.open(tmp_path / "c.tar.gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        member = "responses/" + "a" * 64 + ".jsonl"
        assert manifest["members"][member]["size"] == (root / "responses" / member.split("/")[1]
                                                       ).stat().st_size


def test_torn_last_line_is_left_out_and_the_manifest_matches(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    store = PersonaCache(root).responses(FP)
    store.put_many({f"k{i}": "word " * 200 for i in range(3000)})  # about 3 MiB of records
    path = next((root / "responses").glob("*.jsonl"))
    name = path.name
    whole = path.read_bytes()
    assert len(whole) > 2 * MIB
    with path.open("ab") as fh:  # a writer caught mid-append
        fh.write(b'{"key": "half a li')
    export_cache(root, tmp_path / "c.tar.gz")
    with tarfile.open(tmp_path / "c.tar.gz") as tar:
        names = tar.getnames()
        assert names[0] == "manifest.json"  # import requires the manifest first
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        data = tar.extractfile(f"responses/{name}").read()  # type: ignore[union-attr]
    assert data == whole
    entry = manifest["members"][f"responses/{name}"]
    assert entry == {"sha256": hashlib.sha256(whole).hexdigest(), "size": len(whole)}
    # and the archive imports cleanly (sizes and hashes agree with the streamed members)
    import_cache(tmp_path / "c.tar.gz", tmp_path / "other")
    assert (tmp_path / "other" / "responses" / name).read_bytes() == whole


def test_staging_leaves_nothing_behind(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    _responses(root, "c" * 64 + ".jsonl", MIB)
    out = tmp_path / "out"
    out.mkdir()
    export_cache(root, out / "c.tar.gz")
    assert sorted(p.name for p in out.iterdir()) == ["c.tar.gz"]
