"""SVG primitives the report's figures are drawn with: a frame mapping data to pixels, axes,
text, error bars, and the shared colours. Every text is escaped (:func:`esc_str`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pytest_persona._util.numbers import finite_or_none
from pytest_persona.report._format import esc_str, fmt_tick

FONT = "system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif"
SCORE_COLOR = "#2563eb"
COHERENCE_COLOR = "#ea580c"
BAR_COLOR = "#64748b"
HIGHLIGHT_COLOR = "#dc2626"
GRID_COLOR = "#e5e7eb"
AXIS_COLOR = "#6b7280"
TEXT_COLOR = "#374151"
CONDITION_COLORS = {"baseline": "#64748b", "prompted": "#0d9488", "steered": "#7c3aed"}
CONDITION_ORDER = ("baseline", "prompted", "steered")


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) spanning ``lo..hi``."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def nice_range(lo: float, hi: float) -> tuple[float, float]:
    """An axis range on tick boundaries that covers ``lo..hi`` (padded when they are equal)."""
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    ticks = nice_ticks(lo, hi)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else (hi - lo)
    return min(ticks[0], math.floor(lo / step) * step), max(ticks[-1], math.ceil(hi / step) * step)


class Frame:
    """Maps data to pixels inside a plot area with margins."""

    def __init__(
        self,
        width: int,
        height: int,
        x: tuple[float, float],
        y: tuple[float, float],
        margin: tuple[int, int, int, int] = (34, 16, 46, 54),
    ) -> None:
        self.w, self.h = width, height
        self.top, self.right, self.bottom, self.left = margin
        self.x0, self.x1 = x
        self.y0, self.y1 = y

    def px(self, x: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (x - self.x0) / span * (self.w - self.left - self.right)

    def py(self, y: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.h - self.bottom - (y - self.y0) / span * (self.h - self.top - self.bottom)

    @property
    def plot_left(self) -> float:
        return self.left

    @property
    def plot_right(self) -> float:
        return self.w - self.right

    @property
    def plot_top(self) -> float:
        return self.top

    @property
    def plot_bottom(self) -> float:
        return self.h - self.bottom


def open_svg(width: int, height: int, title: str, cls: str) -> list[str]:
    """The opening ``<svg>`` tag, its title and a white background, as parts to append to."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="pp-plot {cls}" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="{esc_str(FONT)}" font-size="11" '
        f'style="max-width:100%;height:auto">',
        f"<title>{esc_str(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]


def svg_text(
    x: float,
    y: float,
    s: Any,
    *,
    anchor: str = "middle",
    size: int = 11,
    color: str = TEXT_COLOR,
    weight: str = "normal",
    extra: str = "",
) -> str:
    """A ``<text>`` element with escaped content."""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{color}" font-weight="{weight}"{extra}>{esc_str(s)}</text>'
    )


def y_axis(f: Frame, ticks: Sequence[float], label: str) -> list[str]:
    """Horizontal grid lines with tick labels, the axis line and a rotated label."""
    out = []
    for t in ticks:
        y = f.py(t)
        out.append(
            f'<line x1="{f.plot_left:.1f}" y1="{y:.1f}" x2="{f.plot_right:.1f}" '
            f'y2="{y:.1f}" stroke="{GRID_COLOR}" stroke-width="1"/>'
        )
        out.append(
            svg_text(f.plot_left - 6, y + 3.5, fmt_tick(t), anchor="end", size=10, color=AXIS_COLOR)
        )
    out.append(
        f'<line x1="{f.plot_left:.1f}" y1="{f.plot_top:.1f}" x2="{f.plot_left:.1f}" '
        f'y2="{f.plot_bottom:.1f}" stroke="{AXIS_COLOR}" stroke-width="1"/>'
    )
    cy = (f.plot_top + f.plot_bottom) / 2
    out.append(svg_text(14, cy, label, size=11, extra=f' transform="rotate(-90 14 {cy:.1f})"'))
    return out


def x_axis(f: Frame, ticks: Sequence[tuple[float, str]], label: str) -> list[str]:
    """The axis line, tick marks with labels at ``(value, text)`` and the axis label."""
    out = [
        f'<line x1="{f.plot_left:.1f}" y1="{f.plot_bottom:.1f}" x2="{f.plot_right:.1f}" '
        f'y2="{f.plot_bottom:.1f}" stroke="{AXIS_COLOR}" stroke-width="1"/>'
    ]
    for x, s in ticks:
        px = f.px(x)
        out.append(
            f'<line x1="{px:.1f}" y1="{f.plot_bottom:.1f}" x2="{px:.1f}" '
            f'y2="{f.plot_bottom + 4:.1f}" stroke="{AXIS_COLOR}" stroke-width="1"/>'
        )
        out.append(svg_text(px, f.plot_bottom + 16, s, size=10, color=AXIS_COLOR))
    out.append(svg_text((f.plot_left + f.plot_right) / 2, f.h - 8, label, size=11))
    return out


def empty_svg(width: int, height: int, title: str, cls: str, msg: str) -> str:
    """A whole figure that only says ``msg`` (no data to plot)."""
    out = open_svg(width, height, title, cls)
    out.append(svg_text(width / 2, height / 2, msg, color=AXIS_COLOR))
    out.append("</svg>")
    return "".join(out)


def errbar(x: float, lo: float, hi: float, color: str, cap: float = 4) -> str:
    """A vertical error bar with caps, between pixel rows ``lo`` and ``hi``."""
    return (
        f'<path d="M{x:.1f},{lo:.1f}V{hi:.1f}M{x - cap:.1f},{lo:.1f}H{x + cap:.1f}'
        f'M{x - cap:.1f},{hi:.1f}H{x + cap:.1f}" stroke="{color}" stroke-width="1.5" '
        f'fill="none"/>'
    )


def ci_pair(v: Any) -> tuple[float, float] | None:
    """``v`` as an ordered ``(low, high)`` pair of finite numbers, else ``None``."""
    if isinstance(v, (list, tuple)) and len(v) == 2:
        lo, hi = finite_or_none(v[0]), finite_or_none(v[1])
        if lo is not None and hi is not None:
            return (min(lo, hi), max(lo, hi))
    return None
