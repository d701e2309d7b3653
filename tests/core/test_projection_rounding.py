"""pearson rounds to 12 decimals (so a perfect curve gives exactly 1.0 and bounds such as
``min_r: 0.9`` can be met), no coarser and no finer."""

from __future__ import annotations

import numpy as np

from pytest_persona.core.projection import pearson


def test_pearson_is_rounded_to_twelve_decimals() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=20), rng.normal(size=20)
    raw = float(np.corrcoef(x, y)[0, 1])
    assert round(raw, 13) != round(raw, 12)  # the data need the 13th decimal
    assert pearson(x.tolist(), y.tolist()) == round(raw, 12)
