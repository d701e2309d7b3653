"""The finite-number helpers: bools, NaN, infinities and non-numbers are not figures."""

from __future__ import annotations

import math

import pytest

from pytest_persona._util.numbers import finite_or_none, is_finite_number


@pytest.mark.parametrize("value, expected", [
    (0, 0.0), (3, 3.0), (-2.5, -2.5), (1e308, 1e308),
    (True, None), (False, None), (math.nan, None), (math.inf, None), (-math.inf, None),
    (None, None), ("1.0", None), ([1.0], None),
])
def test_finite_or_none(value: object, expected: float | None) -> None:
    got = finite_or_none(value)
    assert got == expected and (got is None or type(got) is float)
    assert is_finite_number(value) is (expected is not None)
