"""The pytest plugin: options, fixtures, YAML suite collection, results and reports."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.plugin.devices import configure_worker_devices
from pytest_persona.plugin.html_rows import register as register_html_rows
from pytest_persona.plugin.options import (
    COLLECTOR_KEY,
    OPTIONS,
    SESSION_KEY,
    get_session,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("persona", "pytest-persona: behavioural tests of language models")
    for flag, ini, help_text, kind, default in OPTIONS:
        group.addoption(flag, dest=ini, default=None, help=f"{help_text} (ini: {ini})")
        parser.addini(ini, help_text, type=kind, default=default)  # type: ignore[arg-type]
    group.addoption("--persona-refresh", dest="persona_refresh", action="store_true",
                    default=None, help="recompute everything, ignoring cached results")
    parser.addini("persona_refresh", "recompute everything", type="bool", default=False)
    group.addoption("--persona-compare-fail", dest="persona_compare_fail", action="append",
                    default=None, help="regression rule, e.g. baseline_score:+5 (repeatable)")
    parser.addini("persona_compare_fail", "regression rules", type="linelist", default=[])
    parser.addini("persona_suite_dirs", "directory names whose YAML files are trait suites",
                  type="linelist", default=["trait_suites"])


# -- collection ----------------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "trait(name): a test of one trait (pytest-persona)")
    configure_worker_devices(config)  # before any model loads: one GPU (group) per xdist worker
    register_html_rows(config)  # escaped id cells, only when pytest-html is active
    if not hasattr(config, "workerinput"):
        from pytest_persona.plugin.collector import ResultsCollector

        collector = ResultsCollector(config)
        config.stash[COLLECTOR_KEY] = collector
        config.pluginmanager.register(collector, "persona-results")


def _is_suite(config: pytest.Config, path: Path) -> bool:
    if path.suffix not in (".yaml", ".yml"):
        return False
    dirs = set(config.getini("persona_suite_dirs"))
    if any(part in dirs for part in path.parts[:-1]):
        return True
    return any(Path(str(a).split("::")[0]).resolve() == path.resolve() for a in config.args)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_suite(parent.config, file_path) and "traits" not in file_path.parts[-2:-1]:
        from pytest_persona.plugin.items import SuiteFile

        return SuiteFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    payload = getattr(item, "persona_payload", None)
    if payload is not None and call.when == "call":
        report.persona = json.dumps(payload, default=str)  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session) -> None:
    ps = session.config.stash.get(SESSION_KEY, None)
    if ps is not None:
        ps.close()


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def persona_session(pytestconfig: pytest.Config) -> Any:
    """The shared PersonaSession (model, judges, cache, memoised sweeps)."""
    return get_session(pytestconfig)


@pytest.fixture(scope="session")
def persona_model(persona_session: Any) -> Any:
    """The model under test: a LoadedModel with .model, .tokenizer, .fingerprint (loaded once)."""
    return persona_session.model


@pytest.fixture(scope="session")
def persona_judge(persona_session: Any) -> Any:
    """The trait judge chosen by --judge."""
    return persona_session.judge


@pytest.fixture()
def trait_data(persona_session: Any, request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``trait_data("evil")`` loads trait data; with no argument, the test's trait marker."""

    def load(name: str | None = None) -> Any:
        return persona_session.trait(name or _marker_trait(request))

    return load


@pytest.fixture()
def trait_vectors(persona_session: Any, request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``trait_vectors("evil")``: TraitVectors for the model under test (extracted or cached)."""

    def get(name: str | None = None, **extraction: Any) -> Any:
        trait = persona_session.trait(name or _marker_trait(request))
        return persona_session.vectors(trait, extraction).vectors

    return get


@pytest.fixture()
def persona_steer(persona_session: Any, request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``with persona_steer("evil", coeff=3, layer=14): ...`` steers the model under test."""
    from pytest_persona.core.steering import ActivationSteerer

    def steer(name: str | None = None, coeff: float = 1.0, layer: int = 19,
              positions: str = "response") -> Any:
        trait = persona_session.trait(name or _marker_trait(request))
        vec = persona_session.vectors(trait).vectors[layer]
        return ActivationSteerer(persona_session.model.model, vec, coeff, layer, positions)

    return steer


def _marker_trait(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("trait")
    if marker is None or not marker.args:
        raise pytest.UsageError("name a trait, or mark the test with @pytest.mark.trait('name')")
    return str(marker.args[0])
