"""The renamed-name helpers of ``_util.deprecated``: the old name warns and reaches the new one."""

from __future__ import annotations

import sys
import types
import warnings
from dataclasses import dataclass

import pytest

from pytest_persona._util.deprecated import module_alias, renamed_keyword, warn_renamed


@renamed_keyword("kind", "pooling")
def pick(value: int, pooling: str = "mean") -> tuple[int, str]:
    return value, pooling


@renamed_keyword("kind", "origin")
@dataclass(frozen=True)
class Spec:
    name: str
    origin: str


def test_the_new_keyword_is_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pick(1, pooling="last") == (1, "last")
        assert pick(2, "last") == (2, "last")
        assert Spec("a", origin="hub") == Spec("a", "hub")


def test_the_old_keyword_warns_at_the_caller_and_gives_the_same_result() -> None:
    with pytest.warns(DeprecationWarning, match=r"pick\(kind=\) is now pooling=") as rec:
        assert pick(1, kind="last") == pick(1, pooling="last")  # type: ignore[call-arg]
    assert rec[0].filename == __file__
    with pytest.warns(DeprecationWarning, match=r"Spec\(kind=\) is now origin="):
        assert Spec("a", kind="hub") == Spec("a", origin="hub")  # type: ignore[call-arg]


def test_both_names_at_once_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="both kind= and its new name pooling="):
        pick(1, kind="a", pooling="b")  # type: ignore[call-arg]


def test_module_alias_warns_and_returns_the_new_constant() -> None:
    mod = types.ModuleType("pp_alias_probe")
    setattr(mod, "NEW", ("a", "b"))
    setattr(mod, "__getattr__", lambda name: module_alias(mod.__name__, name, {"OLD": "NEW"}))
    sys.modules[mod.__name__] = mod
    try:
        with pytest.warns(
            DeprecationWarning, match=r"pp_alias_probe.OLD is now pp_alias_probe.NEW"
        ):
            assert mod.OLD is mod.NEW
        with pytest.raises(AttributeError, match="has no attribute 'MISSING'"):
            _ = mod.MISSING
    finally:
        del sys.modules[mod.__name__]


def test_warn_renamed_names_both() -> None:
    with pytest.warns(DeprecationWarning, match="A.kind is now A.origin; the old name goes"):
        warn_renamed("A.kind", "A.origin", stacklevel=2)
