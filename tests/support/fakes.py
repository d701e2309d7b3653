"""Typed stand-ins for the library's data types, for tests that need only a few fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_persona.suites.schema import Located, ResolvedSuite, Suite
from pytest_persona.traits.loader import TraitData


def trait_data(name: str, sha256: str | None = None) -> TraitData:
    """A trait with a name and a content hash and no questions or instructions: enough for code
    that keys caches and result sections by the trait (``sha256`` defaults to ``sha-<name>``)."""
    return TraitData(name=name, path=Path(f"{name}.json"), instructions=(),
                     extract_questions=(), eval_questions=(), eval_prompt="",
                     sha256=f"sha-{name}" if sha256 is None else sha256)


def resolved_suite(path: Path, *, layer: int, positions: str, coefficients: list[float],
                   n_questions: int, max_new_tokens: int,
                   extraction: dict[str, Any] | None = None,
                   trait: str = "evil") -> ResolvedSuite:
    """A suite with these settings and no expectations, resolved for a model without a
    ``models:`` profile (what ``load_suite(path).for_model(m)`` gives for such a file)."""
    suite = Suite(path=path, trait=trait, trait_file=None, layer=layer, positions=positions,
                  coefficients=list(coefficients), n_questions=n_questions,
                  max_new_tokens=max_new_tokens, temperature=0.0, max_missing_fraction=0.1,
                  extraction={} if extraction is None else extraction, models={},
                  expectations=[], located=Located({}, {}, path))
    return suite.for_model("fake")
