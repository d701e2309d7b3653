"""HTML rendering: the section inserted into pytest-html's report, and standalone pages.

The markup is in the Jinja2 templates under ``report/resources`` (``report.jinja2`` holds the
parts); this module gathers what they show. Everything that comes from a run (model output,
questions, trait names, judge notes, messages) is escaped by the template environment, with
secrets redacted (:mod:`.templates`); every page also passes through :func:`redact_secrets`.
Pages use inline CSS and inline SVG only: no scripts, no fonts or files from the network.
Standalone pages carry a Content-Security-Policy that forbids scripts altogether.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_persona._util.deprecated import warn_renamed
from pytest_persona._util.numbers import finite_or_none
from pytest_persona._util.redact import redact_secrets
from pytest_persona.report import plots, screen_html
from pytest_persona.report._format import DASH, fmt_num
from pytest_persona.report.summary import flip_line, outcome_counts, projection_order
from pytest_persona.report.templates import Html, macro, old_stylesheet, render
from pytest_persona.results.compare import Comparison, Rule, compare_results, trait_metrics

#: standalone pages run no script and load nothing from the network
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
BAD = ("failed", "error")
CHIP_OUTCOMES = ("passed", "failed", "error", "xfailed", "xpassed", "skipped")
MAX_ANSWER_CHARS = 4000
SEP = " \u00b7 "

METRIC_LABELS = {
    "baseline_score": "baseline score",
    "steered_score": "steered score",
    "baseline_projection": "baseline projection",
    "steered_projection": "steered projection",
    "coherence_at_max": "coherence at max coeff",
    "max_cross_cosine": "max cross-trait cosine",
    "effective_pairs": "effective pairs",
    "checkpoint_shift": "checkpoint shift",
}

_num = finite_or_none


def _anchor(name: Any) -> str:
    name = redact_secrets(str(name))
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:60] or "trait"


def _ci_text(v: Any) -> str:
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(_num(x) is not None for x in v):
        return f"[{fmt_num(v[0])}, {fmt_num(v[1])}]"
    return ""


#: what every report template can use besides its own context
HELPERS: dict[str, Any] = {
    "BAD": BAD,
    "CHIP_OUTCOMES": CHIP_OUTCOMES,
    "DASH": DASH,
    "SEP": SEP,
    "METRIC_LABELS": METRIC_LABELS,
    "anchor": _anchor,
    "ci_text": _ci_text,
    "finite": _num,
    "redact": lambda v: redact_secrets(str(v)),
    "outcome_counts": outcome_counts,
    "projection_order": projection_order,
    "flip_line": flip_line,
}


def _render(name: str, **context: Any) -> Html:
    return render(name, **HELPERS, **context)


def _page(title: str, body: Html) -> str:
    return redact_secrets(_render("page.html.jinja2", title=title, body=body, csp=Html(CSP)))


# --------------------------------------------------------------------------- gathering


def _delta_rows(
    deltas: Mapping[Any, Any], flagged: set[Any], trait: Any = None
) -> list[dict[str, Any]]:
    """Rows of a deltas table; ``flagged`` holds metrics (``trait`` given: (trait, metric))."""
    rows = []
    for metric, d in deltas.items():
        if isinstance(d, Mapping):
            key = metric if trait is None else (trait, metric)
            rows.append(
                {
                    "trait": trait,
                    "metric": metric,
                    "old": d.get("old"),
                    "new": d.get("new"),
                    "delta": d.get("delta"),
                    "flagged": key in flagged,
                }
            )
    return rows


def _failures(results: Mapping[str, Any]) -> dict[str, Any]:
    comp = results.get("comparison") or {}
    deltas_by_trait = comp.get("deltas") if isinstance(comp, Mapping) else None
    bad = []
    for e in results.get("expectations") or []:
        if e.get("outcome") not in BAD:
            continue
        trait = e.get("trait")
        regs: list[Mapping[str, Any]] = []
        deltas: list[dict[str, Any]] = []
        if comp and trait is not None:
            regs = [
                r
                for r in comp.get("regressions") or []
                if isinstance(r, Mapping) and r.get("trait") == trait
            ]
            d = deltas_by_trait.get(trait) if isinstance(deltas_by_trait, Mapping) else None
            if isinstance(d, Mapping):
                deltas = _delta_rows(d, {r.get("metric") for r in regs})
        bad.append({"expectation": e, "regressions": regs, "deltas": deltas})
    path = comp.get("baseline_path") if isinstance(comp, Mapping) else None
    return {"bad": bad, "baseline_path": path or ""}


def _checks(comp: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each rule check: paired difference, interval, bound, verdict and a strip plot of the
    per-question differences behind it (so a reviewer sees whether one question or all moved)."""
    out = []
    for c in comp.get("checks") or []:
        if not isinstance(c, Mapping):
            continue
        level = _num(c.get("level"))
        ci = c.get("ci")
        interval = (
            f"{fmt_num(ci[0], 2)} to {fmt_num(ci[1], 2)}"
            if isinstance(ci, (list, tuple)) and len(ci) == 2
            else DASH
        )
        if level is not None and interval != DASH:
            interval = f"{100 * level:.4g}% CI {interval}"
        rule = str(c.get("rule") or "")
        allowed = _num(c.get("allowed"))
        direction = -1 if ":-" in rule.replace(" ", "") else 1
        bound = None if allowed is None else direction * allowed
        pq = c.get("per_question") if isinstance(c.get("per_question"), Mapping) else {}
        diffs = (pq or {}).get("diffs") or []
        strip = (
            plots.paired_strip_svg(
                diffs,
                ci,
                bound,
                title=f"{c.get('trait')}: {c.get('metric')} per question (candidate - baseline)",
            )
            if diffs
            else ""
        )
        out.append(
            {
                "trait": c.get("trait"),
                "rule": rule,
                "mode": c.get("mode"),
                "delta": c.get("delta"),
                "interval": interval,
                "bound": bound,
                "n": c.get("n"),
                "failed": c.get("verdict") == "fail",
                "strip": Html(strip),
            }
        )
    return out


def _comparison_deltas(comp: Any) -> list[dict[str, Any]]:
    if not isinstance(comp, Mapping) or not isinstance(comp.get("deltas"), Mapping):
        return []
    flagged = {
        (r.get("trait"), r.get("metric"))
        for r in comp.get("regressions") or []
        if isinstance(r, Mapping)
    }
    rows = []
    for trait, ms in comp["deltas"].items():
        rows += _delta_rows(ms or {}, flagged, trait)
    return rows


def _sorted_sweep(sweep: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(
        (r for r in sweep if isinstance(r, Mapping)), key=lambda r: _num(r.get("coeff")) or 0.0
    )


def _examples(sweep: Sequence[Mapping[str, Any]], max_examples: int | None) -> list[Any]:
    """``(sweep row, its examples)`` per coefficient; long answers cut."""
    groups = []
    for r in _sorted_sweep(sweep):
        exs = [x for x in r.get("examples") or [] if isinstance(x, Mapping)]
        if max_examples is not None:
            exs = exs[:max_examples]
        shown = []
        for ex in exs:
            ans = redact_secrets(str(ex.get("answer") or ""))
            if len(ans) > MAX_ANSWER_CHARS:
                ans = ans[:MAX_ANSWER_CHARS] + f"\u2026 [{len(ans) - MAX_ANSWER_CHARS} more chars]"
            shown.append(
                {
                    "question": ex.get("question"),
                    "answer": ans,
                    "score": ex.get("score"),
                    "coherence": ex.get("coherence"),
                }
            )
        if shown:
            groups.append((r, shown))
    return groups


def _dose_note(dose: Mapping[str, Any]) -> str:
    """How coefficients and doses relate for this trait, in words and numbers."""
    return (
        f"Relative dose = |coeff| x ||v|| / mean ||h||, with ||v|| = "
        f"{fmt_num(dose.get('vector_norm'), 3)} (the vector at layer {dose.get('layer')}) and "
        f"mean ||h|| = {fmt_num(dose.get('mean_norm'), 3)} (mean L2 norm of block "
        f"{dose.get('layer')} outputs over {fmt_num(dose.get('n_tokens'), 0)} tokens of the "
        "evaluation prompts, unsteered, each prompt's first token left out: it carries the "
        "attention sink's outsized norm)"
        + (
            "; the suite gave doses, converted to coefficients for this model"
            if dose.get("given") == "doses"
            else ""
        )
        + "."
    )


def _agreement_text(t: Mapping[str, Any]) -> str:
    """``AUC 0.93 (95% CI 0.85-0.99, n=44, evil.jsonl)`` per labelled file, joined."""
    parts = []
    for file, row in sorted((t.get("judge_agreement") or {}).items()):
        if not isinstance(row, Mapping) or _num(row.get("value")) is None:
            continue
        ci: list[Any] = row["ci"] if isinstance(row.get("ci"), list) else [None, None]
        metric = "AUC" if row.get("metric") == "auc" else "Spearman"
        parts.append(
            f"{metric} {fmt_num(row['value'], 3)} (95% CI {fmt_num(ci[0], 2)}-"
            f"{fmt_num(ci[1], 2)}, n={fmt_num(row.get('n'), 0)}, {file})"
        )
    return "; ".join(parts)


def _trait(
    name: str, t: Mapping[str, Any], results: Mapping[str, Any], max_examples: int | None
) -> dict[str, Any]:
    m = t.get("metrics") or {}
    vec = t.get("vector") or {}
    meta = []
    if t.get("layer") is not None:
        meta.append(f"layer {t['layer']}")
    if t.get("positions"):
        meta.append(f"positions {t['positions']}")
    if t.get("coefficients"):
        meta.append("coefficients " + ", ".join(fmt_num(c) for c in t["coefficients"]))
    dose = t.get("dose") if isinstance(t.get("dose"), Mapping) else None
    if dose and dose.get("doses"):
        meta.append(
            ("given as doses " if dose.get("given") == "doses" else "doses ")
            + ", ".join(fmt_num(d, 3) for d in dose["doses"])
        )
    if vec.get("source"):
        source = {"extracted": "vector extracted in this run", "cache": "vector from the cache"}
        meta.append(source.get(str(vec["source"]), f"vector from {vec['source']}"))
    tiles = []
    for key in (
        "baseline_score",
        "steered_score",
        "coherence_at_max",
        "max_cross_cosine",
        "checkpoint_shift",
    ):
        if _num(m.get(key)) is not None:
            digits = 2 if "cos" in key or "shift" in key else 1
            tiles.append((METRIC_LABELS[key], fmt_num(m[key], digits)))
    pairs = m.get("effective_pairs", vec.get("effective_pairs"))
    if _num(pairs) is not None:
        tiles.append(("effective pairs", fmt_num(pairs)))
    po = projection_order(t)
    if po != "-":
        tiles.append(("projection order", po))
    if _num(vec.get("pos_mean_score")) is not None or _num(vec.get("neg_mean_score")) is not None:
        tiles.append(
            (
                "extraction pos / neg score",
                f"{fmt_num(vec.get('pos_mean_score'))} / {fmt_num(vec.get('neg_mean_score'))}",
            )
        )
    agreement = _agreement_text(t)
    if agreement:
        tiles.append(("judge agreement", agreement))
    figs: list[tuple[str, Html]] = []
    sweep = [r for r in t.get("sweep") or [] if isinstance(r, Mapping)]
    if sweep:
        figs.append(
            (
                "Dose response: trait score and coherence per coefficient",
                Html(plots.dose_response_svg(sweep, title=f"{name}: dose response")),
            )
        )
    damage = [r for r in t.get("damage") or [] if isinstance(r, Mapping)]
    if damage:
        figs.append(
            (
                "Steering damage: mean KL(steered || unsteered) of next-token "
                "distributions over benign prompts (teacher-forced), per dose, beside "
                "the trait score",
                Html(plots.damage_svg(damage, sweep, title=f"{name}: damage")),
            )
        )
    if isinstance(t.get("projections"), Mapping) and t["projections"]:
        figs.append(
            (
                "Projection onto the trait vector",
                Html(plots.projection_svg(t["projections"], title=f"{name}: projections")),
            )
        )
    if vec.get("norms"):
        layer = t.get("layer") if isinstance(t.get("layer"), int) else None
        figs.append(
            (
                "Vector norm per layer",
                Html(plots.norms_svg(vec["norms"], layer, title=f"{name}: norms")),
            )
        )
    return {
        "name": name,
        "counts": outcome_counts(results, name),
        "meta": meta,
        "tiles": tiles,
        "figures": figs,
        "dose_note": _dose_note(dose) if dose else "",
        "sweep": _sorted_sweep(sweep),
        # judge spread: mean over answers of max - min of the score over the judge repeats
        "spread": any(isinstance(r.get("judge_spread"), Mapping) for r in sweep),
        "agreement": agreement,
        "examples": _examples(sweep, max_examples),
        "max_examples": max_examples,
        # dataset_screen expectations
        "screens": [screen_html.report_block(s) for s in (t.get("screens") or {}).values()],
    }


def _view(results: Mapping[str, Any], max_examples: int | None) -> dict[str, Any]:
    """What the body of a report shows, gathered from a results document."""
    comp = results.get("comparison")
    cos = results.get("cosine")
    cosine_svg = (
        Html(plots.cosine_heatmap_svg(cos.get("traits") or [], cos.get("matrix") or []))
        if isinstance(cos, Mapping) and cos.get("traits")
        else None
    )
    traits = results.get("traits") or {}
    return {
        "results": results,
        "failures": _failures(results),
        "checks": _checks(comp) if isinstance(comp, Mapping) else [],
        "deltas": _comparison_deltas(comp),
        "cosine_svg": cosine_svg,
        "traits": [_trait(str(n), t or {}, results, max_examples) for n, t in traits.items()],
    }


# --------------------------------------------------------------------------- public API


def render_error(what: str, exc: BaseException) -> str:
    """An escaped error box standing in for a part of the report that could not be rendered."""
    return _render("error.html.jinja2", what=what, kind=type(exc).__name__, message=exc)


def checks_table(comp: Mapping[str, Any]) -> str:
    """The table of rule checks in a comparison (``Comparison.to_dict()``), with its note."""
    table = macro("report.jinja2", "checks_table", **HELPERS)
    return Html(table(_checks(comp), comp.get("correction") or "none"))


def render_persona_section(results: Mapping[str, Any], *, max_examples: int | None = 3) -> str:
    """An HTML fragment (scoped style included) for pytest-html's summary section."""
    return redact_secrets(_render("section.html.jinja2", v=_view(results, max_examples)))


def render_report(
    results: Mapping[str, Any], title: str | None = None, *, max_examples: int | None = None
) -> str:
    """A full standalone HTML page for ``persona report``: works offline, runs no script."""
    model = (results.get("model") or {}).get("name", "model")
    title = title or f"Persona report: {model}"
    body = _render("report.html.jinja2", title=title, v=_view(results, max_examples))
    return _page(title, body)


# --------------------------------------------------------------------------- comparison


_LARGE_ABS = {
    "baseline_score": 10.0,
    "steered_score": 10.0,
    "coherence_at_max": 10.0,
    "max_cross_cosine": 0.1,
}


def is_large_change(metric: str, old: float, new: float) -> bool:
    """Heuristic for highlighting: 10 points on 0-100 scores, 0.1 on cosines, else 20%."""
    d = abs(new - old)
    if metric in _LARGE_ABS:
        return d >= _LARGE_ABS[metric]
    scale = max(abs(old), abs(new))
    return scale > 0 and d / scale >= 0.2


def _side(results: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "model": results.get("model") or {},
        "judge": results.get("judge") or {},
        "created": results.get("created"),
        "counts": outcome_counts(results),
    }


def _compared_traits(
    comp: Comparison, a: Mapping[str, Any], b: Mapping[str, Any], labels: tuple[str, str]
) -> list[dict[str, Any]]:
    la, lb = labels
    ta, tb = a.get("traits") or {}, b.get("traits") or {}
    out = []
    for name in list(ta) + [n for n in tb if n not in ta]:
        xa, xb = ta.get(name) or {}, tb.get(name) or {}
        mxa, mxb = trait_metrics(xa), trait_metrics(xb)
        rows = []
        for metric in list(mxa) + [k for k in mxb if k not in mxa]:
            va, vb = mxa.get(metric), mxb.get(metric)
            cls, status, delta = "", "", None
            reg = comp.flagged(str(name), metric)
            if va is not None and vb is not None:
                delta = vb - va
                if reg is not None:
                    cls, status = "pp-flag", f"beyond {reg.rule}"
                elif is_large_change(metric, va, vb):
                    cls, status = "pp-large", "large change"
            else:
                status = "only in " + (la if vb is None else lb)
            rows.append(
                {
                    "metric": metric,
                    "old": va,
                    "new": vb,
                    "delta": delta,
                    "cls": cls,
                    "status": status,
                }
            )
        figs = []
        for lab, x in ((la, xa), (lb, xb)):
            if x.get("sweep"):
                figs.append(
                    (
                        f"{lab}: dose response",
                        Html(plots.dose_response_svg(x["sweep"], title=f"{lab}: {name}")),
                    )
                )
            elif x.get("projections"):
                figs.append(
                    (
                        f"{lab}: projections",
                        Html(plots.projection_svg(x["projections"], title=f"{lab}: {name}")),
                    )
                )
        out.append(
            {
                "name": name,
                "only_in": "" if xa and xb else (la if xa else lb),
                "rows": rows,
                "figures": figs,
            }
        )
    return out


def _changed_outcomes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    oa = {e.get("nodeid"): e for e in a.get("expectations") or []}
    ob = {e.get("nodeid"): e for e in b.get("expectations") or []}
    changed = []
    for nid in list(oa) + [n for n in ob if n not in oa]:
        ea, eb = oa.get(nid), ob.get(nid)
        o1 = ea.get("outcome") if ea else None
        o2 = eb.get("outcome") if eb else None
        if o1 != o2:
            changed.append(
                {"nodeid": nid, "old": o1, "new": o2, "message": (eb or {}).get("message")}
            )
    return changed


def render_comparison_report(
    current: Mapping[str, Any],
    baseline: Mapping[str, Any],
    rules: Sequence[str | Rule] | None = None,
    *,
    title: str | None = None,
    labels: tuple[str, str] = ("A", "B"),
    correction: str = "holm",
) -> str:
    """Side-by-side page of two results, sides in the order of :func:`compare_results`:
    ``current`` is the candidate, ``baseline`` what it is held against.

    ``labels`` name the columns, baseline first (the page shows the baseline on the left).
    Per trait and metric: baseline, current, delta; flagged red when a rule fails, amber when
    the change is large. Also the outcome changes of expectations and the dose-response plots
    side by side.
    """
    la, lb = labels
    a, b = baseline, current
    comp: Comparison = compare_results(current, baseline, rules or [], correction=correction)
    title = title or (
        f"Persona comparison: {(a.get('model') or {}).get('name', la)} vs "
        f"{(b.get('model') or {}).get('name', lb)}"
    )
    ja, jb = a.get("judge") or {}, b.get("judge") or {}
    offline = ja if ja.get("offline") else jb if jb.get("offline") else None
    body = _render(
        "comparison.html.jinja2",
        title=title,
        labels=labels,
        sides=(_side(a), _side(b)),
        offline_judge=offline,
        rules=", ".join(str(r) for r in comp.rules) or "none",
        has_rules=bool(comp.rules),
        regressions=[r.message for r in comp.regressions],
        checks=_checks(comp.to_dict()),
        correction=comp.correction or "none",
        notes=[*comp.compared, *comp.notes],
        traits=_compared_traits(comp, a, b, labels),
        changed=_changed_outcomes(a, b),
    )
    return _page(title, body)


def render_comparison(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    rules: Sequence[str | Rule] | None = None,
    *,
    title: str | None = None,
    labels: tuple[str, str] = ("A", "B"),
    correction: str = "holm",
) -> str:
    """Deprecated: :func:`render_comparison_report` (``current, baseline``), here ``a`` is the
    baseline and ``b`` the candidate."""
    warn_renamed(
        "render_comparison(a=baseline, b=candidate)", "render_comparison_report(current, baseline)"
    )
    return render_comparison_report(b, a, rules, title=title, labels=labels, correction=correction)


def __getattr__(name: str) -> Any:
    """The stylesheets were module constants; they are package resources now."""
    return old_stylesheet(__name__, name, {"STYLE": "style.css", "PAGE_STYLE": "page.css"})
