"""The results document of a pytest-persona run, and the statistics read from it.

- :mod:`.schema`: the versioned JSON document's types (``ResultsDocument``, one ``TypedDict``
  per section; schema version 2, 1 still read)
- :mod:`.validate`: ``validate_results``, errors naming the field
- :mod:`.io`: ``load_results``, ``save_results`` (atomic)
- :mod:`.builder`: ``ResultsBuilder``, which a run fills section by section
- :mod:`.document`: all of the above from one import (the path of earlier releases)
- :mod:`.frames`: the document as tidy pandas tables (``load``, ``Results.to_frame(table)``,
  ``export``)
- :mod:`.paired`: per-question pairing and the paired bootstrap
- :mod:`.compare`: baseline comparison rules (``parse_rule``, ``compare_results``)
- :mod:`.calibration`: null shifts of an unchanged model and ``auto`` rules

``report/`` renders what this package holds; nothing here renders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_persona._util.deprecated import module_alias
from pytest_persona.results.builder import ResultsBuilder
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
from pytest_persona.results.frames import TABLES, ParquetUnavailable, Results, export, load
from pytest_persona.results.schema import ResultsDocument

__all__ = [
    "SCHEMA_VERSION", "TABLES", "CompareUsageError", "Comparison", "ParquetUnavailable",
    "Regression", "Results", "ResultsBuilder", "ResultsDocument", "ResultsError", "Rule",
    "compare_results", "export", "load", "load_results", "parse_rule", "save_results",
    "validate_results",
]

if TYPE_CHECKING:
    KINDS = TABLES  # deprecated alias (at runtime the module __getattr__ below warns)
else:

    def __getattr__(name: str) -> Any:
        return module_alias(__name__, name, {"KINDS": "TABLES"})
