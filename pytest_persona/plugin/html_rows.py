"""Escaped test-id cells in the pytest-html results table.

pytest-html inserts each row's cells as HTML, the test id included, and suite files and
expectation names come from YAML. :class:`HtmlRows` rewrites the id cell from the report as
escaped text. It is registered only when pytest-html is active (``-p no:html`` leaves it out).
"""

from __future__ import annotations

import html
from typing import Any

import pytest

from pytest_persona._util.redact import redact_secrets

PLUGIN_NAME = "persona-html-rows"


def row_id(report: Any) -> str:
    """The id pytest-html shows for ``report`` (``::setup``/``::teardown`` for those phases)."""
    nodeid = str(getattr(report, "nodeid", ""))
    when = getattr(report, "when", "call")
    return nodeid if when in (None, "call") else f"{nodeid}::{when}"


def escaped_cell(css_class: str, text: str) -> str:
    """A ``<td>`` holding ``text`` as text (escaped, secrets redacted)."""
    return f'<td class="{css_class}">{html.escape(redact_secrets(text), quote=True)}</td>'


class HtmlRows:
    """pytest-html hook implementations (an object so they register only with pytest-html)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_html_results_table_row(self, report: Any, cells: list[Any]) -> None:
        for i, cell in enumerate(cells):
            if isinstance(cell, str) and cell.startswith('<td class="col-testId">'):
                cells[i] = escaped_cell("col-testId", row_id(report))


def register(config: pytest.Config) -> None:
    """Register :class:`HtmlRows` when the pytest-html plugin is active."""
    pm = config.pluginmanager
    if pm.has_plugin("html") and not pm.has_plugin(PLUGIN_NAME):
        pm.register(HtmlRows(), PLUGIN_NAME)
