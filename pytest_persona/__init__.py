"""pytest-persona: behavioural regression testing of language models through persona vectors.

Public names are imported lazily so that loading the pytest plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from pytest_persona._util import deprecated as _deprecated

_deprecated.install()

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "ActivationSteerer": "pytest_persona.core.steering",
    "find_layers": "pytest_persona.core.layers",
    "TraitVectors": "pytest_persona.core.vectors",
    "load_model": "pytest_persona.models.loading",
    "LoadedModel": "pytest_persona.models.loading",
    "resolve_model": "pytest_persona.models.loading",
    "generate": "pytest_persona.core.generation",
    "GenerationConfig": "pytest_persona.core.generation",
    "collect_activations": "pytest_persona.core.activations",
    "project": "pytest_persona.core.projection",
    "cosine": "pytest_persona.core.projection",
    "cosine_matrix": "pytest_persona.core.projection",
    "make_tiny_model": "pytest_persona.models.tiny",
    "load_trait": "pytest_persona.traits.loader",
    "load_trait_pair": "pytest_persona.traits.loader",
    "make_judge": "pytest_persona.judges",
    "extract_vectors": "pytest_persona.pipeline.extraction",
    "KindRegistry": "pytest_persona.suites.registry",
    "Outcome": "pytest_persona.suites.expectations",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_persona' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
