"""Read a small UTF-8 data file whole, bounded, with located errors (file and line)."""

from __future__ import annotations

from pathlib import Path

from pytest_persona.errors import LocatedError


def read_bounded_text(file: Path, limit: int, what: str) -> str:
    """The file's text; an unreadable file, one over ``limit`` bytes or bytes that are not
    UTF-8 are a :class:`LocatedError` (the line of the first bad byte)."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise LocatedError(file, 1, None, f"cannot read the {what}: {exc}") from exc
    if len(raw) > limit:
        raise LocatedError(file, 1, None, f"larger than {limit} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = raw[:exc.start].count(b"\n") + 1
        raise LocatedError(file, at, None, "not valid UTF-8") from exc
