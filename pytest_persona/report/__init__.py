"""Reports of a pytest-persona run: results JSON, baseline comparison, HTML, terminal summary.

- :mod:`.results`: schema version 2 (1 still read), ``validate_results``, ``load_results``,
  ``save_results``
- :mod:`.compare`: ``parse_rule``, ``compare_results`` (rules such as ``baseline_score:+5``,
  judged on paired per-question differences; :mod:`.paired` holds the bootstrap)
- :mod:`.calibration`: null shifts of an unchanged model and ``auto`` rules
- :mod:`.html`: ``render_persona_section`` (pytest-html), ``render_report``, ``render_comparison``
- :mod:`.plots`: pure-SVG plots; :mod:`.summary`: terminal table; :mod:`.redact`: key redaction
"""

from __future__ import annotations

from pytest_persona._util.redact import redact_secrets
from pytest_persona.report.compare import (
    Comparison,
    Regression,
    Rule,
    compare_results,
    parse_rule,
)
from pytest_persona.report.html import render_comparison, render_persona_section, render_report
from pytest_persona.report.results import (
    SCHEMA_VERSION,
    ResultsError,
    load_results,
    save_results,
    validate_results,
)
from pytest_persona.report.summary import format_summary_table

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
    "render_persona_section",
    "render_report",
    "save_results",
    "validate_results",
]
