"""A symlink planted at a .lock path is moved aside, never followed (filelock truncates)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_persona._util.locks import safe_lock
from pytest_persona.models.fingerprint import memoised_sha256


def test_safe_lock_leaves_symlink_target_intact(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    entry = tmp_path / "entry.json"
    os.symlink(victim, str(entry) + ".lock")
    with pytest.warns(UserWarning, match="symlink"), safe_lock(entry):
        pass
    assert victim.read_text() == "precious\n"


def test_fingerprint_memo_lock_symlink_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    data = tmp_path / "weights.bin"
    data.write_bytes(b"x" * 64)
    os.utime(data, ns=(0, 0))  # old enough for the memo to be written
    memo = tmp_path / "memo.json"
    os.symlink(victim, str(memo) + ".lock")
    with pytest.warns(UserWarning, match="symlink"):
        memoised_sha256(data, memo)
    assert victim.read_text() == "precious\n"
