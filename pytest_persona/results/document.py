"""The results JSON (schema version 2): its types, validation, loading and atomic saving.

Version 2 adds ``traits.<name>.per_question`` (per-question values keyed by question id, for
paired baseline comparisons) and ``comparison.checks``. Version 1 files are still read: their
comparisons fall back to point comparisons of means, with a note.

This module is the one import for all of it; each part has its own home:

- :mod:`.schema`: the ``TypedDict`` of the document and of each section, and the versions;
- :mod:`.validate`: :func:`validate_results`, errors naming the field
  ("traits.evil.sweep[2].mean: expected number");
- :mod:`.io`: :func:`load_results`, :func:`save_results` (atomic), :func:`dumps_results`;
- :mod:`.builder`: :class:`ResultsBuilder`, which the plugin fills during a run.
"""

from __future__ import annotations

from pytest_persona.errors import ResultsError as ResultsError
from pytest_persona.results.builder import ResultsBuilder as ResultsBuilder
from pytest_persona.results.io import dumps_results as dumps_results
from pytest_persona.results.io import load_results as load_results
from pytest_persona.results.io import non_finite_paths as non_finite_paths
from pytest_persona.results.io import save_results as save_results
from pytest_persona.results.schema import OUTCOMES as OUTCOMES
from pytest_persona.results.schema import READABLE_VERSIONS as READABLE_VERSIONS
from pytest_persona.results.schema import SCHEMA_VERSION as SCHEMA_VERSION
from pytest_persona.results.schema import ResultsDocument as ResultsDocument
from pytest_persona.results.schema import TraitSection as TraitSection
from pytest_persona.results.validate import validate_results as validate_results

__all__ = [
    "OUTCOMES",
    "READABLE_VERSIONS",
    "SCHEMA_VERSION",
    "ResultsBuilder",
    "ResultsDocument",
    "ResultsError",
    "TraitSection",
    "dumps_results",
    "load_results",
    "non_finite_paths",
    "save_results",
    "validate_results",
]
