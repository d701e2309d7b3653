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


def test_pearson_computes_in_float64_whatever_the_input_dtype() -> None:
    import numpy as np

    from pytest_persona.core.projection import pearson

    x = [0.1 * i + 1e-3 * (i % 3) for i in range(50)]
    y = [v * v + 0.37 for v in x]
    expected = pearson([float(np.float32(v)) for v in x], [float(np.float32(v)) for v in y])
    # float32 arrays in: the same float64 arithmetic on the same values, to the last digit
    assert pearson(np.asarray(x, dtype=np.float32), y=np.asarray(y, dtype=np.float32)) == expected
    assert pearson(np.asarray(x, dtype=np.float32),
                   [float(np.float32(v)) for v in y]) == expected
    assert pearson([float(np.float32(v)) for v in x],
                   np.asarray(y, dtype=np.float32)) == expected
