"""errors.py: one root, builtin bases kept, old import paths still give the same classes."""

from __future__ import annotations

import importlib
import inspect
import pickle

import pytest

from pytest_persona import errors

BUILTIN_BASES = {
    "SuiteError": ValueError, "TraitDataError": ValueError, "ScreenInputError": ValueError,
    "PersonaUsageError": ValueError, "CompareUsageError": ValueError,
    "DeviceAssignmentError": ValueError, "ResultsError": ValueError,
    "VectorFileError": ValueError, "ArchiveError": ValueError, "UnknownTraitError": LookupError,
    "ModelLoadError": RuntimeError, "ExtractionError": RuntimeError,
    "MissingScoresError": RuntimeError, "ParquetUnavailable": RuntimeError,
    "EngineError": RuntimeError, "ExpectationFailed": AssertionError,
    "CacheIOError": OSError, "AnchorError": ValueError, "AnchorConflict": ValueError,
    "MissingAnchorsError": ValueError,
}
OLD_HOMES = {
    "pytest_persona.traits.loader": ["TraitDataError", "UnknownTraitError"],
    "pytest_persona.suites.schema": ["SuiteError"],
    "pytest_persona.suites.expectations": ["NeedsReferenceModel", "PersonaUsageError",
                                           "NotForThisModel"],
    "pytest_persona.judges.base": ["MissingScoresError"],
    "pytest_persona.cache.archive": ["ArchiveError"],
    "pytest_persona.results.compare": ["CompareUsageError"],
    "pytest_persona.results.document": ["ResultsError"],
    "pytest_persona.pipeline.screen": ["ScreenInputError"],
    "pytest_persona.pipeline.extraction": ["ExtractionError"],
    "pytest_persona.plugin.devices": ["DeviceAssignmentError"],
    "pytest_persona.plugin.items": ["ExpectationFailed", "SetupFailed"],
    "pytest_persona.models.loading": ["ModelLoadError"],
    "pytest_persona.core.vectors": ["VectorFileError"],
}


def _classes() -> list[type[BaseException]]:
    return [c for _, c in inspect.getmembers(errors, inspect.isclass)
            if issubclass(c, BaseException) and c.__module__ == errors.__name__]


def test_every_class_has_the_root_and_is_drawn_in_the_docstring() -> None:
    doc = errors.__doc__ or ""
    for cls in _classes():
        assert issubclass(cls, errors.PersonaError), cls
        assert cls.__name__ in doc, f"{cls.__name__} missing from the tree in errors.py"


@pytest.mark.parametrize("name,base", sorted(BUILTIN_BASES.items()))
def test_builtin_base_is_kept(name: str, base: type[BaseException]) -> None:
    assert issubclass(getattr(errors, name), base)


@pytest.mark.parametrize("module,names", sorted(OLD_HOMES.items()))
def test_old_homes_export_the_same_class(module: str, names: list[str]) -> None:
    mod = importlib.import_module(module)
    for name in names:
        assert getattr(mod, name) is getattr(errors, name)


def test_located_errors_read_as_before_and_pickle() -> None:
    s = errors.SuiteError("s.yaml", 3, "expectations[0].kind", "unknown kind")
    assert str(s) == "s.yaml:3: field 'expectations[0].kind': unknown kind"
    assert str(errors.SuiteError("s.yaml", 1, "", "empty")) == "s.yaml:1: empty"
    t = errors.TraitDataError("t.json", 7, "questions", "not a list")
    assert str(t) == "t.json:7: field 'questions': not a list"
    assert str(errors.TraitDataError("t.json", 7, None, "bad")) == "t.json:7: bad"
    sc = errors.ScreenInputError("d.jsonl", 2, "no 'answer'")
    assert str(sc) == "d.jsonl:2: no 'answer'"
    for exc in (s, t, sc):
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc) and str(back) == str(exc) and back.line == exc.line


@pytest.mark.parametrize("old,new", [
    ("pytest_persona.report.results", "pytest_persona.results.document"),
    ("pytest_persona.report.compare", "pytest_persona.results.compare"),
    ("pytest_persona.report.paired", "pytest_persona.results.paired"),
    ("pytest_persona.report.calibration", "pytest_persona.results.calibration"),
])
def test_moved_modules_warn_and_are_the_new_module(old: str, new: str) -> None:
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        mod = importlib.import_module(old)
    assert mod is importlib.import_module(new)


def test_the_old_results_module_names_still_import() -> None:
    from pytest_persona.results import Results, export, load  # the pandas API of 0.1.0
    from pytest_persona.results.frames import Results as R2

    assert Results is R2 and callable(load) and callable(export)
