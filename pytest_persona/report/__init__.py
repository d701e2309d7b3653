"""Rendering of a pytest-persona run: HTML, SVG plots, terminal summary.

- :mod:`.html`: ``render_persona_section`` (pytest-html), ``render_report``,
  ``render_comparison_report`` (``render_comparison``: its deprecated predecessor)
- :mod:`.plots`: pure-SVG plots; :mod:`.screen_html`: the screening page;
  :mod:`.summary`: terminal table

The document itself (schema, load/save, comparison statistics) lives in
:mod:`pytest_persona.results`; its names stay importable from here for code written earlier.
"""

from __future__ import annotations

from pytest_persona._util.redact import redact_secrets
from pytest_persona.report.html import (
    render_comparison,
    render_comparison_report,
    render_persona_section,
    render_report,
)
from pytest_persona.report.summary import format_summary_table
from pytest_persona.results.compare import (
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

__all__ = [
    "SCHEMA_VERSION",
    "Comparison",
    "Regression",
    "ResultsError",
    "Rule",
    "compare_results",
    "format_summary_table",
    "load_results",
    "parse_rule",
    "redact_secrets",
    "render_comparison",
    "render_comparison_report",
    "render_persona_section",
    "render_report",
    "save_results",
    "validate_results",
]
