"""The shared SVG primitives: data-to-pixel frame, ticks, escaped text, intervals."""

from __future__ import annotations

import math

import pytest

from pytest_persona.report.svg import (
    Frame,
    ci_pair,
    empty_svg,
    nice_range,
    nice_ticks,
    open_svg,
    svg_text,
    x_axis,
    y_axis,
)


def test_frame_maps_the_data_corners_to_the_plot_corners() -> None:
    f = Frame(200, 100, (0.0, 10.0), (-1.0, 1.0), margin=(10, 20, 30, 40))
    assert (f.px(0.0), f.px(10.0)) == (40, 180) == (f.plot_left, f.plot_right)
    assert (f.py(1.0), f.py(-1.0)) == (10, 70) == (f.plot_top, f.plot_bottom)
    assert Frame(10, 10, (3.0, 3.0), (0.0, 1.0)).px(3.0) == 54  # an empty span does not divide


@pytest.mark.parametrize(
    ("lo", "hi", "ticks"),
    [
        (0.0, 100.0, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
        (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (-3.0, 7.0, [-2.0, 0.0, 2.0, 4.0, 6.0]),
        (5.0, 5.0, [5.0, 5.2, 5.4, 5.6, 5.8, 6.0]),
    ],
)
def test_nice_ticks(lo: float, hi: float, ticks: list[float]) -> None:
    assert nice_ticks(lo, hi) == ticks


def test_nice_range_covers_the_data_and_pads_a_single_value() -> None:
    assert nice_range(0.13, 0.87) == (0.0, 1.0)
    assert nice_range(4.0, 4.0) == (3.6, 4.4)
    assert nice_range(0.0, 0.0) == (-1.0, 1.0)


@pytest.mark.parametrize(
    ("value", "pair"),
    [
        ([0.3, 0.1], (0.1, 0.3)),
        ((1, 2), (1.0, 2.0)),
        ([0.1, math.nan], None),
        ([1.0], None),
        ("ab", None),
        (None, None),
        ([True, 2.0], None),
    ],
)
def test_ci_pair_is_an_ordered_finite_interval_or_none(value, pair) -> None:
    assert ci_pair(value) == pair


def test_text_and_titles_are_escaped() -> None:
    hostile = '<script>alert("x")</script>'
    parts = [
        *open_svg(100, 50, hostile, "pp-x"),
        svg_text(1, 2, hostile),
        empty_svg(100, 50, hostile, "pp-x", hostile),
    ]
    f = Frame(100, 50, (0.0, 1.0), (0.0, 1.0))
    parts += y_axis(f, [0.0, 1.0], hostile) + x_axis(f, [(0.5, hostile)], hostile)
    out = "".join(parts)
    assert "<script" not in out and "&lt;script&gt;alert(&quot;x&quot;)" in out
