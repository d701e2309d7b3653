"""persona cache export/import: round trip, merge without overwriting, corrupted and unsafe
archives refused before anything is written."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import torch

from pytest_persona.cache.archive import ArchiveError, export_cache, import_cache
from pytest_persona.cache.store import PersonaCache
from pytest_persona.cli import main
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.judges.cache import JudgeCache

FP = "tiny:tiny-random-qwen2:seed0|float32|cpu"


def _fill(root: Path, suffix: str = "") -> None:
    cache = PersonaCache(root)
    cache.responses(FP).put_many({"k1": "hello" + suffix, "k2": "world"})
    vecs = TraitVectors(torch.arange(12, dtype=torch.float32).reshape(3, 4), {"trait": "evil"})
    cache.save_vectors("vkey", vecs, {"trait": "evil"})
    (root / "projections").mkdir(parents=True, exist_ok=True)
    (root / "projections" / "pkey.json").write_text(json.dumps({"values": [1.5]}))
    judge = JudgeCache(cache.judge_path)
    judge.put("s1", "offline", "t" * 64, 42.0 if not suffix else 7.0)
    judge.put("s2", "offline", "t" * 64, 80.0)
    judge.close()


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


def test_round_trip_carries_every_kind_with_its_key(tmp_path: Path) -> None:
    src, dst, arc = tmp_path / "src", tmp_path / "dst", tmp_path / "c.tar.gz"
    _fill(src)
    exported = export_cache(src, arc)
    assert exported.added == {"responses": 1, "vectors": 2, "projections": 1, "judge scores": 1}
    summary = import_cache(arc, dst)
    assert summary.added == {"responses": 2, "vectors": 2, "projections": 1, "judge scores": 2}
    cache = PersonaCache(dst)
    assert cache.responses(FP).get_many(["k1", "k2"]) == {"k1": "hello", "k2": "world"}
    loaded = cache.load_vectors("vkey")
    assert loaded is not None and torch.equal(loaded.vectors, torch.arange(12.0).reshape(3, 4))
    assert json.loads((dst / "projections" / "pkey.json").read_text()) == {"values": [1.5]}
    judge = JudgeCache(dst / "judge.sqlite")
    assert (judge.get("s1"), judge.get("s2")) == (42.0, 80.0)
    judge.close()
    with tarfile.open(arc) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["format"] == "pytest-persona-cache"
    assert all(len(m["sha256"]) == 64 for m in manifest["members"].values())


def test_import_merges_and_never_overwrites(tmp_path: Path) -> None:
    src, dst, arc = tmp_path / "src", tmp_path / "dst", tmp_path / "c.tar.gz"
    _fill(src)
    _fill(dst, suffix="-local")  # same keys, different values
    PersonaCache(src).responses(FP).put_many({"k3": "new"})
    judge = JudgeCache(src / "judge.sqlite")
    judge.put("s3", "offline", "t" * 64, 5.0)
    judge.close()
    export_cache(src, arc)
    summary = import_cache(arc, dst)
    assert summary.added["responses"] == 1 and summary.kept["responses"] == 2
    assert summary.added["judge scores"] == 1 and summary.kept["judge scores"] == 2
    got = PersonaCache(dst).responses(FP).get_many(["k1", "k3"])
    assert got == {"k1": "hello-local", "k3": "new"}
    judge = JudgeCache(dst / "judge.sqlite")
    assert (judge.get("s1"), judge.get("s3")) == (7.0, 5.0)
    judge.close()


def _rewrite(arc: Path, out: Path, change: dict[str, bytes | None]) -> None:
    """Copy ``arc`` to ``out`` with members replaced (bytes), dropped (None) or added."""
    with tarfile.open(arc) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    for name, data in change.items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    with tarfile.open(out, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture()
def exported(tmp_path: Path) -> Path:
    _fill(tmp_path / "src")
    arc = tmp_path / "c.tar.gz"
    export_cache(tmp_path / "src", arc)
    return arc


def _target(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    dst = tmp_path / "dst"
    PersonaCache(dst).responses(FP).put_many({"k1": "mine"})
    return dst, _tree(dst)


def test_tampered_member_is_refused_and_nothing_written(tmp_path: Path, exported: Path) -> None:
    dst, before = _target(tmp_path)
    with tarfile.open(exported) as tar:
        name = next(m.name for m in tar if m.name.startswith("responses/"))
    bad = tmp_path / "bad.tar.gz"
    _rewrite(exported, bad, {name: b'{"k": "k9", "t": "evil", "c": "x"}\n'})
    with pytest.raises(ArchiveError, match=f"member '{name}' .*tampered"):
        import_cache(bad, dst)
    assert _tree(dst) == before


def test_corrupted_gzip_and_missing_member(tmp_path: Path, exported: Path) -> None:
    dst, before = _target(tmp_path)
    data = bytearray(exported.read_bytes())
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ArchiveError, match="not a readable .tar.gz"):
        import_cache(cut, dst)
    missing = tmp_path / "missing.tar.gz"
    _rewrite(exported, missing, {"judge.sqlite": None})
    with pytest.raises(ArchiveError, match=r"missing: \['judge.sqlite'\]"):
        import_cache(missing, dst)
    assert _tree(dst) == before


def test_cli_reports_a_corrupted_archive(tmp_path: Path, exported: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    dst, before = _target(tmp_path)
    bad = tmp_path / "bad.tar.gz"
    _rewrite(exported, bad, {"projections/pkey.json": b'{"values": [99]}'})
    assert main(["cache", "import", str(bad), "--cache", str(dst)]) == 2
    err = capsys.readouterr().err
    assert "persona: error:" in err and "projections/pkey.json" in err and "tampered" in err
    assert _tree(dst) == before


def test_cli_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(tmp_path / "src")
    arc = tmp_path / "out" / "c.tar.gz"
    assert main(["cache", "export", str(arc), "--cache", str(tmp_path / "src")]) == 0
    assert main(["cache", "import", str(arc), "--cache", str(tmp_path / "dst")]) == 0
    out = capsys.readouterr().out
    assert "responses: 2 added, 0 kept" in out
    assert _tree(tmp_path / "dst")["vectors/vkey.safetensors"] == \
        _tree(tmp_path / "src")["vectors/vkey.safetensors"]


def _evil_archive(path: Path, info: tarfile.TarInfo, data: bytes = b"{}") -> None:
    manifest = {"format": "pytest-persona-cache", "version": 1,
                "members": {info.name: {"sha256": hashlib.sha256(data).hexdigest(),
                                        "size": len(data)}}}
    body = json.dumps(manifest).encode()
    with tarfile.open(path, "w:gz") as tar:
        head = tarfile.TarInfo("manifest.json")
        head.size = len(body)
        tar.addfile(head, io.BytesIO(body))
        if info.isfile():
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        else:
            tar.addfile(info)


@pytest.mark.parametrize("name,kind,message", [
    ("../escape.json", tarfile.REGTYPE, "leaves the cache directory"),
    ("projections/../../escape.json", tarfile.REGTYPE, "leaves the cache directory"),
    ("/tmp/escape.json", tarfile.REGTYPE, "absolute path"),
    ("projections/link.json", tarfile.SYMTYPE, "is a link"),
    ("projections/hard.json", tarfile.LNKTYPE, "is a link"),
    ("projections/dev.json", tarfile.CHRTYPE, "not a plain file"),
    ("notes/readme.txt", tarfile.REGTYPE, "not a persona cache file"),
])
def test_unsafe_members_are_refused(tmp_path: Path, name: str, kind: bytes,
                                    message: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = "../../../etc/passwd"
    arc = tmp_path / "evil.tar.gz"
    _evil_archive(arc, info)
    dst = tmp_path / "deep" / "dst"
    with pytest.raises(ArchiveError, match=message):
        import_cache(arc, dst)
    assert not dst.exists()
    assert not (tmp_path / "deep" / "escape.json").exists()
    assert not (tmp_path / "escape.json").exists()
