"""The results document of a pytest-persona run, and the statistics read from it.

- :mod:`.document`: the versioned JSON document (schema version 2, 1 still read):
  ``validate_results``, ``load_results``, ``save_results``
- :mod:`.frames`: the document as tidy pandas DataFrames (``load``, ``Results.to_frame``, ``export``)
- :mod:`.paired`: per-question pairing and the paired bootstrap
- :mod:`.compare`: baseline comparison rules (``parse_rule``, ``compare_results``)
- :mod:`.calibration`: null shifts of an unchanged model and ``auto`` rules

``report/`` renders what this package holds; nothing here renders.
"""

from __future__ import annotations

from pytest_persona.results.compare import (
    CompareUsageError,
    Comparison,
    Regression,
    Rule,
    compare_results,
    parse_rule,
)
from pytest_persona.results.document import (
    SCHEMA_VERSION,
    ResultsError,
    load_results,
    save_results,
    validate_results,
)
from pytest_persona.results.frames import KINDS, ParquetUnavailable, Results, export, load

__all__ = [
    "KINDS", "SCHEMA_VERSION", "CompareUsageError", "Comparison", "ParquetUnavailable",
    "Regression", "Results", "ResultsError", "Rule", "compare_results", "export", "load",
    "load_results", "parse_rule", "save_results", "validate_results",
]
