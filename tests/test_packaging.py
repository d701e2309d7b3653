"""The package declares exactly what it imports; LICENSE and the SPDX license field."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
#: import name -> distribution name, where they differ
DIST = {"yaml": "pyyaml", "huggingface_hub": "huggingface-hub", "pyarrow": "pyarrow",
        "_pytest": "pytest"}  # pytest's own internals (junitxml's xml_key) ship with pytest
#: declared without being imported: used by transformers for features we rely on, or by pytest
NOT_IMPORTED = {"accelerate": "device_map='auto' on GPUs", "gguf": "the embedded GGUF model",
                "pytest-html": "the --html report the plugin extends"}
#: imported lazily behind an optional extra
OPTIONAL = {"peft": "peft", "pyarrow": "parquet", "vllm": "vllm"}


def _name(requirement: str) -> str:
    for sep in "<>=[;! ~":
        requirement = requirement.split(sep)[0]
    return requirement.strip().lower().replace("_", "-")


def _third_party_imports() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "pytest_persona").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    stdlib = set(sys.stdlib_module_names) | {"__future__", "pytest_persona"}
    return {m for m in found if m not in stdlib}


def test_dependencies_are_exactly_the_imports() -> None:
    declared = {_name(r) for r in PYPROJECT["dependencies"]}
    imported = {_name(DIST.get(m, m)) for m in _third_party_imports()}
    optional = {_name(DIST.get(m, m)) for m in OPTIONAL}
    assert imported - optional <= declared, f"imported, not declared: {imported - declared}"
    unused = declared - imported - set(NOT_IMPORTED)
    assert not unused, f"declared, never imported: {unused}"
    extras = PYPROJECT["optional-dependencies"]
    for module, extra in OPTIONAL.items():
        assert _name(DIST.get(module, module)) in imported - declared
        assert _name(DIST.get(module, module)) in {_name(r) for r in extras[extra]}
    for gone in ("matplotlib", "tqdm"):
        assert gone not in declared


def test_license_file_and_spdx_field() -> None:
    assert PYPROJECT["license"] == "Apache-2.0"
    assert PYPROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


@pytest.mark.parametrize("module", ["matplotlib", "tqdm"])
def test_dropped_packages_are_not_imported(module: str) -> None:
    assert module not in _third_party_imports()
