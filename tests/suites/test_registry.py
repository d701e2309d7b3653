"""The expectation-kind registry: built-ins, registration rules, and its use by the schema."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from pytest_persona.suites import expectations
from pytest_persona.suites.registry import REQUIRED, KindRegistry, default_registry
from pytest_persona.suites.schema import CHECKERS, SuiteError, load_suite


def test_every_builtin_kind_resolves_to_its_evaluator() -> None:
    reg = default_registry()
    assert len(reg) == 14
    for name in reg:
        fn = reg.evaluator(name)
        assert fn is getattr(expectations, name)
        assert list(inspect.signature(fn).parameters)[:4] == ["ps", "rs", "exp", "t"]
        assert all(checker in CHECKERS for checker, _ in reg[name].fields.values()), name


def test_register_refuses_duplicates_and_malformed_kinds() -> None:
    reg = default_registry()
    with pytest.raises(ValueError, match="already registered"):
        reg.register("monotonic", lambda *a: None)
    reg.register("monotonic", lambda *a: None, replace=True)
    with pytest.raises(ValueError, match="identifier"):
        reg.register("my kind", lambda *a: None)
    with pytest.raises(ValueError, match=r"\(type name, default\)"):
        reg.register("mine", lambda *a: None, {"max": 3})  # type: ignore[dict-item]  # malformed on purpose
    with pytest.raises(ValueError, match="callable"):
        reg.register("mine", "not_a_reference")
    assert "mine" not in reg


def test_registries_are_independent() -> None:
    a = default_registry()
    a.register("mine", lambda *a: None)
    assert "mine" not in default_registry() and "mine" not in KindRegistry()
    assert "mine" in a.copy()


def test_schema_validates_a_registered_kind(tmp_path: Path) -> None:
    reg = default_registry()
    reg.register("length_cap", lambda *a: None, {"max_chars": ("int", REQUIRED),
                                                 "strict": ("bool", False)})
    path = tmp_path / "s.yaml"
    path.write_text("trait: evil\nexpectations:\n  - {kind: length_cap, max_chars: 40}\n")
    suite = load_suite(path, kinds=reg)
    assert suite.expectations[0].params == {"max_chars": 40, "strict": False}
    with pytest.raises(SuiteError, match="unknown expectation kind 'length_cap'"):
        load_suite(path)  # the built-ins alone do not know it
    path.write_text("trait: evil\nexpectations:\n  - kind: length_cap\n    max_chars: -1\n")
    with pytest.raises(SuiteError, match=r"s.yaml:4: field 'expectations\[0\].max_chars': "
                                         "must be a positive integer"):
        load_suite(path, kinds=reg)
    reg.register("odd", lambda *a: None, {"x": ("colour", None)})
    path.write_text("trait: evil\nexpectations:\n  - {kind: odd, x: red}\n")
    with pytest.raises(SuiteError, match="field type 'colour'"):
        load_suite(path, kinds=reg)
