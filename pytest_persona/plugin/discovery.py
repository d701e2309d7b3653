"""Which YAML files are trait suites.

A YAML file is collected as a suite when it is

* inside a directory named in the ``persona_suite_dirs`` ini value (a bare name matches at any
  depth, e.g. ``trait_suites``; a path is taken from the rootdir), or
* named on the command line, or
* inside a directory named on the command line or in ``testpaths``, and *looks like a suite*: a
  top-level ``trait:`` or ``trait_file:`` key and a top-level ``expectations:`` key.

A file that looks like a suite but is not collected gets a reason, shown with ``-v``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

_TRAIT_KEY = re.compile(r"^(trait|trait_file)[ \t]*:", re.MULTILINE)
_EXPECTATIONS_KEY = re.compile(r"^expectations[ \t]*:", re.MULTILINE)
SNIFF_BYTES = 1 << 20


def looks_like_suite(path: Path) -> bool | None:
    """Whether the file has the top-level keys of a suite; ``None`` if it cannot be read."""
    try:
        with path.open("rb") as fh:
            text = fh.read(SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    return bool(_TRAIT_KEY.search(text) and _EXPECTATIONS_KEY.search(text))


def _arg_paths(config: pytest.Config) -> list[Path]:
    """Paths the user named: command-line arguments, else ``testpaths`` (not the bare
    invocation directory that pytest falls back to)."""
    source = getattr(config, "args_source", None)
    if source not in (pytest.Config.ArgsSource.ARGS, pytest.Config.ArgsSource.TESTPATHS):
        return []
    base = config.invocation_params.dir
    return [(base / str(a).split("::")[0]).resolve() for a in config.args]


def _suite_dir_paths(config: pytest.Config) -> tuple[set[str], list[Path]]:
    names, paths = set(), []
    for entry in config.getini("persona_suite_dirs"):
        if "/" in entry or "\\" in entry:
            paths.append((config.rootpath / entry).resolve())
        else:
            names.add(entry)
            candidate = config.rootpath / entry
            if candidate.is_dir():
                paths.append(candidate.resolve())
    return names, paths


def suite_decision(config: pytest.Config, path: Path) -> tuple[bool, str | None]:
    """``(collect, reason)``: whether ``path`` (a YAML file) is a suite; the reason is set only
    for a file that looks like a suite yet is not collected."""
    resolved = path.resolve()
    names, dir_paths = _suite_dir_paths(config)
    if path.parent.name == "traits":
        return False, _reason_if_suite(path, "it is inside a traits/ directory (trait data)")
    if any(part in names for part in path.parts[:-1]):
        return True, None
    if any(resolved.is_relative_to(d) for d in dir_paths):
        return True, None
    args = _arg_paths(config)
    if resolved in args:
        return True, None
    under_arg = any(a.is_dir() and resolved.is_relative_to(a) for a in args)
    sniff = looks_like_suite(path)
    if under_arg and sniff:
        return True, None
    if sniff is None:
        return False, None
    if not sniff:
        return False, None
    dirs = ", ".join(config.getini("persona_suite_dirs")) or "(none)"
    return False, (f"looks like a trait suite but no directory containing it was named on the "
                   f"command line or in testpaths, and it is not inside persona_suite_dirs "
                   f"({dirs}); pass its directory or add it to persona_suite_dirs")


def _reason_if_suite(path: Path, why: str) -> str | None:
    return f"looks like a trait suite but is not collected: {why}" if looks_like_suite(
        path) else None
