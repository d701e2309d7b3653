"""Typed stand-ins for the library's data types, for tests that need only a few fields."""

from __future__ import annotations

from pathlib import Path

from pytest_persona.traits.loader import TraitData


def trait_data(name: str, sha256: str | None = None) -> TraitData:
    """A trait with a name and a content hash and no questions or instructions: enough for code
    that keys caches and result sections by the trait (``sha256`` defaults to ``sha-<name>``)."""
    return TraitData(name=name, path=Path(f"{name}.json"), instructions=(),
                     extract_questions=(), eval_questions=(), eval_prompt="",
                     sha256=f"sha-{name}" if sha256 is None else sha256)
