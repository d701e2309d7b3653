"""pytest-persona: behavioural regression testing of language models through persona vectors.

Public names are imported lazily so that loading the pytest plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # the real names for type checkers; at runtime they load on first use
    from pytest_persona.core.activations import collect_activations as collect_activations
    from pytest_persona.core.generation import GenerationConfig as GenerationConfig
    from pytest_persona.core.generation import generate as generate
    from pytest_persona.core.layers import find_layers as find_layers
    from pytest_persona.core.projection import cosine as cosine
    from pytest_persona.core.projection import cosine_matrix as cosine_matrix
    from pytest_persona.core.projection import project as project
    from pytest_persona.core.steering import ActivationSteerer as ActivationSteerer
    from pytest_persona.core.vectors import TraitVectors as TraitVectors
    from pytest_persona.judges import make_judge as make_judge
    from pytest_persona.models.loading import LoadedModel as LoadedModel
    from pytest_persona.models.loading import load_model as load_model
    from pytest_persona.models.loading import resolve_model as resolve_model
    from pytest_persona.models.tiny import make_tiny_model as make_tiny_model
    from pytest_persona.pipeline.extraction import extract_vectors as extract_vectors
    from pytest_persona.suites.expectations import Outcome as Outcome
    from pytest_persona.suites.registry import KindRegistry as KindRegistry
    from pytest_persona.traits.loader import load_trait as load_trait
    from pytest_persona.traits.loader import load_trait_pair as load_trait_pair


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_persona' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
