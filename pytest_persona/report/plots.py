"""Small pure-SVG plots for the report: no JavaScript, no fonts or files from anywhere.

Each function returns a standalone ``<svg>`` string (valid XML, parseable with ``xml.etree``)
that can be inlined into HTML. All text is escaped. Marks carry classes so tests and stylesheets
can find them: ``pp-pt-score``, ``pp-pt-coherence``, ``pp-bar``, ``pp-cell``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_persona._util.numbers import finite_or_none
from pytest_persona._util.redact import redact_secrets
from pytest_persona.report._format import esc_str, fmt_tick
from pytest_persona.report.svg import (
    AXIS_COLOR,
    BAR_COLOR,
    COHERENCE_COLOR,
    CONDITION_COLORS,
    CONDITION_ORDER,
    HIGHLIGHT_COLOR,
    SCORE_COLOR,
    Frame,
    ci_pair,
    empty_svg,
    errbar,
    nice_range,
    nice_ticks,
    open_svg,
    svg_text,
    x_axis,
    y_axis,
)

_num = finite_or_none


def dose_response_svg(
    sweep: Sequence[Mapping[str, Any]],
    *,
    width: int = 430,
    height: int = 280,
    title: str = "Dose response",
) -> str:
    """Mean trait score (with CI error bars) per steering coefficient, coherence beside it."""
    rows = sorted(
        (r for r in sweep or [] if _num(r.get("coeff")) is not None),
        key=lambda r: float(r["coeff"]),
    )
    if not rows:
        return empty_svg(width, height, title, "pp-dose", "no sweep data")
    xs = [float(r["coeff"]) for r in rows]
    values: list[float] = []
    for r in rows:
        for k in ("mean", "coherence_mean"):
            if _num(r.get(k)) is not None:
                values.append(float(r[k]))
        for k in ("ci", "coherence_ci"):
            ci = ci_pair(r.get(k))
            if ci:
                values.extend(ci)
    lo, hi = (min(values + [0.0]), max(values + [100.0])) if values else (0.0, 100.0)
    y0, y1 = (0.0, 100.0) if lo >= 0 and hi <= 100 else nice_range(lo, hi)
    xmin, xmax = min(xs), max(xs)
    pad = (xmax - xmin) * 0.08 or 1.0
    doses = {float(r["coeff"]): _num(r.get("dose")) for r in rows}
    dosed = all(d is not None for d in doses.values())
    f = Frame(
        width, height, (xmin - pad, xmax + pad), (y0, y1), margin=(34, 16, 58 if dosed else 46, 54)
    )
    out = open_svg(width, height, title, "pp-dose")
    out += y_axis(f, nice_ticks(y0, y1), "judge score (0-100)")
    out += x_axis(
        f,
        [(x, fmt_tick(x)) for x in xs],
        "steering coefficient (relative dose below)" if dosed else "steering coefficient",
    )
    if dosed:
        for x in xs:
            out.append(
                svg_text(
                    f.px(x),
                    f.plot_bottom + 28,
                    f"d {fmt_tick(doses[x] or 0.0)}",
                    size=9,
                    color=AXIS_COLOR,
                    extra=' class="pp-dose-tick"',
                )
            )
    if xmin <= 0 <= xmax:
        zx = f.px(0)
        out.append(
            f'<line x1="{zx:.1f}" y1="{f.plot_top:.1f}" x2="{zx:.1f}" '
            f'y2="{f.plot_bottom:.1f}" stroke="#cbd5e1" stroke-dasharray="3,3"/>'
        )
    off = min(6.0, (f.px(xs[1]) - f.px(xs[0])) / 6) if len(xs) > 1 else 6.0
    for key, ci_key, color, cls, dx, dash in (
        ("coherence_mean", "coherence_ci", COHERENCE_COLOR, "pp-pt-coherence", off, "5,3"),
        (
            "mean",
            "ci",
            SCORE_COLOR,
            "pp-pt-score",
            -off if any(_num(r.get("coherence_mean")) is not None for r in rows) else 0.0,
            "",
        ),
    ):
        pts = [
            (f.px(float(r["coeff"])) + dx, f.py(float(r[key])), r)
            for r in rows
            if _num(r.get(key)) is not None
        ]
        if len(pts) > 1:
            d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y, _ in pts)
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"'
                f'{dash_attr} opacity="0.85"/>'
            )
        for x, y, r in pts:
            ci = ci_pair(r.get(ci_key))
            if ci:
                out.append(errbar(x, f.py(ci[0]), f.py(ci[1]), color))
            label = "score" if key == "mean" else "coherence"
            tip = f"coeff {fmt_tick(float(r['coeff']))}"
            if _num(r.get("dose")) is not None:
                tip += f" (dose {fmt_tick(float(r['dose']))})"
            tip += f": {label} {fmt_tick(float(r[key]))}"
            if ci:
                tip += f" [{fmt_tick(ci[0])}, {fmt_tick(ci[1])}]"
            if _num(r.get("n")) is not None:
                tip += f", n={int(r['n'])}"
            out.append(
                f'<circle class="{cls}" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}" '
                f'stroke="#fff" stroke-width="1.5"><title>{esc_str(tip)}</title></circle>'
            )
    # legend
    lx = f.plot_left + 4
    out.append(f'<circle cx="{lx + 5:.1f}" cy="14" r="4" fill="{SCORE_COLOR}"/>')
    out.append(svg_text(lx + 14, 18, "trait score (mean, 95% CI)", anchor="start", size=10))
    lx2 = lx + 160
    out.append(
        f'<line x1="{lx2:.1f}" y1="14" x2="{lx2 + 14:.1f}" y2="14" '
        f'stroke="{COHERENCE_COLOR}" stroke-width="2" stroke-dasharray="5,3"/>'
    )
    out.append(svg_text(lx2 + 19, 18, "coherence", anchor="start", size=10))
    out.append("</svg>")
    return "".join(out)


def damage_svg(
    damage: Sequence[Mapping[str, Any]],
    sweep: Sequence[Mapping[str, Any]] = (),
    *,
    width: int = 430,
    height: int = 280,
    title: str = "Steering damage against dose",
) -> str:
    """KL(steered || unsteered) per signed dose (mean over benign prompts, 95% CI bars, left
    axis) beside the mean trait score at the same coefficients (right axis, 0-100)."""

    def signed(r: Mapping[str, Any]) -> float | None:
        c, d = _num(r.get("coeff")), _num(r.get("dose"))
        if c is None or d is None:
            return None
        return math.copysign(d, c) if c else 0.0

    rows = sorted(
        (
            (x, r)
            for r in damage or []
            if (x := signed(r)) is not None and _num(r.get("kl")) is not None
        ),
        key=lambda p: p[0],
    )
    if not rows:
        return empty_svg(width, height, title, "pp-damage", "no steering damage measured")
    scores = sorted(
        (
            (x, r)
            for r in sweep or []
            if (x := signed(r)) is not None and _num(r.get("mean")) is not None
        ),
        key=lambda p: p[0],
    )
    xs = [x for x, _ in rows] + [x for x, _ in scores]
    highs = [float(r["kl"]) for _, r in rows] + [
        c[1] for _, r in rows if (c := ci_pair(r.get("ci")))
    ]
    y1 = max(max(highs) * 1.1, 1e-6)
    xmin, xmax = min(xs), max(xs)
    pad = (xmax - xmin) * 0.08 or 0.1
    f = Frame(width, height, (xmin - pad, xmax + pad), (0.0, y1), margin=(34, 54, 46, 58))
    out = open_svg(width, height, title, "pp-damage")
    out += y_axis(f, nice_ticks(0.0, y1), "KL (nats / token)")
    ticks = sorted({round(x, 6) for x in xs})
    out += x_axis(f, [(x, fmt_tick(x)) for x in ticks], "relative dose (signed by coefficient)")
    # right axis: trait score 0-100
    rx = f.plot_right
    out.append(
        f'<line x1="{rx:.1f}" y1="{f.plot_top:.1f}" x2="{rx:.1f}" '
        f'y2="{f.plot_bottom:.1f}" stroke="{AXIS_COLOR}" stroke-width="1"/>'
    )
    for t in (0, 25, 50, 75, 100):
        y = f.plot_bottom - t / 100 * (f.plot_bottom - f.plot_top)
        out.append(svg_text(rx + 6, y + 3.5, t, anchor="start", size=10, color=SCORE_COLOR))
    cy = (f.plot_top + f.plot_bottom) / 2
    out.append(
        svg_text(
            width - 10,
            cy,
            "trait score (0-100)",
            size=11,
            color=SCORE_COLOR,
            extra=f' transform="rotate(90 {width - 10} {cy:.1f})"',
        )
    )
    pts = []
    for x, r in rows:
        px, py = f.px(x), f.py(float(r["kl"]))
        ci = ci_pair(r.get("ci"))
        if ci:
            out.append(errbar(px, f.py(ci[0]), f.py(ci[1]), HIGHLIGHT_COLOR))
        tip = (
            f"coeff {fmt_tick(float(r['coeff']))} (dose {fmt_tick(abs(x))}): KL "
            f"{fmt_tick(float(r['kl']))}"
        )
        if ci:
            tip += f" [{fmt_tick(ci[0])}, {fmt_tick(ci[1])}]"
        if _num(r.get("n")) is not None:
            tip += f", n={int(r['n'])} prompts"
        pts.append((px, py))
        out.append(
            f'<circle class="pp-pt-kl" cx="{px:.1f}" cy="{py:.1f}" r="4" '
            f'fill="{HIGHLIGHT_COLOR}" stroke="#fff" stroke-width="1.5">'
            f"<title>{esc_str(tip)}</title></circle>"
        )
    if len(pts) > 1:
        out.append(
            '<path d="M'
            + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            + f'" fill="none" stroke="{HIGHLIGHT_COLOR}" stroke-width="2" opacity="0.8"/>'
        )
    spts = []
    for x, r in scores:
        px = f.px(x)
        py = f.plot_bottom - float(r["mean"]) / 100 * (f.plot_bottom - f.plot_top)
        spts.append((px, py))
        tip = (
            f"coeff {fmt_tick(float(r['coeff']))} (dose {fmt_tick(abs(x))}): score "
            f"{fmt_tick(float(r['mean']))}"
        )
        out.append(
            f'<circle class="pp-pt-score" cx="{px:.1f}" cy="{py:.1f}" r="3.5" '
            f'fill="{SCORE_COLOR}" stroke="#fff" stroke-width="1.5">'
            f"<title>{esc_str(tip)}</title></circle>"
        )
    if len(spts) > 1:
        out.append(
            '<path d="M'
            + " L".join(f"{x:.1f},{y:.1f}" for x, y in spts)
            + f'" fill="none" stroke="{SCORE_COLOR}" stroke-width="1.5" '
            'stroke-dasharray="5,3" opacity="0.8"/>'
        )
    lx = f.plot_left + 4
    out.append(f'<circle cx="{lx + 5:.1f}" cy="14" r="4" fill="{HIGHLIGHT_COLOR}"/>')
    out.append(svg_text(lx + 14, 18, "KL (mean, 95% CI)", anchor="start", size=10))
    out.append(f'<circle cx="{lx + 135:.1f}" cy="14" r="3.5" fill="{SCORE_COLOR}"/>')
    out.append(svg_text(lx + 144, 18, "trait score (mean)", anchor="start", size=10))
    out.append("</svg>")
    return "".join(out)


def projection_svg(
    projections: Mapping[str, Any],
    *,
    width: int = 290,
    height: int = 280,
    title: str = "Projection onto the trait vector",
) -> str:
    """Mean projection per condition (baseline, prompted, steered, ...) as bars with CI."""
    items = [
        (k, v)
        for k, v in (projections or {}).items()
        if isinstance(v, Mapping) and _num(v.get("mean")) is not None
    ]
    order = {c: i for i, c in enumerate(CONDITION_ORDER)}
    items.sort(key=lambda kv: (order.get(kv[0], len(order)), str(kv[0])))
    if not items:
        return empty_svg(width, height, title, "pp-proj", "no projection data")
    values = [0.0]
    for _, v in items:
        values.append(float(v["mean"]))
        ci = ci_pair(v.get("ci"))
        if ci:
            values.extend(ci)
    y0, y1 = nice_range(min(values), max(values))
    n = len(items)
    f = Frame(width, height, (0, n), (y0, y1), margin=(22, 12, 46, 54))
    out = open_svg(width, height, title, "pp-proj")
    out += y_axis(f, nice_ticks(y0, y1), "projection")
    out += x_axis(
        f, [(i + 0.5, redact_secrets(str(k))[:14]) for i, (k, _) in enumerate(items)], "condition"
    )
    zero = f.py(0.0)
    out.append(
        f'<line x1="{f.plot_left:.1f}" y1="{zero:.1f}" x2="{f.plot_right:.1f}" '
        f'y2="{zero:.1f}" stroke="{AXIS_COLOR}" stroke-width="1"/>'
    )
    bw = (f.px(1) - f.px(0)) * 0.55
    for i, (k, v) in enumerate(items):
        mean = float(v["mean"])
        cx = f.px(i + 0.5)
        top, bot = sorted((f.py(mean), zero))
        color = CONDITION_COLORS.get(str(k), BAR_COLOR)
        tip = f"{k}: {fmt_tick(mean)}"
        ci = ci_pair(v.get("ci"))
        if ci:
            tip += f" [{fmt_tick(ci[0])}, {fmt_tick(ci[1])}]"
        if _num(v.get("n")) is not None:
            tip += f", n={int(v['n'])}"
        out.append(
            f'<rect class="pp-bar" x="{cx - bw / 2:.1f}" y="{top:.1f}" width="{bw:.1f}" '
            f'height="{max(bot - top, 1.0):.1f}" fill="{color}" rx="2" opacity="0.9">'
            f"<title>{esc_str(tip)}</title></rect>"
        )
        if ci:
            out.append(errbar(cx, f.py(ci[0]), f.py(ci[1]), "#111827"))
        if mean >= 0:
            ly = (f.py(ci[1]) if ci else f.py(mean)) - 6
        else:
            ly = (f.py(ci[0]) if ci else f.py(mean)) + 13
        out.append(svg_text(cx, ly, fmt_tick(mean), size=10, color="#111827"))
    out.append("</svg>")
    return "".join(out)


def norms_svg(
    norms: Sequence[float],
    layer: int | None,
    *,
    width: int = 310,
    height: int = 280,
    title: str = "Vector norm per layer",
) -> str:
    """Per-layer norm of the trait vector as bars, the chosen layer highlighted."""
    vals = [_num(v) for v in norms or []]
    if not vals or all(v is None for v in vals):
        return empty_svg(width, height, title, "pp-norms", "no norms")
    top = max(v for v in vals if v is not None)
    y0, y1 = nice_range(0.0, top if top > 0 else 1.0)
    n = len(vals)
    f = Frame(width, height, (-0.5, n - 0.5), (y0, y1), margin=(22, 12, 46, 54))
    out = open_svg(width, height, title, "pp-norms")
    out += y_axis(f, nice_ticks(y0, y1), "L2 norm")
    step = max(1, math.ceil(n / 8))
    ticks = [(i, str(i)) for i in range(0, n, step)]
    if layer is not None and 0 <= layer < n and all(i != layer for i, _ in ticks):
        ticks = [(i, s) for i, s in ticks if abs(i - layer) >= step / 2] + [(layer, str(layer))]
    out += x_axis(f, ticks, "layer (decoder block)")
    bw = max((f.px(1) - f.px(0)) * 0.75, 1.0)
    for i, v in enumerate(vals):
        if v is None:
            continue
        chosen = layer is not None and i == layer
        y = f.py(max(v, 0.0))
        h = max(f.py(0.0) - y, 0.5)
        color = HIGHLIGHT_COLOR if chosen else "#94a3b8"
        out.append(
            f'<rect class="pp-bar{" pp-chosen" if chosen else ""}" '
            f'x="{f.px(i) - bw / 2:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}" '
            f'fill="{color}"><title>{esc_str(f"layer {i}: {fmt_tick(v)}")}</title></rect>'
        )
    if layer is not None and 0 <= layer < n and vals[layer] is not None:
        x = f.px(layer)
        y = f.py(max(vals[layer] or 0.0, 0.0))
        anchor = "end" if layer > n * 0.7 else "start"
        dx = -4 if anchor == "end" else 4
        out.append(
            f'<line x1="{x:.1f}" y1="{f.plot_top - 2:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
            f'stroke="{HIGHLIGHT_COLOR}" stroke-width="1" stroke-dasharray="2,2"/>'
        )
        out.append(
            svg_text(
                x + dx,
                f.plot_top - 6,
                f"layer {layer}",
                anchor=anchor,
                size=10,
                color=HIGHLIGHT_COLOR,
                weight="600",
            )
        )
    out.append("</svg>")
    return "".join(out)


def _cos_color(v: float) -> str:
    """Diverging blue (-1) - white (0) - red (+1)."""
    v = max(-1.0, min(1.0, v))
    if v >= 0:
        r, g, b = 255 - v * (255 - 220), 255 - v * (255 - 38), 255 - v * (255 - 38)
    else:
        a = -v
        r, g, b = 255 - a * (255 - 37), 255 - a * (255 - 99), 255 - a * (255 - 235)
    return f"#{int(r):02x}{int(g):02x}{int(b):02x}"


def _short(s: str, n: int = 16) -> str:
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def cosine_heatmap_svg(
    traits: Sequence[str],
    matrix: Sequence[Sequence[float | None]],
    *,
    cell: int = 54,
    title: str = "Cosine similarity between trait vectors",
) -> str:
    """Trait-by-trait cosine similarity, coloured on a -1..1 diverging scale, values printed."""
    names = [redact_secrets(str(t)) for t in traits or []]
    n = len(names)
    if n == 0:
        return empty_svg(300, 120, title, "pp-heatmap", "no traits")
    label_w = min(max(len(_short(s)) for s in names) * 7 + 12, 130)
    top = label_w
    width = label_w + n * cell + 70
    height = top + n * cell + 16
    out = open_svg(width, height, title, "pp-heatmap")
    for i, name in enumerate(names):
        y = top + i * cell + cell / 2 + 4
        out.append(
            svg_text(label_w - 6, y, _short(name), anchor="end", size=11, extra="").replace(
                "</text>", f"<title>{esc_str(name)}</title></text>", 1
            )
        )
        x = label_w + i * cell + cell / 2 + 4
        out.append(
            svg_text(
                x,
                top - 6,
                _short(name),
                anchor="start",
                size=11,
                extra=f' transform="rotate(-50 {x:.1f} {top - 6:.1f})"',
            )
        )
    for i in range(n):
        row = matrix[i] if i < len(matrix) else []
        for j in range(n):
            v = _num(row[j]) if j < len(row) else None
            x, y = label_w + j * cell, top + i * cell
            fill = _cos_color(v) if v is not None else "#f3f4f6"
            tip = f"{names[i]} \u00b7 {names[j]}: {fmt_tick(v) if v is not None else 'n/a'}"
            out.append(
                f'<rect class="pp-cell" x="{x}" y="{y}" width="{cell - 2}" '
                f'height="{cell - 2}" fill="{fill}" rx="3"><title>{esc_str(tip)}</title></rect>'
            )
            txt_color = "#ffffff" if v is not None and abs(v) > 0.6 else "#111827"
            out.append(
                svg_text(
                    x + (cell - 2) / 2,
                    y + cell / 2 + 2,
                    f"{v:.2f}" if v is not None else "n/a",
                    size=11,
                    color=txt_color,
                )
            )
    # colour scale
    sx = label_w + n * cell + 18
    sh = n * cell - 2
    steps = 20
    for k in range(steps):
        v = 1 - 2 * k / (steps - 1)
        out.append(
            f'<rect x="{sx}" y="{top + k * sh / steps:.1f}" width="12" '
            f'height="{sh / steps + 0.6:.1f}" fill="{_cos_color(v)}"/>'
        )
    out.append(svg_text(sx + 16, top + 8, "+1", anchor="start", size=10, color=AXIS_COLOR))
    out.append(svg_text(sx + 16, top + sh / 2 + 4, "0", anchor="start", size=10, color=AXIS_COLOR))
    out.append(svg_text(sx + 16, top + sh, "-1", anchor="start", size=10, color=AXIS_COLOR))
    out.append("</svg>")
    return "".join(out)


def paired_strip_svg(
    diffs: Sequence[Any],
    ci: Any,
    bound: float | None,
    *,
    width: int = 360,
    height: int = 74,
    title: str = "Per-question differences",
) -> str:
    """One dot per question's paired difference (candidate - baseline) on a horizontal axis,
    with the mean, its interval (bar) and the rule's bound (red dashed line)."""
    vals = [x for x in (_num(d) for d in diffs or []) if x is not None]
    if not vals:
        return empty_svg(width, height, title, "pp-strip", "no per-question values")
    span = list(vals) + [0.0]
    interval = ci_pair(ci)
    if interval:
        span.extend(interval)
    b = _num(bound)
    if b is not None:
        span.append(b)
    x0, x1 = nice_range(min(span), max(span))
    f = Frame(width, height, (x0, x1), (0.0, 1.0), margin=(8, 12, 26, 12))
    out = open_svg(width, height, title, "pp-strip")
    out += x_axis(f, [(t, fmt_tick(t)) for t in nice_ticks(x0, x1)], "")
    zx = f.px(0.0)
    out.append(
        f'<line x1="{zx:.1f}" y1="{f.plot_top:.1f}" x2="{zx:.1f}" '
        f'y2="{f.plot_bottom:.1f}" stroke="{AXIS_COLOR}" stroke-width="1"/>'
    )
    if b is not None:
        bx = f.px(b)
        out.append(
            f'<line class="pp-bound" x1="{bx:.1f}" y1="{f.plot_top:.1f}" x2="{bx:.1f}" '
            f'y2="{f.plot_bottom:.1f}" stroke="{HIGHLIGHT_COLOR}" stroke-width="1.5" '
            f'stroke-dasharray="4 3"><title>{esc_str(f"bound {fmt_tick(b)}")}</title></line>'
        )
    mid = (f.plot_top + f.plot_bottom) / 2
    for i, v in enumerate(vals):
        jitter = ((i * 7919) % 11 - 5) / 5 * (f.plot_bottom - f.plot_top) * 0.3
        out.append(
            f'<circle class="pp-pt-diff" cx="{f.px(v):.1f}" cy="{mid + jitter:.1f}" '
            f'r="3" fill="{SCORE_COLOR}" fill-opacity="0.55">'
            f"<title>{esc_str(fmt_tick(v))}</title></circle>"
        )
    mean = sum(vals) / len(vals)
    if interval:
        lo, hi = f.px(interval[0]), f.px(interval[1])
        out.append(
            f'<path class="pp-ci" d="M{lo:.1f},{f.plot_top + 2:.1f}V{f.plot_bottom - 2:.1f}'
            f"M{lo:.1f},{mid:.1f}H{hi:.1f}M{hi:.1f},{f.plot_top + 2:.1f}"
            f'V{f.plot_bottom - 2:.1f}" stroke="#111827" stroke-width="1.5" fill="none"/>'
        )
    out.append(
        f'<rect class="pp-mean" x="{f.px(mean) - 2:.1f}" y="{f.plot_top:.1f}" width="4" '
        f'height="{f.plot_bottom - f.plot_top:.1f}" fill="#111827">'
        f"<title>{esc_str(f'mean {fmt_tick(mean)}, n={len(vals)}')}</title></rect>"
    )
    out.append("</svg>")
    return "".join(out)
