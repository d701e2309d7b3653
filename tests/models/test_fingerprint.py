"""Fingerprints cover every byte of the weights and are memoised by stat."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from pytest_persona.models import fingerprint as fpmod
from pytest_persona.models.fingerprint import directory_fingerprint, memoised_sha256

N = 3_000_000  # 12 MB of float32: far more than any sampling scheme reads


def _checkpoint(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"model_type": "llama"}))
    save_file({"w": torch.zeros(N)}, str(root / "model.safetensors"))
    return root / "model.safetensors"


def _data_offset(path: Path) -> int:
    with open(path, "rb") as handle:
        return 8 + int.from_bytes(handle.read(8), "little")


def _age(path: Path, seconds: float = 3600.0) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - int(seconds * 1e9)))


@pytest.mark.parametrize("where", [0.0, 0.37, 0.5, 0.83, 1.0])
def test_one_element_change_anywhere_changes_the_fingerprint(tmp_path: Path,
                                                             where: float) -> None:
    """Regression (issue 13.0): a sampled digest missed changes between its samples."""
    weights = _checkpoint(tmp_path / "m")
    memo = tmp_path / "memo.json"
    before = directory_fingerprint(weights.parent, memo)
    element = min(N - 1, int(where * N))
    with open(weights, "r+b") as handle:  # in place: same size, same inode
        handle.seek(_data_offset(weights) + 4 * element)
        handle.write(torch.tensor([1e-3]).numpy().tobytes())
    assert directory_fingerprint(weights.parent, memo) != before


def test_header_and_config_changes_change_the_fingerprint(tmp_path: Path) -> None:
    weights = _checkpoint(tmp_path / "m")
    memo = tmp_path / "memo.json"
    before = directory_fingerprint(weights.parent, memo)
    (weights.parent / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    assert directory_fingerprint(weights.parent, memo) != before


def test_unchanged_files_are_not_rehashed(tmp_path: Path) -> None:
    weights = _checkpoint(tmp_path / "m")
    for path in weights.parent.iterdir():
        _age(path)
    memo = tmp_path / "memo.json"
    start = fpmod.HASHED_BYTES
    first = directory_fingerprint(weights.parent, memo)
    assert fpmod.HASHED_BYTES - start >= 4 * N
    start = fpmod.HASHED_BYTES
    assert directory_fingerprint(weights.parent, memo) == first
    assert fpmod.HASHED_BYTES == start  # everything came from the memo
    data = json.loads(memo.read_text())
    assert str(weights.resolve()) in data["files"]


def test_memo_is_invalidated_by_a_stat_change(tmp_path: Path) -> None:
    weights = _checkpoint(tmp_path / "m")
    _age(weights)
    memo = tmp_path / "memo.json"
    first = memoised_sha256(weights, memo)
    with open(weights, "r+b") as handle:
        handle.seek(_data_offset(weights) + 4 * (N // 2))
        handle.write(b"\x01\x02\x03\x04")
    _age(weights, 1800.0)  # old again, but a different mtime (and ctime) than memoised
    assert memoised_sha256(weights, memo) != first


def test_fresh_files_are_not_memoised(tmp_path: Path) -> None:
    """A file written within the racy window is hashed again: a same-tick rewrite is seen."""
    weights = _checkpoint(tmp_path / "m")
    memo = tmp_path / "memo.json"
    memoised_sha256(weights, memo)
    assert not memo.exists() or str(weights.resolve()) not in json.loads(
        memo.read_text())["files"]


def test_corrupt_memo_is_ignored(tmp_path: Path) -> None:
    weights = _checkpoint(tmp_path / "m")
    _age(weights)
    memo = tmp_path / "memo.json"
    memo.write_text("[1, 2")
    value = memoised_sha256(weights, memo)
    assert value == fpmod.file_sha256(weights)
    assert json.loads(memo.read_text())["files"][str(weights.resolve())]["sha256"] == value


def test_trainer_state_and_hidden_files_are_not_fingerprinted(tmp_path: Path) -> None:
    weights = _checkpoint(tmp_path / "m")
    memo = tmp_path / "memo.json"
    before = directory_fingerprint(weights.parent, memo)
    (weights.parent / "optimizer.pt").write_bytes(b"x" * 100)
    (weights.parent / "rng_state.pth").write_bytes(b"y")
    (weights.parent / ".cache").mkdir()
    (weights.parent / ".cache" / "meta").write_text("z")
    assert directory_fingerprint(weights.parent, memo) == before
