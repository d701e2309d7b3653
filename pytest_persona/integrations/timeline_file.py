"""The timeline JSON a fine-tuning run writes: one entry per check, rewritten atomically.

Layout (``format: pytest-persona-timeline``, ``version: 1``)::

    {"measure": "...how the shift is computed...", "layer": 12, "model": "...",
     "reference": {"kind": "start", "fingerprint": "weights-sha256:...", "step": 0, ...},
     "cost": {"forward_passes_per_check": 40, "batch_size": 16},
     "traits": {"evil": {"source": "...", "vector_sha256": "...", "n_questions": 20,
                         "stop_if": 0.5, "reference": {"q-...": 1.23, ...}}},
     "checks": [{"step": 50, "epoch": 0.4, "trigger": "every_steps", "seconds": 0.8,
                 "traits": {"evil": {"shift": .., "ci_low": .., "ci_high": .., "n": 20,
                                     "reference_mean": .., "mean": ..}}}],
     "stop": null or {"step": .., "trait": .., "ci_low": .., "bound": .., "message": ..}}

``persona timeline FILE -o page.html`` draws it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_persona import __version__
from pytest_persona._util.atomic import write_text

FORMAT = "pytest-persona-timeline"
VERSION = 1


def _clean(value: Any) -> Any:
    """NaN and infinities as null: the file stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@dataclass
class Timeline:
    """The document, kept in memory and written whole after every check."""

    path: Path | None
    header: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    stop: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = _clean({"format": FORMAT, "version": VERSION,
                                      "package_version": __version__, **self.header,
                                      "checks": self.checks, "stop": self.stop})
        return doc

    def append(self, check: dict[str, Any]) -> None:
        self.checks.append(check)
        self.save()

    def save(self) -> None:
        if self.path is not None:
            write_text(self.path, json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n")

    def last_step(self) -> int | None:
        return int(self.checks[-1]["step"]) if self.checks else None


def read_previous(path: Path) -> dict[str, Any] | None:
    """An earlier run's timeline at ``path`` (for resuming), or None when absent or foreign."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        return None
    return doc
