"""pytest collectors and items for YAML trait suites."""

from __future__ import annotations

import difflib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_persona._util.redact import redact_secrets
from pytest_persona.errors import ExpectationFailed as ExpectationFailed
from pytest_persona.errors import SetupFailed as SetupFailed
from pytest_persona.suites.registry import KindRegistry, default_registry
from pytest_persona.suites.schema import (
    Expectation,
    Located,
    Suite,
    SuiteError,
    load_located,
    load_suite,
    suite_model_names,
)

CLEAN_ERRORS: tuple[type[BaseException], ...] = ()
#: with the offline judge, the anchors the collected suites declare: trait -> (suite, line,
#: anchors); every item gives them all to the judge (cross_trait_cosine extracts other traits)
ANCHORS_KEY = pytest.StashKey[dict[str, tuple[Path, int, dict[str, list[str]]]]]()


def _clean_errors() -> tuple[type[BaseException], ...]:
    global CLEAN_ERRORS
    if not CLEAN_ERRORS:
        from pytest_persona.core.vectors import VectorFileError
        from pytest_persona.judges import MissingScoresError
        from pytest_persona.models.loading import ModelLoadError
        from pytest_persona.pipeline.extraction import ExtractionError
        from pytest_persona.traits.loader import TraitDataError, UnknownTraitError

        CLEAN_ERRORS = (ExpectationFailed, SetupFailed, SuiteError, ExtractionError, MissingScoresError,
                        ModelLoadError, TraitDataError, UnknownTraitError, VectorFileError)
    return CLEAN_ERRORS


def _suite_trait_paths(config: pytest.Config, suite_path: Path) -> tuple[Path, ...]:
    from pytest_persona.plugin.options import trait_paths

    own = tuple(p.resolve() for p in (suite_path.parent / "traits", suite_path.parent)
                if p.is_dir())
    return own + tuple(p for p in trait_paths(config) if p not in own)


def _unknown_trait(loc: Located, where: tuple[str | int, ...], name: str,
                   paths: tuple[Path, ...]) -> SuiteError | None:
    """A located error for a trait name no search path provides, with the closest known name."""
    from pytest_persona.traits.loader import list_traits

    known = list_traits(paths)
    if name in known:
        return None
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return loc.error(where, f"unknown trait {name!r}{hint} (known traits: "
                     f"{', '.join(known) or 'none'}; put {name}.json in "
                     f"{loc.path.parent / 'traits'} or use trait_file:)")


def _trait_file(name: str, paths: tuple[Path, ...]) -> Path | None:
    """The file that provides trait ``name``: the search paths in order, then the built-ins."""
    from pytest_persona.traits.loader import BUILTIN_TRAITS_DIR

    return next((d / f"{name}.json" for d in (*paths, BUILTIN_TRAITS_DIR)
                 if (d / f"{name}.json").is_file()), None)


def _trait_name_fields(config: pytest.Config, kind: str) -> list[str]:
    """Fields of a kind that hold lists of trait names (type ``strlist``)."""
    return [f for f, (checker, _) in kinds(config)[kind].fields.items() if checker == "strlist"]


def kinds(config: pytest.Config) -> KindRegistry:
    """The run's expectation kinds (built-ins plus those registered through the hook)."""
    from pytest_persona.plugin.options import KINDS_KEY

    registry = config.stash.get(KINDS_KEY, None)
    return registry if registry is not None else default_registry()


def _offline_judge(config: pytest.Config) -> bool:
    """Whether --judge resolves to the offline judge (as the session will resolve it)."""
    from pytest_persona.judges import resolve_judge_spec
    from pytest_persona.plugin.options import opt

    try:
        spec, _ = resolve_judge_spec(str(opt(config, "persona_judge")))
    except ValueError:
        return False  # reported by the option's own check
    return spec.partition(":")[0] == "offline"


def _needs_trait_judge(config: pytest.Config, kind: str) -> bool:
    """Whether an expectation of ``kind`` needs the trait judge: a kind that scores answers
    (``uses_judge``), and every built-in kind (those that score nothing extract the trait's
    vector, and extraction keeps the pairs the judge scores as showing the trait)."""
    from pytest_persona.suites.registry import BUILTIN_KINDS

    registry = kinds(config)
    return (kind in registry and registry[kind].uses_judge) or kind in {
        k.name for k in BUILTIN_KINDS}


def _anchors_error(config: pytest.Config, loc: Located, suite: Suite) -> SuiteError | None:
    """With the offline judge, one located error for a suite whose trait it cannot score: no
    shipped anchors and none declared, declared ones for a trait it ships anchors for, or
    other anchors than an earlier suite of the run declares for the trait. Declared anchors
    are noted in the config's stash (:data:`ANCHORS_KEY`)."""
    from pytest_persona.judges.offline import load_anchors, missing_anchors_message

    if not any(_needs_trait_judge(config, e.kind) for e in suite.expectations):
        return None
    if not _offline_judge(config):
        return None
    shipped = load_anchors()
    name = suite.judged_trait
    if suite.anchors is None:
        if name in shipped:  # each suite of a custom trait declares them (or names one file)
            return None
        where: tuple[str | int, ...] = ("trait",) if "trait" in loc.data else ("trait_file",)
        return loc.error(where, missing_anchors_message(name, list(shipped)))
    if name in shipped and suite.anchors != shipped[name]:
        return loc.error(("judge", "anchors"), f"the offline judge ships anchors for {name!r}; "
                         "one run scores a trait with one set of anchors, so give your trait "
                         "another name (its trait file's name) or drop this section")
    declared = config.stash.setdefault(ANCHORS_KEY, {})
    earlier = declared.get(name)
    if earlier is not None and earlier[2] != suite.anchors:
        return loc.error(("judge", "anchors"), f"{earlier[0]}:{earlier[1]} declares other "
                         f"anchors for trait {name!r}; one run scores a trait with one set of "
                         "anchors: declare the same ones (both suites may name one anchors "
                         "file) or give one of the traits another name")
    declared.setdefault(name, (loc.path, loc.line(("judge", "anchors")), suite.anchors))
    return None


class SuiteFile(pytest.File):
    """A trait suite YAML file: one item per expectation."""

    def collect(self) -> Iterator[pytest.Item]:
        from pytest_persona.plugin.options import (
            SUITE_EXTRACTION_KEY,
            SUITE_PATHS_KEY,
            profile_name,
        )

        try:
            located = load_located(self.path)
            model = profile_name(self.config, suite_model_names(located))
            suite = load_suite(self.path, model, located, kinds(self.config))
        except SuiteError as exc:
            yield SuiteErrorItem.from_parent(self, name="suite", error=exc)
            return
        self.config.stash.setdefault(SUITE_EXTRACTION_KEY, {}).setdefault(
            suite.trait, []).append((self.path, dict(suite.extraction or {})))
        own = [p for p in (self.path.parent / "traits", self.path.parent) if p.is_dir()]
        self.config.stash.setdefault(SUITE_PATHS_KEY, []).extend(own)
        paths = _suite_trait_paths(self.config, self.path)
        trait_ref: str | Path | tuple[Path, Path] = suite.trait_file or suite.trait
        if suite.trait_file is None:
            error = _unknown_trait(located, ("trait",), suite.trait, paths)
            if error is not None:
                yield SuiteErrorItem.from_parent(self, name="suite", error=error)
                return
            trait_ref = _trait_file(suite.trait, paths) or suite.trait
        xdist = self.config.pluginmanager.hasplugin("xdist")
        anchors_error = _anchors_error(self.config, located, suite)
        if anchors_error is not None:  # one item says it; expectations without a judge run
            yield SuiteErrorItem.from_parent(self, name="offline_judge_anchors",
                                             error=anchors_error)
        for exp in suite.expectations:
            if anchors_error is not None and _needs_trait_judge(self.config, exp.kind):
                continue
            bad = next((e for f in _trait_name_fields(self.config, exp.kind)
                        for j, other in enumerate(exp.params.get(f) or [])
                        if (e := _unknown_trait(located, ("expectations", exp.index, f, j),
                                                str(other), paths)) is not None), None)
            if bad is not None:
                yield SuiteErrorItem.from_parent(self, name=exp.id, error=bad)
                continue
            item = ExpectationItem.from_parent(self, name=exp.id, suite=suite, expectation=exp)
            item.trait_ref = trait_ref
            item.add_marker(pytest.mark.trait(suite.trait))
            if xdist:  # pytest-xdist registers the marker; without it, no such marker exists
                item.add_marker(pytest.mark.xdist_group(name=f"persona-{suite.trait}"))
            reason = exp.xfail_reason(model)
            if reason:
                item.add_marker(pytest.mark.xfail(reason=f"{model}: {reason}", strict=False))
            skip = exp.skip_reason(model)
            if skip:
                item.add_marker(pytest.mark.skip(reason=f"{model}: {skip}"))
            yield item


def preflight(config: pytest.Config, items: list[ExpectationItem]) -> None:
    """Set up what the collected expectations need (the model under test, the reference
    model, the judges); raise :class:`SetupFailed` once if any of it cannot be."""
    from pytest_persona.plugin.options import get_session

    ps = get_session(config)
    registry = kinds(config)
    checks: list[tuple[str, Any]] = [
        (f"the model under test {ps.options.model!r}", lambda: ps.model)]
    if ps.options.reference_model:
        checks.append((f"the reference model {ps.options.reference_model!r}",
                       lambda: ps.reference))
    if any(i.expectation.kind in registry and registry[i.expectation.kind].uses_judge
           for i in items):
        checks.append((f"the judge {ps.options.judge!r}", lambda: _ready(ps.judge)))
        if ps.options.coherence_judge:
            checks.append((f"the coherence judge {ps.options.coherence_judge!r}",
                           lambda: _ready(ps.coherence_judge)))
    for what, check in checks:
        try:
            check()
        except SETUP_ERRORS as exc:
            raise SetupFailed(f"pytest-persona: {what} cannot be used, so no expectation can "
                              f"run: {type(exc).__name__}: {exc}") from exc
    if ps.reference is not None:
        reference_comparable(ps.model.describe(), ps.reference.describe())
    baseline_comparable(config, ps, items)


def junit_figures(figures: dict[str, Any]) -> list[tuple[str, Any]]:
    """The figures a JUnit property can hold (scalars)."""
    return [(k, v) for k, v in figures.items() if isinstance(v, (int, float, str, bool))]


def _ready(judge: Any) -> None:
    """A judge built, and the files it needs present (the offline judge's weights): its
    ``ready()`` raises with the install line when they are not."""
    ready = getattr(judge, "ready", None)
    if callable(ready):
        ready()


def reference_comparable(test: dict[str, Any], ref: dict[str, Any]) -> None:
    """:class:`SetupFailed` naming both models when the reference has another architecture,
    depth or width than the model under test (checkpoint_shift compares checkpoints of one
    model: a projection on another model's residual stream means nothing)."""
    from pytest_persona.results.compare import describe_model, model_mismatches

    bad = model_mismatches(test, ref)
    if bad:
        raise SetupFailed(
            f"pytest-persona: the reference model is not a checkpoint of the model under test "
            f"({', '.join(bad)} differ): model under test {describe_model(test)}, reference "
            f"{describe_model(ref)}; pass --reference-model a checkpoint of the same "
            "architecture and shape")


def _judges(ps: Any, items: list[ExpectationItem]) -> tuple[Any, Any] | None:
    """The run's judge and coherence judge, taught the suites' anchors as the items will teach
    them (so ``identity`` is what the results will record); None when they cannot be built
    here (each item reports that when it runs)."""
    try:
        judge, coherence = ps.judge, ps.coherence_judge
        if items:
            items[0]._teach_judge(judge)
    except SETUP_ERRORS + (SuiteError,):
        return None
    return judge, coherence


def baseline_comparable(config: pytest.Config, ps: Any, items: list[ExpectationItem]) -> None:
    """With ``--persona-compare``, :class:`SetupFailed` before anything runs when the baseline
    comes from another architecture, depth or width, a trait's layer or data differ, or a
    rule compares scores of a trait that another judge scored (``Judge.identity``)."""
    from pytest_persona.plugin.collector import configured_rules
    from pytest_persona.plugin.options import opt, profile_name
    from pytest_persona.results.calibration import expand_rules
    from pytest_persona.results.compare import (
        CompareUsageError,
        check_comparable,
        metric_judges,
        parse_rule,
    )
    from pytest_persona.results.document import ResultsError, load_results

    path = opt(config, "persona_compare")
    if not path:
        return
    try:
        baseline = load_results(path)
        rules = expand_rules(configured_rules(config), baseline, str(path))
        scored = any(metric_judges(parse_rule(rule).metric) for rule in rules)
    except (ResultsError, OSError, ValueError, RecursionError):
        return  # reported as a usage error at session start
    judges = _judges(ps, items) if scored else None  # no rule on scores: no judge to build
    traits: dict[str, dict[str, Any]] = {}
    for item in items:
        try:
            trait = ps.trait(item.trait_ref)
            rs = item.suite.for_model(profile_name(config, item.suite.models))
        except Exception:  # noqa: BLE001 - the item reports its own error when it runs
            continue
        section = traits.setdefault(trait.name, {"layer": rs.layer,
                                                 "data_sha256": trait.sha256})
        if judges is not None:
            section["judge_identity"] = judges[0].identity(trait.name)
            section["coherence_judge_identity"] = judges[1].identity("coherence")
    try:
        check_comparable({"model": ps.model.describe(), "traits": traits}, baseline, str(path),
                         rules)
    except CompareUsageError as exc:
        raise SetupFailed(f"pytest-persona: --persona-compare: {exc}") from None


SETUP_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, ValueError, OSError, ImportError,
                                                 LookupError)


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
        return self.path, self.error.line - 1, f"invalid suite ({self.path.name})"


class ExpectationItem(pytest.Item):
    """One declarative expectation, evaluated against the model under test."""

    def __init__(self, *, suite: Suite, expectation: Expectation, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.expectation = expectation
        self.persona_payload: dict[str, Any] | None = None
        self.persona_fatal: str | None = None
        self.trait_ref: str | Path | tuple[Path, Path] = suite.trait_file or suite.trait

    def _where(self, field: str) -> str:
        exp = self.expectation
        line = self.suite.located.line(("expectations", exp.index, field))
        return f"{self.suite.path}:{line}: field 'expectations[{exp.index}].{field}'"

    def _teach_judge(self, judge: Any) -> None:
        """Give the offline judge the anchors the run's suites declare (``judge: {anchors:
        ...}``); a conflict with anchors it already has is an error at the declaring suite's
        line. Other judges read the trait's eval prompt and need no anchors."""
        from pytest_persona.judges.offline import OfflineJudge

        if not isinstance(judge, OfflineJudge):
            return
        for trait, (path, line, anchors) in self.config.stash.get(ANCHORS_KEY, {}).items():
            try:
                judge.adopt_anchors(trait, anchors["high"], anchors["low"])
            except ValueError as exc:
                raise SuiteError(path, line, "judge.anchors", f"trait {trait!r}: {exc}") from None

    def runtest(self) -> None:
        from pytest_persona.plugin.options import get_session, profile_name
        from pytest_persona.suites.expectations import NeedsReferenceModel, NotForThisModel

        ps = get_session(self.config)
        exp = self.expectation
        model_name = profile_name(self.config, self.suite.models)
        rs = self.suite.for_model(model_name)
        trait = ps.trait(self.trait_ref)
        try:
            loaded = ps.model
        except SETUP_ERRORS as exc:
            # reached on xdist workers (the controller has no items to check before the run)
            self.persona_fatal = f"the model under test cannot be used: {exc}"
            self.session.shouldstop = f"pytest-persona: {self.persona_fatal}"
            raise
        registry = kinds(self.config)
        if exp.kind in registry and registry[exp.kind].uses_judge:
            try:  # as the preflight, for xdist workers: one stop, not every item failing
                _ready(ps.judge)
            except SETUP_ERRORS as exc:
                self.persona_fatal = f"the judge {ps.options.judge!r} cannot be used: {exc}"
                self.session.shouldstop = f"pytest-persona: {self.persona_fatal}"
                raise SetupFailed(f"pytest-persona: {self.persona_fatal}") from exc
        if self.config.stash.get(ANCHORS_KEY, None):  # also kinds that score only by extracting
            self._teach_judge(ps.judge)
        if not 0 <= rs.layer < loaded.n_layers:
            line, field = self.suite.layer_line(model_name)
            raise SuiteError(self.suite.path, line, field,
                             f"layer {rs.layer} is out of range for {ps.options.model}, which has "
                             f"{loaded.n_layers} decoder blocks (0..{loaded.n_layers - 1}); set "
                             f"models.{model_name}.layer in the suite")
        if exp.kind == "checkpoint_shift" and ps.options.reference_model:
            reference = ps.reference
            assert reference is not None  # options.reference_model is set
            try:  # the controller's preflight checked this already, except under xdist
                reference_comparable(loaded.describe(), reference.describe())
            except SetupFailed as exc:
                self.persona_fatal = str(exc)
                raise
        if exp.absent:
            pytest.skip(f"{self._where(exp.absent[0])}: the suite gives no value for "
                        f"{ps.options.model} (profile {model_name})")
        started = time.monotonic()
        try:
            outcome = kinds(self.config).evaluator(exp.kind)(ps, rs, exp, trait)
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
            "section": {**ps.sections.get(trait.name, {}), "layer": rs.layer,
                        "positions": rs.positions, "data_sha256": trait.sha256},
            "cosine": getattr(ps, "cosine", None),
            "session": ps.describe(),
        }
        if self.config.getini("junit_family") == "xunit1":  # xunit2: suite-level, see
            for key, value in junit_figures(outcome.figures):  # collector.junit_properties
                self.user_properties.append((f"persona.{key}", value))
        if not outcome.passed:
            raise ExpectationFailed(outcome.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
                     ) -> str | Any:
        tb = self.config.getoption("tbstyle", "auto")
        if isinstance(excinfo.value, (ValueError, OSError)) and not isinstance(
                excinfo.value, _clean_errors()) and tb not in ("long", "native"):
            return redact_secrets(f"{type(excinfo.value).__name__}: {excinfo.value}\n"
                                  "(run with --tb=long for the traceback)")
        if isinstance(excinfo.value, _clean_errors()):
            prefix = "" if isinstance(excinfo.value, ExpectationFailed) else (
                f"{type(excinfo.value).__name__}: ")
            return redact_secrets(f"{prefix}{excinfo.value}")
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int, str]:
        # not a suffix of the node id: pytest -v then prints the node id itself (a suffix
        # would be rewritten, '.' to '::', into an id that cannot be pasted back)
        return self.path, self.expectation.line - 1, f"{self.name} ({self.path.name})"
