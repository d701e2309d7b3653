"""Atomic writes: all or nothing, and the user's umask decides the file mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_persona._util.atomic import atomic_path, write_text, write_with


@pytest.fixture()
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_files_keep_the_users_umask(tmp_path: Path, umask: None) -> None:
    write_text(tmp_path / "r.json", "{}")
    write_with(tmp_path / "v.bin", lambda p: p.write_bytes(b"\0"))
    assert _mode(tmp_path / "r.json") == 0o644
    assert _mode(tmp_path / "v.bin") == 0o644
    os.umask(0o077)
    write_text(tmp_path / "private.json", "{}")
    assert _mode(tmp_path / "private.json") == 0o600


def test_vectors_and_results_files_are_readable_by_group(tmp_path: Path, umask: None) -> None:
    import torch

    from pytest_persona.core.vectors import TraitVectors
    from pytest_persona.results.document import save_results
    from tests.report.synthetic import make_results

    TraitVectors(torch.zeros(2, 4), {"model_id": "m"}).save(tmp_path / "v.safetensors")
    save_results(make_results(("evil",)), tmp_path / "results.json")
    assert _mode(tmp_path / "v.safetensors") == 0o644
    assert _mode(tmp_path / "results.json") == 0o644


def test_failure_leaves_target_untouched_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
