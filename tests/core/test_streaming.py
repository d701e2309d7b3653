from __future__ import annotations

import math
import random

import pytest

from pytest_persona.core.stats import bootstrap_ci
from pytest_persona.core.streaming import StreamingMean


def test_streaming_interval_agrees_with_the_percentile_bootstrap() -> None:
    rng = random.Random(1)
    values = [rng.gauss(2.0, 3.0) for _ in range(400)]
    acc = StreamingMean(threshold=2.0)
    for block, start in enumerate(range(0, len(values), 37)):
        acc.add_block(block, values[start:start + 37])
    s = acc.summary()
    lo, hi = bootstrap_ci(values)
    assert s.n == 400 and s.mean == pytest.approx(sum(values) / 400)
    assert s.ci_low == pytest.approx(lo, abs=0.1) and s.ci_high == pytest.approx(hi, abs=0.1)
    assert s.above == sum(v > 2.0 for v in values)
    assert s.fraction_above == pytest.approx(s.above / 400)


def test_same_blocks_same_interval_and_edge_cases() -> None:
    a, b = StreamingMean(seed=5), StreamingMean(seed=5)
    for acc in (a, b):
        acc.add_block(0, [1.0, 2.0, 3.0])
        acc.add_block(1, [4.0, 10.0])
    assert a.summary() == b.summary()
    empty = StreamingMean().summary()
    assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.fraction_above)
    one = StreamingMean()
    one.add_block(0, [7.0])
    assert (one.summary().ci_low, one.summary().ci_high) == (7.0, 7.0)
