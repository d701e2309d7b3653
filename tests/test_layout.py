"""The package's floors: a module imports only from its own floor or the floors below."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_persona"
FLOORS: dict[str, int] = {
    "_util": 0, "errors": 0,
    "core": 1, "traits": 1, "judges": 1, "report": 1, "results": 1,
    "models": 2, "cache": 2, "engines": 2,
    "pipeline": 3,
    "suites": 4, "integrations": 4,
    "plugin": 5, "cli": 5,
}


def _floor(dotted: str) -> int | None:
    parts = dotted.split(".")
    if parts[0] != "pytest_persona" or len(parts) < 2:
        return None
    return FLOORS.get(parts[1])


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] in FLOORS
                 or p.stem in FLOORS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_upward_imports(path: Path) -> None:
    rel = path.relative_to(PACKAGE)
    own = FLOORS[rel.parts[0] if len(rel.parts) > 1 else rel.stem]
    upward = [f"{rel}:{line} imports {mod}" for line, mod in _imports(path)
              if (floor := _floor(mod)) is not None and floor > own]
    assert not upward, "\n".join(upward)


def test_every_subpackage_has_a_floor() -> None:
    subpackages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert subpackages <= set(FLOORS), subpackages - set(FLOORS)
