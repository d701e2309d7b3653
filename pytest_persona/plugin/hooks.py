"""The pytest plugin: options, fixtures, YAML suite collection, results and reports."""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_persona.core.positions import EVALUATION_DEFAULT, REFERENCE_LAYER, Positions
from pytest_persona.plugin.devices import configure_worker_devices
from pytest_persona.plugin.html_rows import register as register_html_rows
from pytest_persona.plugin.options import (
    COLLECTOR_KEY,
    KINDS_KEY,
    SESSION_KEY,
    VALUES_KEY,
    add_aliases,
    add_options,
    get_session,
    parse_values,
)

if TYPE_CHECKING:
    from pytest_persona.core.steering import ActivationSteerer
    from pytest_persona.core.vectors import TraitVectors
    from pytest_persona.judges.base import Judge
    from pytest_persona.models.loading import LoadedModel
    from pytest_persona.suites.session import PersonaSession
    from pytest_persona.traits.loader import TraitData

NOT_COLLECTED_KEY = pytest.StashKey[list[str]]()
FATAL_KEY = pytest.StashKey[str]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_persona.plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser
                                  ) -> Iterator[None]:
    """The short aliases (``--model`` ...) are added once the initial conftests have added their
    own options, so that a conftest defining ``--model`` keeps it and pytest still starts."""
    result = yield
    for line in add_aliases(early_config, parser):
        early_config.issue_config_time_warning(pytest.PytestConfigWarning(line), stacklevel=2)
    return result


# -- configuration and collection ------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "trait(name): a test of one trait (pytest-persona)")
    config.stash[VALUES_KEY] = parse_values(config)  # a bad value: UsageError, exit code 4
    configure_worker_devices(config)  # before any model loads: one GPU (group) per xdist worker
    register_html_rows(config)  # escaped id cells, only when pytest-html is active
    from pytest_persona.suites.registry import default_registry

    registry = default_registry()
    config.stash[KINDS_KEY] = registry
    config.hook.pytest_persona_register_kinds.call_historic(kwargs={"registry": registry})
    config.stash[NOT_COLLECTED_KEY] = []
    if not hasattr(config, "workerinput"):
        from pytest_persona.plugin.collector import ResultsCollector

        collector = ResultsCollector(config)
        config.stash[COLLECTOR_KEY] = collector
        config.pluginmanager.register(collector, "persona-results")
        config.pluginmanager.register(_FatalWatch(config), "persona-fatal")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    from pytest_persona.plugin.discovery import suite_decision

    collect, reason = suite_decision(parent.config, file_path)
    if collect:
        from pytest_persona.plugin.items import SuiteFile

        return SuiteFile.from_parent(parent, path=file_path)
    if reason:
        parent.config.stash[NOT_COLLECTED_KEY].append(f"{file_path}: {reason}")
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which generation engine the run uses, and why (``--persona-engine``)."""
    note = config.stash.get(VALUES_KEY, {}).get("persona_engine_note")
    return [f"pytest-persona: {note}"] if note else []


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    """With ``-v``: each YAML file that looks like a trait suite but was not collected, and why."""
    skipped = config.stash.get(NOT_COLLECTED_KEY, [])
    if not skipped or config.get_verbosity() < 1:
        return []
    return ["pytest-persona: not collected as trait suites:", *(f"  {s}" for s in skipped)]


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first expectation runs, a model that cannot load or a judge that cannot be
    built stops the session once, as a usage error, instead of failing every item."""
    if session.config.option.collectonly or hasattr(session.config, "workerinput"):
        return
    from pytest_persona.plugin.items import ExpectationItem, SetupFailed, preflight

    items = [i for i in session.items if isinstance(i, ExpectationItem)]
    if items:
        try:
            preflight(session.config, items)
        except SetupFailed as exc:
            raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    payload = getattr(item, "persona_payload", None)
    if payload is not None and call.when == "call":
        report.persona = json.dumps(payload, default=str)  # type: ignore[attr-defined]
    fatal = getattr(item, "persona_fatal", None)
    if fatal and call.when == "call":
        report.persona_fatal = fatal  # type: ignore[attr-defined]
    return report


class _FatalWatch:
    """Notes a setup failure (model or judge) reported by any item, also from xdist workers,
    so that the session's exit code becomes 4."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        fatal = getattr(report, "persona_fatal", None)
        if fatal:
            self.config.stash[FATAL_KEY] = str(fatal)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    ps = session.config.stash.get(SESSION_KEY, None)
    if ps is not None:
        ps.close()
    if session.config.stash.get(FATAL_KEY, None):
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def persona_session(pytestconfig: pytest.Config) -> PersonaSession:
    """The shared PersonaSession (model, judges, cache, memoised sweeps)."""
    return get_session(pytestconfig)


@pytest.fixture(scope="session")
def persona_model(persona_session: PersonaSession) -> LoadedModel:
    """The model under test: a LoadedModel with .model, .tokenizer, .fingerprint (loaded once)."""
    return persona_session.model


@pytest.fixture(scope="session")
def persona_judge(persona_session: PersonaSession) -> Judge:
    """The trait judge chosen by --judge."""
    return persona_session.judge


@pytest.fixture()
def trait_data(persona_session: PersonaSession, request: pytest.FixtureRequest
               ) -> Callable[..., TraitData]:
    """``trait_data("evil")`` loads trait data; with no argument, the test's trait marker."""

    def load(name: str | None = None) -> TraitData:
        return persona_session.trait(name or _marker_trait(request))

    return load


@pytest.fixture()
def trait_vectors(persona_session: PersonaSession, request: pytest.FixtureRequest
                  ) -> Callable[..., TraitVectors]:
    """``trait_vectors("evil")``: TraitVectors for the model under test (extracted or cached)."""

    def get(name: str | None = None, **extraction: Any) -> TraitVectors:
        trait = persona_session.trait(name or _marker_trait(request))
        params = extraction or suite_extraction(request.config, trait.name)
        return persona_session.vectors(trait, params).vectors

    return get


@pytest.fixture()
def persona_steer(persona_session: PersonaSession, request: pytest.FixtureRequest
                  ) -> Callable[..., ActivationSteerer]:
    """``with persona_steer("evil", coeff=3, layer=14): ...`` steers the model under test."""
    from pytest_persona.core.steering import ActivationSteerer

    def steer(name: str | None = None, coeff: float = 1.0, layer: int = REFERENCE_LAYER,
              positions: Positions = EVALUATION_DEFAULT) -> ActivationSteerer:
        trait = persona_session.trait(name or _marker_trait(request))
        params = suite_extraction(request.config, trait.name)
        vec = persona_session.vectors(trait, params).vectors[layer]
        return ActivationSteerer(persona_session.model.model, vec, coeff, layer, positions)

    return steer


def suite_extraction(config: pytest.Config, trait: str) -> dict[str, Any]:
    """The ``extraction:`` section of the collected suites of ``trait`` (so the fixtures use
    the suite's vectors, not defaults); ``{}`` when none is collected. Suites of one trait
    that disagree are a usage error naming them: pass the settings to the fixture."""
    from pytest_persona.plugin.options import SUITE_EXTRACTION_KEY

    found = config.stash.get(SUITE_EXTRACTION_KEY, {}).get(trait, [])
    distinct = {repr(sorted(params.items())): params for _path, params in found}
    if len(distinct) > 1:
        files = ", ".join(str(path) for path, _ in found)
        raise pytest.UsageError(
            f"pytest-persona: the suites of trait {trait!r} ({files}) set different "
            "extraction: sections; pass the settings to the fixture, e.g. "
            f"trait_vectors({trait!r}, n_questions=...)")
    return dict(next(iter(distinct.values()))) if distinct else {}


def _marker_trait(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("trait")
    if marker is None or not marker.args:
        raise pytest.UsageError("name a trait, or mark the test with @pytest.mark.trait('name')")
    return str(marker.args[0])
