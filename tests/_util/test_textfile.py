"""read_bounded_text: located errors for an unreadable, oversized or non-UTF-8 file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_persona._util.textfile import read_bounded_text
from pytest_persona.errors import LocatedError


def test_reads_text(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_text('{"x": 1}\n', encoding="utf-8")
    assert read_bounded_text(f, 100, "set") == '{"x": 1}\n'


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(LocatedError, match="cannot read the labelled set"):
        read_bounded_text(tmp_path / "missing.jsonl", 100, "labelled set")
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"x" * 101)
    with pytest.raises(LocatedError, match="larger than 100 bytes"):
        read_bounded_text(big, 100, "set")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"a": 1}\n{"b": 2}\n\xff\n')
    with pytest.raises(LocatedError, match="not valid UTF-8") as err:
        read_bounded_text(bad, 100, "set")
    assert err.value.line == 3 and "bad.jsonl" in str(err.value)
