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

MEASURE_LABELS = {"projection_difference": "projection difference (training - own response)",
                  "projection": "projection of the training response (no baseline)"}
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:24px;
color:#1f2937;max-width:1200px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 8px}
.pp-sub{color:#4b5563;margin:2px 0 12px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 14px}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.pp-text{white-space:pre-wrap;max-width:520px;overflow-wrap:anywhere}
.pp-flag{color:#b91c1c;font-weight:600}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:13px}
dt{color:#6b7280}dd{margin:0}
details summary{cursor:pointer;color:#374151}
"""


def histogram_svg(hist: Mapping[str, Any], threshold: float | None, mean: float | None, *,
                  title: str, xlabel: str, width: int = 520, height: int = 260) -> str:
    """Bars of per-sample values, with the threshold (red, dashed) and the mean (grey)."""
    edges = [float(x) for x in hist.get("edges") or []]
    counts = [int(c) for c in hist.get("counts") or []]
    if not counts or sum(counts) == 0 or len(edges) != len(counts) + 1:
        return empty_svg(width, height, title, "pp-screen-hist", "no samples")
    used = [i for i, c in enumerate(counts) if c]
    first, last = used[0], used[-1] + 1
    edges, counts = edges[first:last + 1], counts[first:last]
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
        out.append(f'<rect class="pp-bar" x="{a:.1f}" y="{y:.1f}" width="{max(b - a - 0.5, 0.5):.1f}"'
                   f' height="{max(f.py(0) - y, 0.5):.1f}" fill="{color}"><title>'
                   f'{esc(f"{fmt_tick(edges[i])} to {fmt_tick(edges[i + 1])}: {c} samples")}</title></rect>')
    for value, color, label, cls in ((threshold, HIGHLIGHT_COLOR, "threshold", "pp-threshold"),
                                     (mean, AXIS_COLOR, "mean", "pp-mean")):
        if value is None or not math.isfinite(value):
            continue
        x = f.px(value)
        out.append(f'<line class="{cls}" x1="{x:.1f}" y1="{f.plot_top:.1f}" x2="{x:.1f}" '
                   f'y2="{f.plot_bottom:.1f}" stroke="{color}" stroke-width="1.5" '
                   f'stroke-dasharray="4,3"/>')
        out.append(svg_text(x + 3, f.plot_top - 6, f"{label} {fmt_tick(value)}", anchor="start",
                         size=10, color=color))
    out.append("</svg>")
    return "".join(out)


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, Sequence) and not isinstance(prompt, str):
        return "\n".join(f"[{m.get('role')}] {m.get('content')}" for m in prompt
                         if isinstance(m, Mapping))
    return str(prompt or "")


def top_table(top: Sequence[Mapping[str, Any]], threshold: float | None, baseline: str,
              limit: int | None = None) -> str:
    """The highest-scoring samples with their prompt, training response and own response."""
    rows = []
    for s in list(top)[:limit]:
        score = _n(s.get("score"))
        flag = threshold is not None and score is not None and score > threshold
        own = ""
        if baseline == "generate":
            own = (f'<td class="num">{fmt_fixed(s.get("own_projection"))}</td>'
                   f'<td class="pp-text">{esc(s.get("own_response"))}</td>')
        rows.append(
            f'<tr><td class="num">{esc(s.get("line"))}</td><td>{esc(s.get("id"))}</td>'
            f'<td class="num{" pp-flag" if flag else ""}">{fmt_fixed(score)}</td>'
            f'<td class="num">{fmt_fixed(s.get("projection"))}</td>'
            f'<td class="pp-text">{esc(_prompt_text(s.get("prompt")))}</td>'
            f'<td class="pp-text">{esc(s.get("response"))}</td>{own}</tr>')
    heads = ["line", "id", "score", "projection", "prompt", "training response"]
    if baseline == "generate":
        heads += ["own projection", "model's own response"]
    head = "".join(f'<th{" class=num" if h in ("line", "score", "projection", "own projection") else ""}>'
                   f"{esc(h)}</th>" for h in heads)
    return (f'<table class="pp-table pp-screen-top"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def trait_block(name: str, t: Mapping[str, Any], *, baseline: str, measure: str,
                histogram: Mapping[str, Any] | None, top_limit: int | None = None,
                heading: str = "h2") -> str:
    """Summary line, distribution and top samples of one trait."""
    threshold = _n(t.get("threshold"))
    ci = t.get("ci") or [None, None]
    frac = _n(t.get("fraction_above"))
    percent = fmt_fixed(frac * 100 if frac is not None else None, 1)
    above = (f"; {esc(t.get('above'))} of {esc(t.get('n'))} samples ({percent}%) above the "
             f"threshold {fmt_fixed(threshold)}" if threshold is not None else "; no threshold given")
    summary = (f"n = {esc(t.get('n'))}; mean {esc(MEASURE_LABELS.get(measure, measure))} "
               f"{fmt_fixed(t.get('mean'))} (95% CI {fmt_fixed(ci[0])} to {fmt_fixed(ci[1])}, Poisson bootstrap)"
               f"{above}")
    svg = histogram_svg(histogram or {}, threshold, _n(t.get("mean")),
                        title=f"{name}: per-sample {measure.replace('_', ' ')}",
                        xlabel=measure.replace("_", " "))
    top = t.get("top") or []
    anchor = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    return (f'<section class="pp-screen" id="pp-screen-{anchor}"><{heading}>{esc(name)}'
            f'</{heading}><p class="pp-sub">{summary}</p>{svg}'
            f'<details open><summary>Top {len(top[:top_limit])} samples by score</summary>'
            f'{top_table(top, threshold, baseline, top_limit)}</details></section>')


def render_screen(result: Mapping[str, Any]) -> str:
    """The whole page for a ``persona screen`` results dict (see ``ScreenResult.to_dict``)."""
    measure = str(result.get("measure") or "projection_difference")
    baseline = str(result.get("baseline") or "generate")
    model = result.get("model")
    facts = [
        ("data", esc(result.get("data"))),
        ("data sha256", f"<code>{esc(str(result.get('data_sha256') or '')[:16])}</code>"),
        ("model", esc(model)),
        ("layer", f"{esc(result.get('layer'))} (0-based decoder block output)"),
        ("measure", esc(MEASURE_LABELS.get(measure, measure))),
        ("baseline", esc(baseline) + (" (the model's own greedy response to each prompt)"
                                     if baseline == "generate" else
                                     " (raw projection: no own-response reference)")),
        ("samples", esc(result.get("n_samples"))),
        ("skipped lines", esc(result.get("skipped_lines"))),
        ("interval", esc(result.get("interval"))),
        ("projection", "a \u00b7 v / |v| of response-token-averaged activations"),
    ]
    gen = result.get("generation")
    if baseline == "generate" and isinstance(gen, Mapping):
        facts.append(("generation", esc(", ".join(f"{k}={v}" for k, v in gen.items()))))
    dl = "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
    skipped = result.get("skipped_examples") or []
    skip_html = ("<h2>Skipped lines</h2><ul>" + "".join(f"<li>{esc(s)}</li>" for s in skipped)
                 + "</ul>") if skipped else ""
    traits = result.get("traits") or {}
    hists = result.get("histograms") or {}
    blocks = "".join(trait_block(str(n), t, baseline=baseline, measure=measure,
                                 histogram=hists.get(n)) for n, t in traits.items())
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>Dataset screen: {esc(result.get('data'))}</title><style>{CSS}</style>"
            f"</head><body><h1>Dataset screen</h1>{dl}{blocks}{skip_html}</body></html>")


def report_block(screen: Mapping[str, Any], top_limit: int = 10) -> str:
    """The ``dataset_screen`` block of the suite report (one trait, one data file)."""
    name = f"dataset screen: {screen.get('data')}"
    t = dict(screen.get("trait_summary") or {})
    return trait_block(name, t, baseline=str(screen.get("baseline") or "generate"),
                       measure=str(screen.get("measure") or "projection_difference"),
                       histogram=screen.get("histogram"), top_limit=top_limit, heading="h4")
