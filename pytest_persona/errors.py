"""Every exception pytest-persona raises on purpose, under one root.

Each class keeps the builtin base that code written against earlier releases catches
(``except ValueError`` still catches a :class:`SuiteError`), and every one is also a
:class:`PersonaError`, so a caller can catch the project's errors and nothing else::

    PersonaError
    ├── LocatedError (ValueError)        file:line: field 'x': message
    │   ├── SuiteError                   a suite YAML file
    │   ├── TraitDataError               a trait data file
    │   └── ScreenInputError             a dataset line given to ``persona screen``
    ├── PersonaUsageError (ValueError)   an option or argument that cannot be honoured
    │   ├── CompareUsageError            a comparison rule these results cannot answer
    │   └── DeviceAssignmentError        xdist workers x GPUs that do not fit
    ├── ResultsError (ValueError)        a results document off its schema
    ├── VectorFileError (ValueError)     a vector file unreadable or not for this model
    ├── ArchiveError (ValueError)        a cache archive unsafe or off its manifest
    ├── AnchorError (ValueError)         offline judge anchors that cannot teach it (which item)
    ├── AnchorConflict (ValueError)      other anchors for a trait the judge already scores
    ├── MissingAnchorsError (ValueError) the offline judge asked for a trait it has no anchors for
    ├── CacheIOError (OSError)           a cache file that cannot be read or written (disk
    │                                    full, I/O error, a file where a folder belongs)
    ├── UnknownTraitError (LookupError)  a trait name nothing provides
    ├── ModelLoadError (RuntimeError)    a model that cannot be resolved or loaded
    ├── ExtractionError (RuntimeError)   no trustworthy vector from this data
    ├── MissingScoresError (RuntimeError) too many judge scores missing to mean anything
    ├── ParquetUnavailable (RuntimeError) parquet asked for without pyarrow
    ├── EngineError (RuntimeError)       a generation engine cannot honour a request
    ├── SetupFailed                      nothing can run: model, reference or judge not set up
    ├── ExpectationFailed (AssertionError) an expectation did not hold
    ├── NeedsReferenceModel              the expectation needs ``--reference-model``
    └── NotForThisModel                  the suite gives no value for this model

This module imports nothing of the project, so every floor may raise from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class PersonaError(Exception):
    """The root of every exception pytest-persona raises on purpose."""


class LocatedError(PersonaError, ValueError):
    """Bad input, located: ``path:line: field 'x': message`` (``field`` may be empty)."""

    def __init__(self, path: str | Path, line: int, field: str | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.reason = message
        super().__init__(self._format(path, line, field, message))

    @staticmethod
    def _format(path: str | Path, line: int, field: str | None, message: str) -> str:
        return f"{path}:{line}: " + (f"field {field!r}: " if field else "") + message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.line, self.field, self.reason))


class SuiteError(LocatedError):
    """A suite problem, located: ``file:line: field 'x.y': message``."""

    def __init__(self, path: str | Path, line: int, field_path: str, message: str) -> None:
        super().__init__(path, line, field_path, message)

    @staticmethod
    def _format(path: str | Path, line: int, field: str | None, message: str) -> str:
        where = f" field '{field}':" if field else ""
        return f"{path}:{line}:{where} {message}"


class TraitDataError(LocatedError):
    """Invalid trait data, located as ``path:line: field 'x': message``."""


class ScreenInputError(LocatedError):
    """A malformed data line: ``file:line: message``."""

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        super().__init__(path, line, None, message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.line, self.reason))


class PersonaUsageError(PersonaError, ValueError):
    """An option or argument that cannot be honoured; the message says which and why."""


class CompareUsageError(PersonaUsageError):
    """A rule cannot be evaluated against these results: a usage error, never a silent pass."""


class DeviceAssignmentError(PersonaUsageError):
    """Workers x GPUs per worker do not fit the visible GPUs, or the input is malformed."""


class ResultsError(PersonaError, ValueError):
    """The results dict or file does not follow the schema; the message names the field."""


class VectorFileError(PersonaError, ValueError):
    """A vector file is unreadable, corrupted, or does not fit the model."""


class ArchiveError(PersonaError, ValueError):
    """The archive is unreadable, unsafe, or does not match its manifest."""


class AnchorError(PersonaError, ValueError):
    """Anchors (example responses) that cannot teach the offline judge; ``where`` locates the
    first problem inside them, e.g. ``("low", 2)``, and ``problem`` says what it is."""

    def __init__(self, where: tuple[str | int, ...], problem: str) -> None:
        self.where = tuple(where)
        self.problem = problem
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.where)
        super().__init__(f"anchors {field[1:]}: {problem}" if field else f"anchors: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.where, self.problem))


class AnchorConflict(PersonaError, ValueError):
    """Anchors declared for a trait the offline judge already scores with other anchors."""


class MissingAnchorsError(PersonaError, ValueError):
    """The offline judge was asked to score a trait it has no anchors for; the message says
    how to give it some."""


class CacheIOError(PersonaError, OSError):
    """A cache file that cannot be opened, read or written for a reason other than damage
    (disk full, I/O error, permissions, a file where a directory belongs). The file is left
    where it is; the message names it."""


class UnknownTraitError(PersonaError, LookupError):
    """A trait name that no search location provides."""


class ModelLoadError(PersonaError, RuntimeError):
    """A model could not be resolved or loaded; the message says why and what to do."""


class ExtractionError(PersonaError, RuntimeError):
    """Extraction could not produce a trustworthy vector."""


class MissingScoresError(PersonaError, RuntimeError):
    """Too many judge scores are missing for the run to mean anything."""


class ParquetUnavailable(PersonaError, RuntimeError):
    """Parquet export was asked for without pyarrow installed."""


class EngineError(PersonaError, RuntimeError):
    """A generation engine cannot honour a request (never answered unsteered instead)."""


class SetupFailed(PersonaError):
    """The model under test, the reference model or a judge cannot be set up: no expectation
    can run. The message says which and why."""


class ExpectationFailed(PersonaError, AssertionError):
    """An expectation did not hold; the message carries the numbers."""


class NeedsReferenceModel(PersonaError):
    """The expectation needs ``--reference-model``."""


class NotForThisModel(PersonaError):
    """The suite gives this expectation no value for the model under test."""
