"""HTML for dataset screens: a self-contained page for ``persona screen`` and a block for the
suite report (``dataset_screen`` expectations). All text is escaped; no scripts, no files."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_persona.report._format import esc, fmt_fixed, fmt_tick
from pytest_persona.report.summary import _num as _n  # the one finite-number filter
from pytest_persona.report.svg import (
    AXIS_COLOR,
    HIGHLIGHT_COLOR,
    Frame,
    empty_svg,
    nice_range,
    nice_ticks,
    open_svg,
    svg_text,
    x_axis,
    y_axis,
)
from pytest_persona.report.templates import Html, macro, old_stylesheet, render

MEASURE_LABELS = {
    "projection_difference": "projection difference (training - own response)",
    "projection": "projection of the training response (no baseline)",
}


def histogram_svg(
    hist: Mapping[str, Any],
    threshold: float | None,
    mean: float | None,
    *,
    title: str,
    xlabel: str,
    width: int = 520,
    height: int = 260,
) -> str:
    """Bars of per-sample values, with the threshold (red, dashed) and the mean (grey)."""
    edges = [float(x) for x in hist.get("edges") or []]
    counts = [int(c) for c in hist.get("counts") or []]
    if not counts or sum(counts) == 0 or len(edges) != len(counts) + 1:
        return empty_svg(width, height, title, "pp-screen-hist", "no samples")
    used = [i for i, c in enumerate(counts) if c]
    first, last = used[0], used[-1] + 1
    edges, counts = edges[first : last + 1], counts[first:last]
    lo, hi = edges[0], edges[-1]
    for mark in (threshold, mean):
        if mark is not None and math.isfinite(mark):
            lo, hi = min(lo, mark), max(hi, mark)
    x0, x1 = nice_range(lo, hi)
    y0, y1 = nice_range(0.0, float(max(counts)))
    f = Frame(width, height, (x0, x1), (0.0, y1), margin=(22, 14, 46, 54))
    out = open_svg(width, height, title, "pp-screen-hist")
    out += y_axis(f, nice_ticks(0.0, y1), "samples")
    out += x_axis(f, [(t, fmt_tick(t)) for t in nice_ticks(x0, x1)], xlabel)
    for i, c in enumerate(counts):
        if not c:
            continue
        a, b = f.px(edges[i]), f.px(edges[i + 1])
        y = f.py(c)
        flagged = threshold is not None and edges[i] >= threshold
        color = HIGHLIGHT_COLOR if flagged else "#64748b"
        out.append(
            f'<rect class="pp-bar" x="{a:.1f}" y="{y:.1f}" width="{max(b - a - 0.5, 0.5):.1f}"'
            f' height="{max(f.py(0) - y, 0.5):.1f}" fill="{color}"><title>'
            f"{esc(f'{fmt_tick(edges[i])} to {fmt_tick(edges[i + 1])}: {c} samples')}</title></rect>"
        )
    for value, color, label, cls in (
        (threshold, HIGHLIGHT_COLOR, "threshold", "pp-threshold"),
        (mean, AXIS_COLOR, "mean", "pp-mean"),
    ):
        if value is None or not math.isfinite(value):
            continue
        x = f.px(value)
        out.append(
            f'<line class="{cls}" x1="{x:.1f}" y1="{f.plot_top:.1f}" x2="{x:.1f}" '
            f'y2="{f.plot_bottom:.1f}" stroke="{color}" stroke-width="1.5" '
            f'stroke-dasharray="4,3"/>'
        )
        out.append(
            svg_text(
                x + 3,
                f.plot_top - 6,
                f"{label} {fmt_tick(value)}",
                anchor="start",
                size=10,
                color=color,
            )
        )
    out.append("</svg>")
    return "".join(out)


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, Sequence) and not isinstance(prompt, str):
        return "\n".join(
            f"[{m.get('role')}] {m.get('content')}" for m in prompt if isinstance(m, Mapping)
        )
    return str(prompt or "")


def _own_mode(screen: Mapping[str, Any]) -> str:
    """How the screen measured the model's own answer: ``own`` (``baseline`` in files written
    before #24 renamed it), ``generate`` when neither is given."""
    return str(screen.get("own") or screen.get("baseline") or "generate")


def _block(
    name: str,
    t: Mapping[str, Any],
    *,
    baseline: str,
    measure: str,
    histogram: Mapping[str, Any] | None,
    top_limit: int | None = None,
    heading: str = "h2",
) -> dict[str, Any]:
    """What the block of one trait shows (``screen.jinja2``)."""
    threshold = _n(t.get("threshold"))
    frac = _n(t.get("fraction_above"))
    svg = histogram_svg(
        histogram or {},
        threshold,
        _n(t.get("mean")),
        title=f"{name}: per-sample {measure.replace('_', ' ')}",
        xlabel=measure.replace("_", " "),
    )
    top = []
    for s in list(t.get("top") or [])[:top_limit]:
        score = _n(s.get("score"))
        top.append(
            {
                **s,
                "score": score,
                "prompt": _prompt_text(s.get("prompt")),
                "flag": threshold is not None and score is not None and score > threshold,
            }
        )
    return {
        "name": name,
        "t": t,
        "heading": heading,
        "threshold": threshold,
        "anchor": re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-"),
        "measure_label": MEASURE_LABELS.get(measure, measure),
        "ci": t.get("ci") or [None, None],
        "percent": fmt_fixed(frac * 100 if frac is not None else None, 1),
        "svg": Html(svg),
        "top": top,
        "own": baseline == "generate",
    }


def trait_block(
    name: str,
    t: Mapping[str, Any],
    *,
    baseline: str,
    measure: str,
    histogram: Mapping[str, Any] | None,
    top_limit: int | None = None,
    heading: str = "h2",
) -> str:
    """Summary line, distribution and top samples of one trait."""
    block = _block(
        name,
        t,
        baseline=baseline,
        measure=measure,
        histogram=histogram,
        top_limit=top_limit,
        heading=heading,
    )
    return Html(macro("screen.jinja2", "trait_block")(block))


def render_screen(result: Mapping[str, Any]) -> str:
    """The whole page for a ``persona screen`` results dict (see ``ScreenResult.to_dict``)."""
    measure = str(result.get("measure") or "projection_difference")
    baseline = _own_mode(result)
    layer = result.get("layer")
    facts: list[tuple[str, Any]] = [
        ("data", result.get("data")),
        ("data sha256", str(result.get("data_sha256") or "")[:16]),
        ("model", result.get("model")),
        ("layer", f"{'' if layer is None else layer} (0-based decoder block output)"),
        ("measure", MEASURE_LABELS.get(measure, measure)),
        (
            "baseline",
            baseline
            + (
                " (the model's own greedy response to each prompt)"
                if baseline == "generate"
                else " (raw projection: no own-response reference)"
            ),
        ),
        ("samples", result.get("n_samples")),
        ("skipped lines", result.get("skipped_lines")),
        ("interval", result.get("interval")),
        ("projection", "a \u00b7 v / |v| of response-token-averaged activations"),
    ]
    gen = result.get("generation")
    if baseline == "generate" and isinstance(gen, Mapping):
        facts.append(("generation", ", ".join(f"{k}={v}" for k, v in gen.items())))
    traits = result.get("traits") or {}
    hists = result.get("histograms") or {}
    blocks = [
        _block(str(n), t, baseline=baseline, measure=measure, histogram=hists.get(n))
        for n, t in traits.items()
    ]
    return str(
        render(
            "screen.html.jinja2",
            data=result.get("data"),
            facts=facts,
            code=("data sha256",),
            blocks=blocks,
            skipped=result.get("skipped_examples") or [],
        )
    )


def report_block(screen: Mapping[str, Any], top_limit: int = 10) -> str:
    """The ``dataset_screen`` block of the suite report (one trait, one data file)."""
    name = f"dataset screen: {screen.get('data')}"
    t = dict(screen.get("trait_summary") or {})
    return trait_block(
        name,
        t,
        baseline=_own_mode(screen),
        measure=str(screen.get("measure") or "projection_difference"),
        histogram=screen.get("histogram"),
        top_limit=top_limit,
        heading="h4",
    )


def __getattr__(name: str) -> Any:
    """The stylesheet was the constant ``CSS``; it is a package resource now."""
    return old_stylesheet(__name__, name, {"CSS": "screen.css"})
