"""The one definition of "a finite number" used across results, suites, pipeline and report.

``bool`` is not a number here (``True`` is an ``int`` to Python, never a figure to us), and
NaN and the infinities are not finite: a figure that is one of them is missing, not a value.
"""

from __future__ import annotations

import math
from typing import Any


def is_finite_number(value: Any) -> bool:
    """True for an int or float that is finite and not a bool."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float when it is a finite number, else None (missing)."""
    return float(value) if is_finite_number(value) else None
