"""Old import paths kept for one release: importing one warns and yields the module's new home.

A module that moved is not left behind as a second file: a meta-path finder answers its old dotted
name with the new module object (so ``isinstance`` checks and monkeypatches see one module).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Mapping, Sequence
from types import ModuleType

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
