"""Old names kept for one release: each use warns (DeprecationWarning) and reaches the new name.

- A module that moved is not left behind as a second file: a meta-path finder answers its old
  dotted name with the new module object (so ``isinstance`` checks and monkeypatches see one
  module).
- A renamed keyword argument: :func:`renamed_keyword` on the function or class.
- A renamed module constant: :func:`module_alias`, called from the module's ``__getattr__``.
- A renamed attribute: a property that calls :func:`warn_renamed` and returns the new one.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

MOVED_MODULES: Mapping[str, str] = {
    "pytest_persona.report.results": "pytest_persona.results.document",
    "pytest_persona.report.paired": "pytest_persona.results.paired",
    "pytest_persona.report.compare": "pytest_persona.results.compare",
    "pytest_persona.report.calibration": "pytest_persona.results.calibration",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} moved to {self.new}; the old path goes in the next release",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """The new module is already executed."""


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds a moved module under its old name."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        new = MOVED_MODULES.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is now called ``new`` (``stacklevel`` 3: the caller of the alias)."""
    warnings.warn(f"{old} is now {new}; the old name goes in the next release",
                  DeprecationWarning, stacklevel=stacklevel)


def renamed_keyword(old: str, new: str) -> Callable[[F], F]:
    """Decorate a function (or a class, for its constructor) whose keyword ``old`` is now
    ``new``: a call passing ``old=`` warns and is passed on as ``new=``; both is a TypeError."""

    def wrap(target: F) -> F:
        is_class = isinstance(target, type)
        func: Callable[..., Any] = target.__init__ if is_class else target
        name = target.__qualname__

        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{name}() got both {old}= and its new name {new}=")
                warn_renamed(f"{name}({old}=)", f"{new}=")
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        if is_class:
            type.__setattr__(target, "__init__", inner)
            return target
        return cast(F, inner)

    return wrap


def module_alias(module: str, name: str, aliases: Mapping[str, str]) -> Any:
    """The body of a module's ``__getattr__``: ``aliases`` maps old names to new ones."""
    if name in aliases:
        warn_renamed(f"{module}.{name}", f"{module}.{aliases[name]}", stacklevel=4)
        return getattr(sys.modules[module], aliases[name])
    raise AttributeError(f"module {module!r} has no attribute {name!r}")
