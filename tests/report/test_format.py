"""The report's format helpers: escaping (with secrets redacted) and number formatting."""

from __future__ import annotations

import math

import pytest

from pytest_persona._util.redact import REDACTED
from pytest_persona.report._format import DASH, esc, esc_str, fmt_fixed, fmt_num, fmt_tick

SECRET = "sk-ant-api03-" + "A" * 40


def test_esc_shows_none_as_nothing_and_esc_str_as_text() -> None:
    assert esc(None) == ""
    assert esc_str(None) == "None"


@pytest.mark.parametrize("escape", [esc, esc_str])
def test_escapers_quote_attributes_and_redact(escape) -> None:
    out = escape(f"<a href=\"x\" title='y'>{SECRET}</a>")
    assert out.startswith("&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;")
    assert SECRET not in out and REDACTED in out


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [
        (True, 1, "yes"),
        (False, 1, "no"),
        (None, 1, DASH),
        (7, 1, "7"),
        (0.0, 2, "0.00"),
        (0.05, 1, "0.050"),
        (0.5, 1, "0.50"),
        (12.345, 1, "12.3"),
        (12.345, 2, "12.35"),
        ("<b>", 1, "<b>"),
        (math.nan, 1, "nan"),
        (math.inf, 1, "inf"),
    ],
)
def test_fmt_num(value, digits, shown) -> None:
    assert fmt_num(value, digits) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.123456, "0.123"), (None, DASH), (math.nan, DASH), (-math.inf, DASH), ("x", DASH)],
)
def test_fmt_fixed_shows_finite_numbers_only(value, shown) -> None:
    assert fmt_fixed(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0"),
        (150.4, "150"),
        (12.5, "12.5"),
        (10.0, "10"),
        (2.5, "2.5"),
        (1.0, "1"),
        (0.125, "0.125"),
        (0.1, "0.1"),
        (-3.25, "-3.25"),
    ],
)
def test_fmt_tick_drops_trailing_zeros(value, shown) -> None:
    assert fmt_tick(value) == shown
