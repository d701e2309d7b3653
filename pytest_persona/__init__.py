"""pytest-persona: behavioural regression testing of language models through persona vectors.

Public names are imported lazily so that loading the pytest plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "ActivationSteerer": "pytest_persona.steering",
    "find_layers": "pytest_persona.layers",
    "TraitVectors": "pytest_persona.vectors",
    "load_model": "pytest_persona.models",
    "LoadedModel": "pytest_persona.models",
    "resolve_model": "pytest_persona.models",
    "generate": "pytest_persona.generation",
    "GenerationConfig": "pytest_persona.generation",
    "collect_activations": "pytest_persona.activations",
    "project": "pytest_persona.projection",
    "cosine": "pytest_persona.projection",
    "cosine_matrix": "pytest_persona.projection",
    "make_tiny_model": "pytest_persona.tiny",
    "load_trait": "pytest_persona.traits",
    "make_judge": "pytest_persona.judges",
    "extract_vectors": "pytest_persona.extraction",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_persona' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
