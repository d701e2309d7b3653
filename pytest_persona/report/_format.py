"""Format helpers shared by the report renderers: escaping and number formatting.

Two escapers, because the callers show ``None`` differently and each keeps its visible output:
:func:`esc` shows ``None`` as nothing (tables, the screen page); :func:`esc_str` shows it as the
text ``None`` (SVG labels, the timeline page). Both redact secrets and escape quotes as
``&quot;`` / ``&#x27;`` (:func:`html.escape`).

Numbers go through :func:`pytest_persona._util.numbers.finite_or_none`, which rejects NaN and
infinities: no report helper accepts inf (a non-finite value is shown as missing or as its text).
"""

from __future__ import annotations

import html as _html
from typing import Any

from pytest_persona._util.numbers import finite_or_none
from pytest_persona._util.redact import redact_secrets

DASH = "\u2013"


def esc(v: Any) -> str:
    """Escape any value as HTML text (attribute-safe); ``None`` becomes empty."""
    return _html.escape(redact_secrets("" if v is None else str(v)), quote=True)


def esc_str(v: Any) -> str:
    """Escape ``str(v)`` as HTML text (attribute-safe); ``None`` becomes ``None``."""
    return _html.escape(redact_secrets(str(v)), quote=True)


def fmt_num(v: Any, digits: int = 1) -> str:
    """A table cell as text: yes/no for booleans, a dash for ``None``, ``str(v)`` for
    non-numbers (the template escapes it)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    x = finite_or_none(v)
    if x is None:
        return DASH if v is None else str(v)
    if isinstance(v, int):
        return str(v)
    if x == 0:
        return f"{0:.{digits}f}"
    if abs(x) < 0.1:
        return f"{x:.3f}"
    if abs(x) < 1:
        return f"{x:.{max(digits, 2)}f}"
    return f"{x:.{digits}f}"


def fmt_fixed(v: Any, digits: int = 3) -> str:
    """A finite number with a fixed number of digits, a dash otherwise."""
    x = finite_or_none(v)
    return DASH if x is None else f"{x:.{digits}f}"


def fmt_tick(v: float) -> str:
    """A short axis label: trailing zeros dropped, fewer digits for larger values."""
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}".rstrip("0").rstrip(".")
    if a >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.3f}".rstrip("0").rstrip(".")
