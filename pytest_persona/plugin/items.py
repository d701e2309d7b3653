"""pytest collectors and items for YAML trait suites."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_persona.suites.schema import (
    Expectation,
    Suite,
    SuiteError,
    load_located,
    load_suite,
    suite_model_names,
)

CLEAN_ERRORS: tuple[type[BaseException], ...] = ()


class ExpectationFailed(AssertionError):
    """An expectation did not hold; the message carries the numbers."""


def _clean_errors() -> tuple[type[BaseException], ...]:
    global CLEAN_ERRORS
    if not CLEAN_ERRORS:
        from pytest_persona.core.vectors import VectorFileError
        from pytest_persona.judges import MissingScoresError
        from pytest_persona.models.loading import ModelLoadError
        from pytest_persona.pipeline.extraction import ExtractionError
        from pytest_persona.traits.loader import TraitDataError, UnknownTraitError

        CLEAN_ERRORS = (ExpectationFailed, SuiteError, ExtractionError, MissingScoresError,
                        ModelLoadError, TraitDataError, UnknownTraitError, VectorFileError)
    return CLEAN_ERRORS


class SuiteFile(pytest.File):
    """A ``trait_suites/*.yaml`` file: one item per expectation."""

    def collect(self) -> Iterator[pytest.Item]:
        from pytest_persona.plugin.options import profile_name

        try:
            located = load_located(self.path)
            model = profile_name(self.config, suite_model_names(located))
            suite = load_suite(self.path, model, located)
        except SuiteError as exc:
            yield SuiteErrorItem.from_parent(self, name="suite", error=exc)
            return
        for exp in suite.expectations:
            item = ExpectationItem.from_parent(self, name=exp.id, suite=suite, expectation=exp)
            item.add_marker(pytest.mark.trait(suite.trait))
            item.add_marker(pytest.mark.xdist_group(name=f"persona-{suite.trait}"))
            reason = exp.xfail_reason(model)
            if reason:
                item.add_marker(pytest.mark.xfail(reason=f"{model}: {reason}", strict=False))
            skip = exp.skip_reason(model)
            if skip:
                item.add_marker(pytest.mark.skip(reason=f"{model}: {skip}"))
            yield item


class SuiteErrorItem(pytest.Item):
    """Stands for a suite that could not be parsed: fails with the located message."""

    def __init__(self, *, error: SuiteError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
                     ) -> str:
        return f"invalid trait suite: {excinfo.value}"

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, self.error.line - 1, f"{self.path.name}: invalid suite"


class ExpectationItem(pytest.Item):
    """One declarative expectation, evaluated against the model under test."""

    def __init__(self, *, suite: Suite, expectation: Expectation, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.expectation = expectation
        self.persona_payload: dict[str, Any] | None = None

    def _where(self, field: str) -> str:
        exp = self.expectation
        line = self.suite.located.line(("expectations", exp.index, field))
        return f"{self.suite.path}:{line}: field 'expectations[{exp.index}].{field}'"

    def runtest(self) -> None:
        from pytest_persona.plugin.options import get_session, profile_name
        from pytest_persona.suites.expectations import (
            EVALUATORS,
            NeedsReferenceModel,
            NotForThisModel,
        )

        ps = get_session(self.config)
        exp = self.expectation
        model_name = profile_name(self.config, self.suite.models)
        rs = self.suite.for_model(model_name)
        trait = ps.trait(self.suite.trait_file or self.suite.trait)
        loaded = ps.model
        if not 0 <= rs.layer < loaded.n_layers:
            line, field = self.suite.layer_line(model_name)
            raise SuiteError(self.suite.path, line, field,
                             f"layer {rs.layer} is out of range for {ps.options.model}, which has "
                             f"{loaded.n_layers} decoder blocks (0..{loaded.n_layers - 1}); set "
                             f"models.{model_name}.layer in the suite")
        if exp.absent:
            pytest.skip(f"{self._where(exp.absent[0])}: the suite gives no value for "
                        f"{ps.options.model} (profile {model_name})")
        started = time.monotonic()
        try:
            outcome = EVALUATORS[exp.kind](ps, rs, exp, trait)
        except NotForThisModel as exc:
            pytest.skip(f"{self._where('kind')}: {exc}")
        except NeedsReferenceModel:
            pytest.skip(f"{self._where('kind')}: {exp.kind} needs --reference-model "
                        "(a checkpoint of the same architecture to compare against)")
        except BaseException:
            self.persona_payload = {"session": ps.describe()}  # usage counts even when it raises
            raise
        self.persona_payload = {
            "suite": str(self.suite.path.relative_to(self.config.rootpath)
                         if self.suite.path.is_relative_to(self.config.rootpath)
                         else self.suite.path),
            "trait": trait.name, "kind": exp.kind, "name": exp.id,
            "message": outcome.message, "figures": outcome.figures,
            "duration_s": time.monotonic() - started,
            "section": ps.sections.get(trait.name, {}),
            "cosine": getattr(ps, "cosine", None),
            "session": ps.describe(),
        }
        for key, value in outcome.figures.items():
            if isinstance(value, (int, float, str, bool)):
                self.user_properties.append((f"persona.{key}", value))
        if not outcome.passed:
            raise ExpectationFailed(outcome.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
                     ) -> str | Any:
        tb = self.config.getoption("tbstyle", "auto")
        if isinstance(excinfo.value, (ValueError, OSError)) and not isinstance(
                excinfo.value, _clean_errors()) and tb not in ("long", "native"):
            return (f"{type(excinfo.value).__name__}: {excinfo.value}\n"
                    "(run with --tb=long for the traceback)")
        if isinstance(excinfo.value, _clean_errors()):
            prefix = "" if isinstance(excinfo.value, ExpectationFailed) else (
                f"{type(excinfo.value).__name__}: ")
            return f"{prefix}{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, self.expectation.line - 1, f"{self.path.name}::{self.name}"
