"""Hooks that pytest-persona adds to pytest, for conftests and other plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_persona.suites.registry import KindRegistry



@pytest.hookspec(historic=True)
def pytest_persona_register_kinds(registry: KindRegistry) -> None:
    """Add expectation kinds that trait suites can use.

    Called once at configure time, and for conftests found later during collection when they
    are registered (historic). Example::

        def pytest_persona_register_kinds(registry):
            registry.register("my_kind", my_evaluator, {"max": ("number", "REQUIRED")})

    ``my_evaluator(session, resolved_suite, expectation, trait)`` returns
    ``pytest_persona.suites.expectations.Outcome(passed, message, figures)``.
    """
