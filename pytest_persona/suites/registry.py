"""The one registry of expectation kinds: kind name -> evaluator and field schema.

Suite validation (:mod:`pytest_persona.suites.schema`) reads the field schemas; the plugin runs
the evaluators (:mod:`pytest_persona.suites.expectations` holds the built-in ones). Built-in
evaluators are named as ``"module:function"`` and imported on first use, so validating a suite
never imports torch. A conftest or plugin adds its own kind through the
``pytest_persona_register_kinds(registry)`` hook.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

REQUIRED = "REQUIRED"
"""Field default meaning: the suite must give a value."""

Evaluator = Callable[..., Any]
"""``evaluator(session, resolved_suite, expectation, trait) -> Outcome``."""

FieldSpec = tuple[str, Any]
"""``(type name, default)``; the type names are those of ``schema.CHECKERS``; the default is a
value, ``None`` (optional, no value) or :data:`REQUIRED`."""


@dataclass(frozen=True)
class Kind:
    """One expectation kind."""

    name: str
    evaluator: Evaluator | str
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)
    uses_judge: bool = False
    non_null: tuple[str, ...] = ()  # fields that may default to None yet must end up set
    # ("a|b": one of them must); groups of fields of which at most one may be given
    exclusive: tuple[tuple[str, ...], ...] = ()

    def resolve(self) -> Evaluator:
        """The evaluator callable (imported now if it was registered by dotted name)."""
        if callable(self.evaluator):
            return self.evaluator
        module, _, attr = self.evaluator.partition(":")
        found: Evaluator = getattr(importlib.import_module(module), attr)
        return found


class KindRegistry:
    """Expectation kinds by name. ``register`` refuses to replace a kind unless told to."""

    def __init__(self, kinds: Mapping[str, Kind] | None = None) -> None:
        self._kinds: dict[str, Kind] = dict(kinds or {})

    def register(self, name: str, evaluator: Evaluator | str,
                 fields: Mapping[str, FieldSpec] | None = None, *, uses_judge: bool = False,
                 replace: bool = False) -> Kind:
        """Add kind ``name``: ``evaluator(session, resolved_suite, expectation, trait)`` returns
        an ``Outcome``; ``fields`` maps each suite field of the kind to ``(type, default)``."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"expectation kind name must be an identifier, got {name!r}")
        if name in self._kinds and not replace:
            raise ValueError(f"expectation kind {name!r} is already registered "
                             "(pass replace=True to override it)")
        if not (callable(evaluator) or (isinstance(evaluator, str) and ":" in evaluator)):
            raise ValueError(f"evaluator of kind {name!r} must be callable or 'module:function'")
        spec = {str(k): _field_spec(name, k, v) for k, v in (fields or {}).items()}
        kind = Kind(name, evaluator, spec, uses_judge)
        self._kinds[name] = kind
        return kind

    def copy(self) -> KindRegistry:
        return KindRegistry(self._kinds)

    def __getitem__(self, name: str) -> Kind:
        return self._kinds[name]

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._kinds))

    def __len__(self) -> int:
        return len(self._kinds)

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def evaluator(self, name: str) -> Evaluator:
        return self._kinds[name].resolve()


def _field_spec(kind: str, name: Any, value: Any) -> FieldSpec:
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)):
        raise ValueError(f"field {name!r} of kind {kind!r} must be (type name, default), "
                         f"got {value!r}")
    return value[0], value[1]


_E = "pytest_persona.suites.expectations:"

BUILTIN_KINDS: tuple[Kind, ...] = (
    Kind("steering_raises", _E + "steering_raises",
         {"coeff": ("number", None), "dose": ("number", None), "threshold": ("number", 50.0),
          "require": ("require", "mean")}, uses_judge=True, non_null=("coeff|dose",),
         exclusive=(("coeff", "dose"),)),
    Kind("steering_lowers", _E + "steering_lowers",
         {"coeff": ("number", None), "dose": ("number", None), "threshold": ("number", 20.0),
          "require": ("require", "mean")}, uses_judge=True, non_null=("coeff|dose",),
         exclusive=(("coeff", "dose"),)),
    Kind("coeff_zero_matches_baseline", _E + "coeff_zero_matches_baseline",
         {"n_prompts": ("int", 4), "max_new_tokens": ("int", 16)}),
    Kind("projection_order", _E + "projection_order",
         {"coeff": ("number", None), "dose": ("number", None), "margin": ("number", 0.0)},
         exclusive=(("coeff", "dose"),)),
    Kind("cross_trait_cosine", _E + "cross_trait_cosine",
         {"traits": ("strlist", REQUIRED), "max": ("number", 0.8), "absolute": ("bool", False)}),
    Kind("monotonic", _E + "monotonic",
         {"coefficients": ("numlist", None), "doses": ("numlist", None),
          "min_r": ("number", 0.8)}, uses_judge=True, exclusive=(("coefficients", "doses"),)),
    Kind("coherence_guard", _E + "coherence_guard",
         {"coefficients": ("numlist", None), "doses": ("numlist", None),
          "min": ("number", 50.0), "require": ("require", "mean")}, uses_judge=True,
         exclusive=(("coefficients", "doses"),)),
    Kind("baseline_ceiling", _E + "baseline_ceiling",
         {"max": ("number", REQUIRED), "require": ("require", "mean")}, uses_judge=True),
    Kind("checkpoint_shift", _E + "checkpoint_shift",
         {"max": ("number", REQUIRED), "n_questions": ("int", None),
          "at": ("at", "prompt_last"), "require": ("require", "ci")}),
    Kind("dataset_screen", _E + "dataset_screen",
         {"file": ("str", REQUIRED), "max_mean_difference": ("number", None),
          "max_flagged_fraction": ("number", None), "threshold": ("number", None),
          "baseline": ("baseline", "generate"), "require": ("require", "mean")}),
    Kind("vector_drift", _E + "vector_drift",
         {"file": ("str", REQUIRED), "min_cosine": ("number", 0.9)}),
    Kind("projection_tracks_score", _E + "projection_tracks_score",
         {"min_r": ("number", 0.3)}, uses_judge=True),
    Kind("steering_damage", _E + "steering_damage",
         {"coeff": ("number", None), "dose": ("number", None), "max_kl": ("number", REQUIRED),
          "require": ("require", "mean"), "file": ("str", None), "n_prompts": ("int", None),
          "curve": ("bool", True)}, non_null=("coeff|dose",), exclusive=(("coeff", "dose"),)),
    Kind("judge_agreement", _E + "judge_agreement",
         {"file": ("str", REQUIRED), "min": ("number", REQUIRED),
          "require": ("require", "mean")}, uses_judge=True),
)


def default_registry() -> KindRegistry:
    """A fresh registry holding the built-in kinds."""
    return KindRegistry({k.name: k for k in BUILTIN_KINDS})
