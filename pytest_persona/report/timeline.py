"""``persona timeline FILE -o timeline.html``: the fine-tuning timeline a ``PersonaCallback``
wrote, as one self-contained page: per trait, the shift and its 95% interval against the
training step, the ``stop_if`` bound, and the step where training was stopped.

Inline SVG and CSS only: no scripts, no files, no fonts from anywhere. Every text from the file
(trait names, model names, messages) is escaped.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_persona.errors import ResultsError
from pytest_persona.report._format import esc_str, fmt_tick
from pytest_persona.report.summary import _num
from pytest_persona.report.svg import (
    AXIS_COLOR,
    HIGHLIGHT_COLOR,
    SCORE_COLOR,
    Frame,
    nice_range,
    nice_ticks,
    open_svg,
    svg_text,
    x_axis,
    y_axis,
)
from pytest_persona.report.templates import Html, old_stylesheet, render

FORMAT = "pytest-persona-timeline"


def _bad(path: str, where: str, msg: str) -> ResultsError:
    return ResultsError(f"{path}: field {where!r}: {msg}")


def validate_timeline(doc: Any, path: str = "<timeline>") -> dict[str, Any]:
    """The document, checked field by field (errors name the file and the field)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ResultsError(
            f"{path}: not a pytest-persona timeline (format {FORMAT!r} expected;"
            " PersonaCallback(out=...) writes one)"
        )
    if doc.get("version") != 1:
        raise _bad(path, "version", f"unsupported version {doc.get('version')!r} (1 expected)")
    checks = doc.get("checks")
    if not isinstance(checks, list):
        raise _bad(path, "checks", "must be a list")
    for i, check in enumerate(checks):
        if not isinstance(check, dict):
            raise _bad(path, f"checks[{i}]", "must be an object")
        if isinstance(check.get("step"), bool) or not isinstance(check.get("step"), int):
            raise _bad(path, f"checks[{i}].step", "must be an integer")
        traits = check.get("traits")
        if not isinstance(traits, dict):
            raise _bad(path, f"checks[{i}].traits", "must be an object")
        for name, figures in traits.items():
            if not isinstance(figures, dict):
                raise _bad(path, f"checks[{i}].traits.{name}", "must be an object")
            for key in ("shift", "ci_low", "ci_high"):
                value = figures.get(key)
                if value is not None and _num(value) is None:
                    raise _bad(
                        path,
                        f"checks[{i}].traits.{name}.{key}",
                        f"must be a number or null, got {value!r}",
                    )
    stop = doc.get("stop")
    if stop is not None and (not isinstance(stop, dict) or _num(stop.get("step")) is None):
        raise _bad(path, "stop", "must be null or an object with a numeric step")
    return doc


def load_timeline(path: str | Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc})") from exc
    return validate_timeline(doc, str(path))


def _series(doc: Mapping[str, Any], trait: str) -> list[tuple[int, float, float, float, int]]:
    out = []
    for check in doc["checks"]:
        f = check["traits"].get(trait)
        if not isinstance(f, dict):
            continue
        s, lo, hi = _num(f.get("shift")), _num(f.get("ci_low")), _num(f.get("ci_high"))
        if s is not None and lo is not None and hi is not None:
            n = f.get("n")
            out.append((int(check["step"]), s, lo, hi, n if isinstance(n, int) else 0))
    return out


def trait_plot(doc: Mapping[str, Any], trait: str, width: int = 720, height: int = 300) -> str:
    """SVG: shift (line, points) and 95% CI (band) against step; bound and stop marked."""
    series = _series(doc, trait)
    bound = _num(((doc.get("traits") or {}).get(trait) or {}).get("stop_if"))
    stop = doc.get("stop") or {}
    stop_step = _num(stop.get("step")) if stop.get("trait") == trait else None
    title = f"{trait}: projection shift vs the reference, by training step"
    out = open_svg(width, height, title, "pp-timeline")
    if not series:
        out += [
            svg_text(width / 2, height / 2, "no checks with a finite shift", color=AXIS_COLOR),
            "</svg>",
        ]
        return "".join(out)
    steps = [p[0] for p in series]
    ys = [v for p in series for v in p[2:4]] + [0.0] + ([bound] if bound is not None else [])
    y0, y1 = nice_range(min(ys), max(ys))
    x0, x1 = min(steps), max(steps)
    if x1 == x0:
        x1 = x0 + 1
    f = Frame(width, height, (x0, x1), (y0, y1))
    out += y_axis(f, nice_ticks(y0, y1), "shift (last prompt token)")
    xt = [t for t in nice_ticks(x0, x1) if x0 <= t <= x1 and float(t).is_integer()]
    out += x_axis(f, [(t, fmt_tick(t)) for t in xt], "training step")
    band = [f"{f.px(s):.1f},{f.py(hi):.1f}" for s, _, _, hi, _ in series] + [
        f"{f.px(s):.1f},{f.py(lo):.1f}" for s, _, lo, _, _ in reversed(series)
    ]
    out.append(
        f'<polygon class="pp-ci-band" points="{" ".join(band)}" fill="{SCORE_COLOR}" '
        'fill-opacity="0.18" stroke="none"/>'
    )
    out.append(
        f'<line class="pp-zero" x1="{f.plot_left:.1f}" y1="{f.py(0):.1f}" '
        f'x2="{f.plot_right:.1f}" y2="{f.py(0):.1f}" stroke="{AXIS_COLOR}" '
        'stroke-width="1"/>'
    )
    if bound is not None:
        out.append(
            f'<line class="pp-bound" x1="{f.plot_left:.1f}" y1="{f.py(bound):.1f}" '
            f'x2="{f.plot_right:.1f}" y2="{f.py(bound):.1f}" stroke="{HIGHLIGHT_COLOR}" '
            'stroke-width="1" stroke-dasharray="5,4"/>'
        )
        out.append(
            svg_text(
                f.plot_right - 4,
                f.py(bound) - 4,
                f"stop_if {fmt_tick(bound)}",
                anchor="end",
                size=10,
                color=HIGHLIGHT_COLOR,
            )
        )
    path = "M" + "L".join(f"{f.px(s):.1f},{f.py(v):.1f}" for s, v, _, _, _ in series)
    out.append(
        f'<path class="pp-shift" d="{path}" stroke="{SCORE_COLOR}" stroke-width="2" fill="none"/>'
    )
    for s, v, lo, hi, n in series:
        tip = esc_str(f"step {s}: {v:+.4f} (95% CI {lo:+.4f} to {hi:+.4f}, n={n})")
        out.append(
            f'<circle class="pp-pt-shift" cx="{f.px(s):.1f}" cy="{f.py(v):.1f}" r="3" '
            f'fill="{SCORE_COLOR}"><title>{tip}</title></circle>'
        )
    if stop_step is not None:
        x = f.px(stop_step)
        out.append(
            f'<line class="pp-stop" x1="{x:.1f}" y1="{f.plot_top:.1f}" x2="{x:.1f}" '
            f'y2="{f.plot_bottom:.1f}" stroke="{HIGHLIGHT_COLOR}" stroke-width="2"/>'
        )
        out.append(
            svg_text(
                x - 4,
                f.plot_top + 12,
                f"stopped at step {int(stop_step)}",
                anchor="end",
                size=10,
                color=HIGHLIGHT_COLOR,
                weight="bold",
            )
        )
    out.append("</svg>")
    return "".join(out)


def _traits(doc: Mapping[str, Any]) -> list[str]:
    names: list[str] = [str(k) for k in (doc.get("traits") or {})]
    for check in doc["checks"]:
        names += [str(k) for k in check["traits"] if str(k) not in names]
    return names


def render_timeline(doc: Mapping[str, Any]) -> str:
    """The whole page for a validated timeline document."""
    ref = doc.get("reference") or {}
    cost = doc.get("cost") or {}
    seconds = [s for c in doc["checks"] if (s := _num(c.get("seconds"))) is not None]
    cost_line = (
        f"{cost.get('forward_passes_per_check', '?')} forward passes per check "
        f"(one per question per trait, batch {cost.get('batch_size', '?')}, no "
        "generation)"
    )
    if seconds:
        cost_line += f"; {statistics.median(seconds):.3f} s per check (median of {len(seconds)})"
    stop = doc.get("stop")
    why = ""
    if isinstance(stop, dict):
        why = stop.get("message") or f"stopped at step {stop.get('step')}"
    return str(
        render(
            "timeline.html.jinja2",
            model=str(doc.get("model", "")),
            model_heading=str(doc.get("model", "model")),
            layer=str(doc.get("layer", "?")),
            measure=str(doc.get("measure", "")),
            cost=cost_line,
            stop=str(why),
            reference={
                "kind": str(ref.get("kind", "?")),
                "fingerprint": str(ref.get("fingerprint", "unknown fingerprint")),
                "step": str(ref.get("step", "?")),
            },
            traits=[
                {"name": name, "plot": Html(trait_plot(doc, name)), "series": _series(doc, name)}
                for name in _traits(doc)
            ],
        )
    )


def __getattr__(name: str) -> Any:
    """The stylesheet was the constant ``CSS``; it is a package resource now."""
    return old_stylesheet(__name__, name, {"CSS": "timeline.css"})
