"""HTML rendering: the section inserted into pytest-html's report, and standalone pages.

Everything that comes from a run (model output, questions, trait names, judge notes, messages)
is escaped with :func:`html.escape`; every page also passes through :func:`redact_secrets`.
Pages use inline CSS and inline SVG only: no scripts, no fonts or files from the network.
Standalone pages carry a Content-Security-Policy that forbids scripts altogether.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_persona._util.numbers import finite_or_none
from pytest_persona._util.redact import redact_secrets
from pytest_persona.report import plots, screen_html
from pytest_persona.report._format import esc, fmt_num
from pytest_persona.report.summary import flip_line, outcome_counts, projection_order
from pytest_persona.results.compare import Comparison, Rule, compare_results, trait_metrics

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")
BAD = ("failed", "error")
MAX_ANSWER_CHARS = 4000
DASH = "\u2013"
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

STYLE = """
.persona-report{--pp-fg:#1f2937;--pp-muted:#6b7280;--pp-line:#e5e7eb;--pp-bg:#f8fafc;
 --pp-pass:#15803d;--pp-pass-bg:#dcfce7;--pp-fail:#b91c1c;--pp-fail-bg:#fee2e2;
 --pp-warn:#92400e;--pp-warn-bg:#fef3c7;--pp-accent:#2563eb;
 font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 color:var(--pp-fg);font-size:14px;line-height:1.45;margin:12px 0 24px;text-align:left}
.persona-report *{box-sizing:border-box}
.persona-report a{color:var(--pp-accent);text-decoration:none}
.persona-report a:hover{text-decoration:underline}
.persona-report h2.pp-h2{font-size:20px;margin:0 0 4px;padding:0;color:var(--pp-fg);font-weight:650}
.persona-report h3.pp-h3{font-size:16px;margin:22px 0 10px;padding:0 0 4px;
 border-bottom:1px solid var(--pp-line);color:var(--pp-fg);font-weight:650}
.persona-report h4.pp-h4{font-size:13px;margin:14px 0 6px;color:var(--pp-muted);
 text-transform:uppercase;letter-spacing:.04em;font-weight:600}
.persona-report .pp-sub{color:var(--pp-muted);font-size:12px;margin:0 0 12px}
.persona-report .pp-banner{border-radius:6px;padding:10px 14px;margin:10px 0;font-size:14px}
.persona-report .pp-banner strong{font-weight:700}
.persona-report .pp-warn{background:var(--pp-warn-bg);color:var(--pp-warn);
 border:1px solid #f59e0b}
.persona-report .pp-bad{background:var(--pp-fail-bg);color:var(--pp-fail);
 border:1px solid #f87171}
.persona-report .pp-good{background:var(--pp-pass-bg);color:var(--pp-pass);
 border:1px solid #4ade80}
.persona-report .pp-cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));
 gap:12px;margin:12px 0}
.persona-report .pp-card{background:var(--pp-bg);border:1px solid var(--pp-line);
 border-radius:8px;padding:10px 14px}
.persona-report .pp-card h4.pp-h4{margin-top:0}
.persona-report dl.pp-kv{display:grid;grid-template-columns:max-content 1fr;gap:3px 12px;
 margin:0;font-size:13px}
.persona-report dl.pp-kv dt{color:var(--pp-muted)}
.persona-report dl.pp-kv dd{margin:0;overflow-wrap:anywhere}
.persona-report code,.persona-report .pp-mono{font-family:ui-monospace,SFMono-Regular,Menlo,
 Consolas,monospace;font-size:12px}
.persona-report .pp-chips{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}
.persona-report .pp-chip{display:inline-block;border-radius:999px;padding:2px 10px;
 font-size:12px;font-weight:600;background:#e5e7eb;color:#374151;white-space:nowrap}
.persona-report .pp-o-passed,.persona-report .pp-o-xfailed{background:var(--pp-pass-bg);
 color:var(--pp-pass)}
.persona-report .pp-o-failed,.persona-report .pp-o-error{background:var(--pp-fail-bg);
 color:var(--pp-fail)}
.persona-report .pp-o-xpassed{background:var(--pp-warn-bg);color:var(--pp-warn)}
.persona-report .pp-o-skipped{background:#e5e7eb;color:#4b5563}
.persona-report table.pp-table{border-collapse:collapse;width:100%;margin:6px 0 12px;
 font-size:13px;border:1px solid var(--pp-line);background:#fff}
.persona-report table.pp-table th{background:#f1f5f9;text-align:left;font-weight:600;
 padding:6px 10px;border-bottom:1px solid #cbd5e1;color:#334155;white-space:nowrap}
.persona-report table.pp-table td{padding:6px 10px;border-bottom:1px solid var(--pp-line);
 vertical-align:top;text-align:left}
.persona-report table.pp-table tr:nth-child(even) td{background:#fafafa}
.persona-report table.pp-table td.pp-num,.persona-report table.pp-table th.pp-num{
 text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.persona-report table.pp-table tr.pp-row-bad td{background:#fff5f5}
.persona-report td.pp-flag{color:var(--pp-fail);font-weight:700}
.persona-report td.pp-large{color:var(--pp-warn);font-weight:600}
.persona-report .pp-answer{white-space:pre-wrap;overflow-wrap:anywhere;max-height:9.5em;
 overflow:auto;margin:0;font-family:inherit;font-size:13px}
.persona-report .pp-question{overflow-wrap:anywhere;max-width:26em}
.persona-report .pp-trait{border:1px solid var(--pp-line);border-radius:10px;padding:4px 16px 12px;
 margin:18px 0;background:#fff}
.persona-report .pp-trait > h3.pp-h3{border-bottom:none;margin-top:12px}
.persona-report .pp-tiles{display:flex;flex-wrap:wrap;gap:10px;margin:4px 0 10px}
.persona-report .pp-tile{border:1px solid var(--pp-line);border-radius:8px;padding:6px 12px;
 min-width:120px;background:var(--pp-bg)}
.persona-report .pp-tile .pp-tl{font-size:11px;color:var(--pp-muted);text-transform:uppercase;
 letter-spacing:.03em}
.persona-report .pp-tile .pp-tv{font-size:18px;font-weight:650;font-variant-numeric:tabular-nums}
.persona-report .pp-plots{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
.persona-report figure.pp-fig{margin:0;border:1px solid var(--pp-line);border-radius:8px;
 padding:8px;background:#fff}
.persona-report figure.pp-fig figcaption{font-size:12px;color:var(--pp-muted);margin:0 0 4px;
 font-weight:600}
.persona-report .pp-fail-item{border-left:4px solid var(--pp-fail);background:#fff;
 border-radius:4px;padding:8px 12px;margin:10px 0;box-shadow:0 0 0 1px var(--pp-line)}
.persona-report .pp-fail-item pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:6px 0;
 background:var(--pp-fail-bg);color:#7f1d1d;padding:6px 8px;border-radius:4px;font-size:12px}
.persona-report .pp-note{color:var(--pp-muted);font-size:12px}
.persona-report ul.pp-list{margin:4px 0 8px 18px;padding:0}
.persona-report table.pp-table.pp-compact{width:auto;min-width:40%}
.persona-report table.pp-expectations code{overflow-wrap:anywhere}
.persona-report table.pp-expectations td.pp-msg{min-width:16em}
.persona-report table.pp-expectations td.pp-mono{min-width:11em}
.persona-report .pp-cols{display:grid;grid-template-columns:1fr 1fr;gap:14px}
@media (max-width:900px){.persona-report .pp-cols{grid-template-columns:1fr}}
"""

PAGE_STYLE = """
html{background:#f1f5f9}
body{margin:0;padding:24px;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
main.pp-page{max-width:1200px;margin:0 auto;background:#fff;border-radius:12px;
 padding:20px 28px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1.pp-h1{font-size:24px;margin:0 0 4px;color:#111827}
"""


# --------------------------------------------------------------------------- helpers


_num = finite_or_none


def _ci(v: Any) -> str:
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(_num(x) is not None for x in v):
        return f"[{fmt_num(v[0])}, {fmt_num(v[1])}]"
    return ""


def _chip(outcome: Any, text: str | None = None) -> str:
    o = str(outcome)
    cls = o if o in ("passed", "failed", "error", "xfailed", "xpassed", "skipped") else "other"
    return f'<span class="pp-chip pp-o-{cls}">{esc(text if text is not None else o)}</span>'


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    """rows: (label, already-escaped html)."""
    return '<dl class="pp-kv">' + "".join(
        f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _short_fp(fp: Any) -> str:
    s = redact_secrets(str(fp or ""))
    if not s:
        return "\u2013"
    shown = s if len(s) <= 23 else s[:23] + "\u2026"
    return f'<code title="{esc(s)}">{esc(shown)}</code>'


def _fig(caption: str, svg: str) -> str:
    return f'<figure class="pp-fig"><figcaption>{esc(caption)}</figcaption>{svg}</figure>'


def _table(headers: Sequence[tuple[str, bool]], rows: Iterable[str], cls: str = "") -> str:
    """headers: (label, numeric); rows: already-rendered <tr> strings."""
    head = "".join(f'<th{" class=pp-num" if num else ""}>{esc(h)}</th>' for h, num in headers)
    return (f'<table class="pp-table {cls}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _td(v: str, num: bool = False, cls: str = "") -> str:
    classes = " ".join(c for c in ("pp-num" if num else "", cls) if c)
    return f'<td class="{classes}">{v}</td>' if classes else f"<td>{v}</td>"


# --------------------------------------------------------------------------- header


def _model_rows(m: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [("name", esc(m.get("name", "\u2013")))]
    if m.get("id"):
        rows.append(("id", esc(m["id"])))
    rows.append(("fingerprint", _short_fp(m.get("fingerprint"))))
    shape = []
    if m.get("n_layers") is not None:
        shape.append(f"{esc(m['n_layers'])} layers")
    if m.get("d_model") is not None:
        shape.append(f"d_model {esc(m['d_model'])}")
    if shape:
        rows.append(("shape", ", ".join(shape)))
    dev = " / ".join(esc(m[k]) for k in ("device", "dtype") if m.get(k))
    if dev:
        rows.append(("device", dev))
    return rows


def _offline_banner(judge: Mapping[str, Any]) -> str:
    if not judge.get("offline"):
        return ""
    note = f" <span class=pp-note>({esc(judge['note'])})</span>" if judge.get("note") else ""
    return (
        '<div class="pp-banner pp-warn" id="pp-offline-warning" role="alert">'
        f"<strong>WARNING: offline judge.</strong> Scores come from the local judge "
        f"<code>{esc(judge.get('id', 'offline'))}</code>, not an LLM autorater. Treat trait scores "
        f"as a smoke test; set an API key or pass <code>--judge</code> for real scores.{note}</div>"
    )


def _header(results: Mapping[str, Any]) -> str:
    judge = results.get("judge") or {}
    usage = results.get("usage") or {}
    ju, mu = usage.get("judge") or {}, usage.get("model") or {}
    cache = results.get("cache") or {}
    model_card = ('<div class="pp-card"><h4 class="pp-h4">Model</h4>'
                  + _kv(_model_rows(results.get("model") or {})) + "</div>")
    ref = results.get("reference_model")
    if isinstance(ref, Mapping):
        model_card += ('<div class="pp-card"><h4 class="pp-h4">Reference model</h4>'
                       + _kv(_model_rows(ref)) + "</div>")
    jrows = [("judge", f"<code>{esc(judge.get('id', DASH))}</code>"
              + (" " + _chip("xpassed", "offline") if judge.get("offline") else ""))]
    if judge.get("coherence_id"):
        jrows.append(("coherence judge", f"<code>{esc(judge['coherence_id'])}</code>"))
    if ju:
        jrows.append(("judge calls", f"{fmt_num(ju.get('calls'))} "
                      f"<span class=pp-note>({fmt_num(ju.get('cache_hits'))} cached)</span>"))
        jrows.append(("judge tokens", f"{fmt_num(ju.get('input_tokens'))} in / "
                      f"{fmt_num(ju.get('output_tokens'))} out"))
        cost = _num(ju.get("cost_usd"))
        jrows.append(("judge cost", f"${cost:.4f}" if cost is not None else "n/a"))
        if ju.get("missing"):
            jrows.append(("missing scores", fmt_num(ju.get("missing"))))
    judge_card = '<div class="pp-card"><h4 class="pp-h4">Judge</h4>' + _kv(jrows) + "</div>"
    rrows = []
    if results.get("created"):
        rrows.append(("created", esc(results["created"])))
    if results.get("duration_s") is not None:
        rrows.append(("duration", f"{fmt_num(results['duration_s'])} s"))
    if cache:
        rrows.append(("cache", f"{fmt_num(cache.get('hits'))} hits / {fmt_num(cache.get('misses'))} "
                      "misses"))
    if mu:
        rrows.append(("model tokens", f"{fmt_num(mu.get('generated_tokens'))} generated in "
                      f"{fmt_num(mu.get('generate_calls'))} calls"))
    if results.get("package_version"):
        rrows.append(("pytest-persona", esc(results["package_version"])))
    run_card = '<div class="pp-card"><h4 class="pp-h4">Run</h4>' + _kv(rrows) + "</div>"
    counts = outcome_counts(results)
    chips = "".join(_chip(o, f"{n} {o}") for o, n in counts.items()) or \
        '<span class="pp-note">no expectations recorded</span>'
    return (f'<div class="pp-chips" id="pp-outcomes">{chips}</div>' + _offline_banner(judge)
            + f'<div class="pp-cards">{model_card}{judge_card}{run_card}</div>')


# --------------------------------------------------------------------------- overview


def _overview(results: Mapping[str, Any]) -> str:
    traits = results.get("traits") or {}
    if not traits:
        return ""
    rows = []
    for name, t in traits.items():
        t = t or {}
        m = t.get("metrics") or {}
        counts = outcome_counts(results, name)
        bad = any(counts.get(o) for o in BAD)
        chips = " ".join(_chip(o, f"{n} {o}") for o, n in counts.items()) or "\u2013"
        rows.append(
            f'<tr class="{"pp-row-bad" if bad else ""}">'
            f'<td><a href="#pp-trait-{_anchor(name)}">{esc(name)}</a></td>'
            + _td(fmt_num(m.get("baseline_score")), True) + _td(fmt_num(m.get("steered_score")), True)
            + _td(esc(projection_order(t)), True)
            + _td(fmt_num(m.get("max_cross_cosine"), 2), True)
            + _td(fmt_num(m.get("effective_pairs", (t.get("vector") or {}).get("effective_pairs"))),
                  True)
            + _td(chips) + "</tr>")
    table = _table([("trait", False), ("baseline score", True), ("steered score", True),
                    ("projection order", True), ("max cos", True), ("eff. pairs", True),
                    ("expectations", False)], rows, "pp-overview")
    flips = flip_line(results)
    if flips:
        table += f'<p class="pp-note pp-flips">{esc(flips)}</p>'

    cos = results.get("cosine")
    heat = ""
    if isinstance(cos, Mapping) and cos.get("traits"):
        layer = f" (layer {esc(cos['layer'])})" if cos.get("layer") is not None else ""
        heat = _fig(f"Cosine similarity between trait vectors{layer}",
                    plots.cosine_heatmap_svg(cos.get("traits") or [], cos.get("matrix") or []))
    return (f'<h3 class="pp-h3">Overview</h3>{table}'
            + (f'<div class="pp-plots">{heat}</div>' if heat else ""))


def _anchor(name: Any) -> str:
    name = redact_secrets(str(name))
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:60] or "trait"


# --------------------------------------------------------------------------- failures


def _figures_table(figs: Mapping[str, Any]) -> str:
    if not figs:
        return ""
    head = "".join(f"<th class=pp-num>{esc(k)}</th>" for k in figs)
    cells = "".join(_td(fmt_num(v, 2) if _num(v) is not None else esc(v), True)
                    for v in figs.values())
    return (f'<table class="pp-table pp-figures pp-compact"><thead><tr>{head}</tr></thead>'
            f"<tbody><tr>{cells}</tr></tbody></table>")


def _comparison_for_trait(comp: Mapping[str, Any], trait: Any) -> str:
    regs = [r for r in comp.get("regressions") or []
            if isinstance(r, Mapping) and r.get("trait") == trait]
    deltas = (comp.get("deltas") or {}).get(trait) if isinstance(comp.get("deltas"), Mapping) \
        else None
    if not regs and not deltas:
        return ""
    out = [f'<h4 class="pp-h4">Against baseline {esc(comp.get("baseline_path") or "")}</h4>']
    if regs:
        out.append('<ul class="pp-list">' + "".join(
            f"<li><strong>{esc(r.get('message'))}</strong></li>" for r in regs) + "</ul>")
    if isinstance(deltas, Mapping) and deltas:
        flagged = {r.get("metric") for r in regs}
        rows = []
        for metric, d in deltas.items():
            if not isinstance(d, Mapping):
                continue
            cls = "pp-flag" if metric in flagged else ""
            rows.append(f"<tr><td>{esc(METRIC_LABELS.get(metric, metric))}</td>"
                        + _td(fmt_num(d.get("old"), 2), True) + _td(fmt_num(d.get("new"), 2), True)
                        + _td(_signed(d.get("delta")), True, cls) + "</tr>")
        out.append(_table([("metric", False), ("baseline", True), ("this run", True),
                           ("delta", True)], rows))
    return "".join(out)


def _signed(v: Any) -> str:
    x = _num(v)
    if x is None:
        return "\u2013"
    s = fmt_num(v, 2)
    return s if s.startswith("-") else "+" + s


def _failures(results: Mapping[str, Any]) -> str:
    bad = [e for e in results.get("expectations") or [] if e.get("outcome") in BAD]
    comp = results.get("comparison") or {}
    regs = comp.get("regressions") or [] if isinstance(comp, Mapping) else []
    if not bad and not regs:
        return ""
    out = [f'<h3 class="pp-h3" id="pp-failures">Failures ({len(bad)})</h3>' if bad else ""]
    for e in bad:
        trait = e.get("trait")
        out.append(
            '<div class="pp-fail-item">'
            f"<div>{_chip(e.get('outcome'))} <code>{esc(e.get('nodeid'))}</code></div>"
            + (f"<pre>{esc(e.get('message'))}</pre>" if e.get("message") else "")
            + _figures_table(e.get("figures") or {})
            + (_comparison_for_trait(comp, trait) if comp and trait is not None else "")
            + "</div>")
    return "".join(out)


def render_error(what: str, exc: BaseException) -> str:
    """An escaped error box standing in for a part of the report that could not be rendered."""
    return (f'<div class="persona-report"><style>{STYLE}</style><div class="pp-banner pp-bad">'
            f"<strong>{esc(what)}</strong>: {esc(type(exc).__name__)}: {esc(exc)}</div></div>")


def _non_finite(results: Mapping[str, Any]) -> str:
    bad = results.get("non_finite") or []
    invalid = results.get("invalid") or []
    if not bad and not invalid:
        return ""
    items = [f"<li>{esc(x)}</li>" for x in (list(invalid) + list(bad))[:50]]
    return ('<div class="pp-banner pp-bad"><strong>Values that are not finite numbers (shown '
            "as nan/inf or \u2013) or break the results schema:</strong><ul class=pp-list>"
            + "".join(items) + "</ul></div>")


def _verdict_chip(check: Mapping[str, Any]) -> str:
    bad = check.get("verdict") == "fail"
    return _chip("failed" if bad else "passed", "FAIL" if bad else "pass")


def checks_table(comp: Mapping[str, Any]) -> str:
    """Each rule check: paired difference, interval, bound, verdict and a strip plot of the
    per-question differences behind it (so a reviewer sees whether one question or all moved)."""
    checks = [c for c in comp.get("checks") or [] if isinstance(c, Mapping)]
    if not checks:
        return ""
    rows = []
    for c in checks:
        level = _num(c.get("level"))
        ci = c.get("ci")
        ci_txt = (f"{fmt_num(ci[0], 2)} to {fmt_num(ci[1], 2)}"
                  if isinstance(ci, (list, tuple)) and len(ci) == 2 else DASH)
        if level is not None and ci_txt != DASH:
            ci_txt = f"{100 * level:.4g}% CI {ci_txt}"
        rule = str(c.get("rule") or "")
        allowed = _num(c.get("allowed"))
        direction = -1 if ":-" in rule.replace(" ", "") else 1
        bound = None if allowed is None else direction * allowed
        pq = c.get("per_question") if isinstance(c.get("per_question"), Mapping) else {}
        diffs = (pq or {}).get("diffs") or []
        strip = (plots.paired_strip_svg(diffs, ci, bound, title=f"{c.get('trait')}: "
                                        f"{c.get('metric')} per question (candidate - baseline)")
                 if diffs else "")
        rows.append(
            f'<tr class="{"pp-row-bad" if c.get("verdict") == "fail" else ""}">'
            f"<td>{esc(c.get('trait'))}</td><td><code>{esc(rule)}</code></td>"
            f"<td>{esc(c.get('mode'))}</td>" + _td(_signed(c.get("delta")), True)
            + f"<td>{esc(ci_txt)}</td>" + _td(fmt_num(bound, 2) if bound is not None else DASH, True)
            + _td(fmt_num(c.get("n"), 0) if c.get("n") else DASH, True)
            + f"<td>{_verdict_chip(c)}</td><td>{strip}</td></tr>")
    corr = comp.get("correction") or "none"
    return (_table([("trait", False), ("rule", False), ("mode", False), ("difference", True),
                    ("interval", False), ("bound", True), ("n", True), ("verdict", False),
                    ("per-question differences", False)], rows, "pp-checks")
            + f'<p class="pp-note">Paired differences (candidate minus baseline, question by '
              f"question); percentile bootstrap intervals resampling questions, seeded; "
              f"correction across checks: {esc(corr)}. A check fails only when its whole "
              "interval lies beyond the bound.</p>")


def _comparison_block(results: Mapping[str, Any]) -> str:
    comp = results.get("comparison")
    if not isinstance(comp, Mapping):
        return ""
    regs = comp.get("regressions") or []
    rules = ", ".join(str(r) for r in comp.get("rules") or []) or "none"
    head = (f'<h3 class="pp-h3" id="pp-comparison">Baseline comparison</h3>'
            f'<p class="pp-sub">baseline <code>{esc(comp.get("baseline_path") or DASH)}</code>'
            f" \u00b7 rules <code>{esc(rules)}</code></p>")
    if regs:
        body = ('<div class="pp-banner pp-bad"><strong>'
                f"{len(regs)} regression(s) beyond the rules:</strong><ul class=pp-list>"
                + "".join(f"<li>{esc(r.get('message') if isinstance(r, Mapping) else r)}</li>"
                          for r in regs) + "</ul></div>")
    else:
        body = '<div class="pp-banner pp-good"><strong>No regressions</strong> beyond the rules.</div>'
    body += checks_table(comp)
    notes = [*(comp.get("compared") or []), *(comp.get("notes") or [])]
    if notes:
        body += '<ul class="pp-list pp-note">' + "".join(f"<li>{esc(n)}</li>" for n in notes) \
            + "</ul>"
    deltas = comp.get("deltas") or {}
    if isinstance(deltas, Mapping) and deltas:
        flagged = {(r.get("trait"), r.get("metric")) for r in regs if isinstance(r, Mapping)}
        rows = []
        for trait, ms in deltas.items():
            for metric, d in (ms or {}).items():
                if not isinstance(d, Mapping):
                    continue
                cls = "pp-flag" if (trait, metric) in flagged else ""
                rows.append(f"<tr><td>{esc(trait)}</td><td>{esc(METRIC_LABELS.get(metric, metric))}"
                            "</td>" + _td(fmt_num(d.get("old"), 2), True)
                            + _td(fmt_num(d.get("new"), 2), True)
                            + _td(_signed(d.get("delta")), True, cls) + "</tr>")
        body += _table([("trait", False), ("metric", False), ("baseline", True),
                        ("this run", True), ("delta", True)], rows, "pp-deltas")
    return head + body


# --------------------------------------------------------------------------- traits


def _tile(label: str, value: str) -> str:
    return (f'<div class="pp-tile"><div class="pp-tl">{esc(label)}</div>'
            f'<div class="pp-tv">{value}</div></div>')


def _examples_table(sweep: Sequence[Mapping[str, Any]], max_examples: int | None) -> str:
    rows = []
    for r in sorted((r for r in sweep if isinstance(r, Mapping)),
                    key=lambda r: _num(r.get("coeff")) or 0.0):
        exs = [x for x in r.get("examples") or [] if isinstance(x, Mapping)]
        if max_examples is not None:
            exs = exs[:max_examples]
        for i, ex in enumerate(exs):
            ans = redact_secrets(str(ex.get("answer") or ""))
            if len(ans) > MAX_ANSWER_CHARS:
                ans = ans[:MAX_ANSWER_CHARS] + f"\u2026 [{len(ans) - MAX_ANSWER_CHARS} more chars]"
            dose = (f"<br><span class=pp-note>dose {fmt_num(r.get('dose'), 3)}</span>"
                    if _num(r.get("dose")) is not None else "")
            coeff = (f'<td class="pp-num" rowspan="{len(exs)}"><strong>'
                     f"{fmt_num(r.get('coeff'))}</strong>{dose}</td>") if i == 0 else ""
            rows.append(f"<tr>{coeff}<td><div class=pp-question>{esc(ex.get('question'))}</div>"
                        f"</td><td><div class=pp-answer>{esc(ans)}</div></td>"
                        + _td(fmt_num(ex.get("score")), True) + _td(fmt_num(ex.get("coherence")), True)
                        + "</tr>")
    if not rows:
        return ""
    return _table([("coeff", True), ("question", False), ("answer", False), ("score", True),
                   ("coherence", True)], rows, "pp-examples")


def _sweep_table(sweep: Sequence[Mapping[str, Any]]) -> str:
    # judge spread: mean over answers of max - min of the score over the judge repeats
    spread = any(isinstance(r.get("judge_spread"), Mapping) for r in sweep
                 if isinstance(r, Mapping))
    rows = []
    for r in sorted((r for r in sweep if isinstance(r, Mapping)),
                    key=lambda r: _num(r.get("coeff")) or 0.0):
        rows.append("<tr>" + _td(fmt_num(r.get("coeff")), True) + _td(fmt_num(r.get("dose"), 3), True)
                    + _td(fmt_num(r.get("n")), True)
                    + _td(fmt_num(r.get("mean")), True) + _td(_ci(r.get("ci")), True)
                    + _td(fmt_num(r.get("coherence_mean")), True)
                    + _td(_ci(r.get("coherence_ci")), True)
                    + _td(fmt_num(r.get("missing")), True)
                    + (_td(fmt_num((r.get("judge_spread") or {}).get("mean")), True)
                       if spread else "") + "</tr>")
    return _table([("coeff", True), ("dose", True), ("n", True), ("score", True),
                   ("95% CI", True),
                   ("coherence", True), ("95% CI", True), ("missing", True),
                   *([("judge spread", True)] if spread else [])], rows, "pp-sweep pp-compact")


def _dose_note(dose: Mapping[str, Any]) -> str:
    """How coefficients and doses relate for this trait, in words and numbers."""
    return (f"Relative dose = |coeff| x ||v|| / mean ||h||, with ||v|| = "
            f"{fmt_num(dose.get('vector_norm'), 3)} (the vector at layer {dose.get('layer')}) and "
            f"mean ||h|| = {fmt_num(dose.get('mean_norm'), 3)} (mean L2 norm of block "
            f"{dose.get('layer')} outputs over {fmt_num(dose.get('n_tokens'), 0)} tokens of the "
            "evaluation prompts, unsteered, each prompt's first token left out: it carries the "
            "attention sink's outsized norm)"
            + ("; the suite gave doses, converted to coefficients for this model"
               if dose.get("given") == "doses" else "") + ".")


def _agreement_text(t: Mapping[str, Any]) -> str:
    """``AUC 0.93 (95% CI 0.85-0.99, n=44, evil.jsonl)`` per labelled file, joined."""
    parts = []
    for file, row in sorted((t.get("judge_agreement") or {}).items()):
        if not isinstance(row, Mapping) or _num(row.get("value")) is None:
            continue
        ci: list[Any] = row["ci"] if isinstance(row.get("ci"), list) else [None, None]
        metric = "AUC" if row.get("metric") == "auc" else "Spearman"
        parts.append(f"{metric} {fmt_num(row['value'], 3)} (95% CI {fmt_num(ci[0], 2)}-"
                     f"{fmt_num(ci[1], 2)}, n={fmt_num(row.get('n'), 0)}, {file})")
    return "; ".join(parts)


def _trait_section(name: str, t: Mapping[str, Any], results: Mapping[str, Any],
                   max_examples: int | None) -> str:
    m = t.get("metrics") or {}
    vec = t.get("vector") or {}
    meta = []
    if t.get("layer") is not None:
        meta.append(f"layer {esc(t['layer'])}")
    if t.get("positions"):
        meta.append(f"positions {esc(t['positions'])}")
    if t.get("coefficients"):
        meta.append("coefficients " + ", ".join(fmt_num(c) for c in t["coefficients"]))
    dose = t.get("dose") if isinstance(t.get("dose"), Mapping) else None
    if dose and dose.get("doses"):
        meta.append(("given as doses " if dose.get("given") == "doses" else "doses ")
                    + ", ".join(fmt_num(d, 3) for d in dose["doses"]))
    if vec.get("source"):
        meta.append(f"vector from {esc(vec['source'])}")
    tiles = []
    for key in ("baseline_score", "steered_score", "coherence_at_max", "max_cross_cosine",
                "checkpoint_shift"):
        if _num(m.get(key)) is not None:
            tiles.append(_tile(METRIC_LABELS[key], fmt_num(m[key], 2 if "cos" in key or "shift" in
                                                         key else 1)))
    pairs = m.get("effective_pairs", vec.get("effective_pairs"))
    if _num(pairs) is not None:
        tiles.append(_tile("effective pairs", fmt_num(pairs)))
    po = projection_order(t)
    if po != "-":
        tiles.append(_tile("projection order", esc(po)))
    if _num(vec.get("pos_mean_score")) is not None or _num(vec.get("neg_mean_score")) is not None:
        tiles.append(_tile("extraction pos / neg score",
                           f"{fmt_num(vec.get('pos_mean_score'))} / {fmt_num(vec.get('neg_mean_score'))}"))
    agreement = _agreement_text(t)
    if agreement:
        tiles.append(_tile("judge agreement", esc(agreement)))
    counts = outcome_counts(results, name)
    chips = " ".join(_chip(o, f"{n} {o}") for o, n in counts.items())
    figs = []
    sweep = [r for r in t.get("sweep") or [] if isinstance(r, Mapping)]
    if sweep:
        figs.append(_fig("Dose response: trait score and coherence per coefficient",
                         plots.dose_response_svg(sweep, title=f"{name}: dose response")))
    damage = [r for r in t.get("damage") or [] if isinstance(r, Mapping)]
    if damage:
        figs.append(_fig("Steering damage: mean KL(steered || unsteered) of next-token "
                         "distributions over benign prompts (teacher-forced), per dose, beside "
                         "the trait score", plots.damage_svg(damage, sweep,
                                                             title=f"{name}: damage")))
    if isinstance(t.get("projections"), Mapping) and t["projections"]:
        figs.append(_fig("Projection onto the trait vector",
                         plots.projection_svg(t["projections"], title=f"{name}: projections")))
    if vec.get("norms"):
        layer = t.get("layer") if isinstance(t.get("layer"), int) else None
        figs.append(_fig("Vector norm per layer",
                         plots.norms_svg(vec["norms"], layer, title=f"{name}: norms")))
    parts = [
        f'<section class="pp-trait" id="pp-trait-{_anchor(name)}">',
        f'<h3 class="pp-h3">{esc(name)} {chips}</h3>',
        f'<p class="pp-sub">{SEP.join(meta)}</p>' if meta else "",
        f'<div class="pp-tiles">{"".join(tiles)}</div>' if tiles else "",
        f'<div class="pp-plots">{"".join(figs)}</div>' if figs else "",
    ]
    if dose:
        parts.append(f'<p class="pp-note pp-dose-note">{esc(_dose_note(dose))}</p>')
    if sweep:
        parts.append('<h4 class="pp-h4">Sweep</h4>' + _sweep_table(sweep))
        if agreement:
            parts.append(f'<p class="pp-note pp-agreement-note">Judge-based figures above: '
                         f"the judge's measured agreement with labels is {esc(agreement)}.</p>")
        ex = _examples_table(sweep, max_examples)
        if ex:
            note = (f" <span class=pp-note>(up to {max_examples} per coefficient)</span>"
                    if max_examples is not None else "")
            parts.append(f'<h4 class="pp-h4">Example responses{note}</h4>{ex}')
    for screen in (t.get("screens") or {}).values():  # dataset_screen expectations
        parts.append(screen_html.report_block(screen))
    parts.append("</section>")
    return "".join(parts)


# --------------------------------------------------------------------------- public API


def _body(results: Mapping[str, Any], max_examples: int | None) -> str:
    traits = results.get("traits") or {}
    return (
        _header(results)
        + _non_finite(results)
        + _failures(results)
        + _comparison_block(results)
        + _overview(results)
        + "".join(_trait_section(str(n), t or {}, results, max_examples)
                  for n, t in traits.items())
    )


def render_persona_section(results: Mapping[str, Any], *, max_examples: int | None = 3) -> str:
    """An HTML fragment (scoped style included) for pytest-html's summary section."""
    out = (f'<div class="persona-report" id="persona-report"><style>{STYLE}</style>'
           '<h2 class="pp-h2">Persona vectors</h2>'
           + _body(results, max_examples) + "</div>")
    return redact_secrets(out)


def _expectations_table(results: Mapping[str, Any]) -> str:
    exps = results.get("expectations") or []
    if not exps:
        return ""
    rows = []
    for e in exps:
        figs = e.get("figures") or {}
        fig_txt = ", ".join(f"{esc(k)}={fmt_num(v, 2) if _num(v) is not None else esc(v)}"
                            for k, v in figs.items())
        bad = e.get("outcome") in BAD
        rows.append(f'<tr class="{"pp-row-bad" if bad else ""}">'
                    f"<td>{_chip(e.get('outcome'))}</td>"
                    f"<td><code>{esc(e.get('nodeid'))}</code></td><td>{esc(e.get('trait'))}</td>"
                    f"<td>{esc(e.get('kind'))}</td><td class=pp-mono>{fig_txt}</td>"
                    f"<td class=pp-msg>{esc(e.get('message'))}</td>"
                    + _td(fmt_num(e.get("duration_s"), 2), True) + "</tr>")
    return ('<h3 class="pp-h3" id="pp-expectations">Expectations</h3>'
            + _table([("outcome", False), ("test", False), ("trait", False), ("kind", False),
                      ("figures", False), ("message", False), ("s", True)], rows,
                     "pp-expectations"))


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{PAGE_STYLE}</style></head>"
        f'<body><main class="pp-page">{body}</main></body></html>\n'
    )


def render_report(results: Mapping[str, Any], title: str | None = None, *,
                  max_examples: int | None = None) -> str:
    """A full standalone HTML page for ``persona report``: works offline, runs no script."""
    model = (results.get("model") or {}).get("name", "model")
    title = title or f"Persona report: {model}"
    body = (f'<h1 class="pp-h1">{esc(title)}</h1>'
            f'<div class="persona-report" id="persona-report"><style>{STYLE}</style>'
            + _body(results, max_examples) + _expectations_table(results) + "</div>")
    return redact_secrets(_page(title, body))


# --------------------------------------------------------------------------- comparison


_LARGE_ABS = {"baseline_score": 10.0, "steered_score": 10.0, "coherence_at_max": 10.0,
              "max_cross_cosine": 0.1}


def is_large_change(metric: str, old: float, new: float) -> bool:
    """Heuristic for highlighting: 10 points on 0-100 scores, 0.1 on cosines, else 20%."""
    d = abs(new - old)
    if metric in _LARGE_ABS:
        return d >= _LARGE_ABS[metric]
    scale = max(abs(old), abs(new))
    return scale > 0 and d / scale >= 0.2


def render_comparison(a: Mapping[str, Any], b: Mapping[str, Any],
                      rules: Sequence[str | Rule] | None = None, *,
                      title: str | None = None, labels: tuple[str, str] = ("A", "B"),
                      correction: str = "holm") -> str:
    """Side-by-side page of two results: A is the baseline, B the candidate.

    Per trait and metric: A, B, delta; flagged red when a rule fails, amber when the change is
    large. Also the outcome changes of expectations and the dose-response plots side by side.
    """
    la, lb = labels
    comp: Comparison = compare_results(b, a, rules or [], correction=correction)
    title = title or (f"Persona comparison: {(a.get('model') or {}).get('name', la)} vs "
                      f"{(b.get('model') or {}).get('name', lb)}")
    # header
    def mrow(label: str, fa: str, fb: str) -> str:
        return f"<tr><td>{esc(label)}</td><td>{fa}</td><td>{fb}</td></tr>"

    ma, mb = a.get("model") or {}, b.get("model") or {}
    ja, jb = a.get("judge") or {}, b.get("judge") or {}
    head_rows = [
        mrow("model", esc(ma.get("name")), esc(mb.get("name"))),
        mrow("id", esc(ma.get("id")), esc(mb.get("id"))),
        mrow("fingerprint", _short_fp(ma.get("fingerprint")), _short_fp(mb.get("fingerprint"))),
        mrow("judge", esc(ja.get("id")) + (" (offline)" if ja.get("offline") else ""),
             esc(jb.get("id")) + (" (offline)" if jb.get("offline") else "")),
        mrow("created", esc(a.get("created")), esc(b.get("created"))),
        mrow("expectations", " ".join(_chip(o, f"{n} {o}") for o, n in outcome_counts(a).items()),
             " ".join(_chip(o, f"{n} {o}") for o, n in outcome_counts(b).items())),
    ]
    parts = [_table([("", False), (f"{la} (baseline)", False), (f"{lb} (candidate)", False)],
                    head_rows, "pp-models")]
    if ja.get("offline") or jb.get("offline"):
        parts.append(_offline_banner(ja if ja.get("offline") else jb))
    rules_txt = ", ".join(str(r) for r in comp.rules) or "none"
    if comp.regressions:
        parts.append('<div class="pp-banner pp-bad"><strong>'
                     f"{len(comp.regressions)} regression(s) beyond rules {esc(rules_txt)}:</strong>"
                     "<ul class=pp-list>" + "".join(f"<li>{esc(r.message)}</li>"
                                                    for r in comp.regressions) + "</ul></div>")
    elif comp.rules:
        parts.append(f'<div class="pp-banner pp-good"><strong>No regressions</strong> beyond '
                     f"rules {esc(rules_txt)}.</div>")
    parts.append(checks_table(comp.to_dict()))
    if comp.notes or comp.compared:
        parts.append('<ul class="pp-list pp-note">' + "".join(
            f"<li>{esc(n)}</li>" for n in [*comp.compared, *comp.notes]) + "</ul>")
    ta, tb = a.get("traits") or {}, b.get("traits") or {}
    for name in list(ta) + [n for n in tb if n not in ta]:
        xa, xb = ta.get(name) or {}, tb.get(name) or {}
        mxa, mxb = trait_metrics(xa), trait_metrics(xb)
        rows = []
        for metric in list(mxa) + [k for k in mxb if k not in mxa]:
            va, vb = mxa.get(metric), mxb.get(metric)
            cls, status = "", ""
            reg = comp.flagged(str(name), metric)
            if va is not None and vb is not None:
                delta = _signed(vb - va)
                if reg is not None:
                    cls, status = "pp-flag", f"beyond {esc(reg.rule)}"
                elif is_large_change(metric, va, vb):
                    cls, status = "pp-large", "large change"
            else:
                delta = "\u2013"
                status = "only in " + (la if vb is None else lb)
            rows.append(f"<tr><td>{esc(METRIC_LABELS.get(metric, metric))}</td>"
                        + _td(fmt_num(va, 2), True) + _td(fmt_num(vb, 2), True)
                        + _td(delta, True, cls) + f'<td class="{cls}">{status}</td></tr>')
        section = [f'<section class="pp-trait" id="pp-trait-{_anchor(name)}">'
                   f'<h3 class="pp-h3">{esc(name)}</h3>']
        if not xa or not xb:
            section.append(f'<p class="pp-note">only in {esc(la if xa else lb)}</p>')
        if rows:
            section.append(_table([("metric", False), (la, True), (lb, True), ("delta", True),
                                   ("", False)], rows, "pp-cmp"))
        figs = []
        for lab, x in ((la, xa), (lb, xb)):
            if x.get("sweep"):
                figs.append(_fig(f"{lab}: dose response",
                                 plots.dose_response_svg(x["sweep"], title=f"{lab}: {name}")))
            elif x.get("projections"):
                figs.append(_fig(f"{lab}: projections",
                                 plots.projection_svg(x["projections"], title=f"{lab}: {name}")))
        if figs:
            section.append(f'<div class="pp-cols">{"".join(figs)}</div>')
        section.append("</section>")
        parts.append("".join(section))
    # expectation outcome changes
    oa = {e.get("nodeid"): e for e in a.get("expectations") or []}
    ob = {e.get("nodeid"): e for e in b.get("expectations") or []}
    changed = []
    for nid in list(oa) + [n for n in ob if n not in oa]:
        ea, eb = oa.get(nid), ob.get(nid)
        o1 = ea.get("outcome") if ea else None
        o2 = eb.get("outcome") if eb else None
        if o1 != o2:
            changed.append(f'<tr class="{"pp-row-bad" if o2 in BAD else ""}">'
                           f"<td><code>{esc(nid)}</code></td>"
                           f"<td>{_chip(o1) if o1 else DASH}</td>"
                           f"<td>{_chip(o2) if o2 else DASH}</td>"
                           f"<td><div class=pp-question>{esc((eb or {}).get('message'))}</div>"
                           "</td></tr>")
    parts.append('<h3 class="pp-h3">Expectations whose outcome changed</h3>')
    parts.append(_table([("test", False), (la, False), (lb, False), (f"{lb} message", False)],
                        changed, "pp-changed") if changed
                 else '<p class="pp-note">No outcome changed.</p>')
    body = (f'<h1 class="pp-h1">{esc(title)}</h1>'
            f'<div class="persona-report" id="persona-report"><style>{STYLE}</style>'
            + "".join(parts) + "</div>")
    return redact_secrets(_page(title, body))
