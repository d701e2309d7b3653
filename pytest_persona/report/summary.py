"""The plain-text table printed at the end of every run (and by ``persona report``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pytest_persona._util.redact import redact_secrets

_BAD_OUTCOMES = ("failed", "error", "xpassed")


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _f(v: Any, digits: int = 1) -> str:
    x = _num(v)
    return "-" if x is None else f"{x:.{digits}f}"


def projection_order(trait: Mapping[str, Any], *, ascii_only: bool = False) -> str:
    """``"1.2 < 3.4 < 5.6 ✓"``: baseline, prompted and steered projections, and whether ordered."""
    proj = trait.get("projections") or {}
    metrics = trait.get("metrics") or {}
    vals: list[float] = []
    for cond in ("baseline", "prompted", "steered"):
        v = _num((proj.get(cond) or {}).get("mean")) if isinstance(proj.get(cond), Mapping) \
            else None
        if v is None and cond != "prompted":
            v = _num(metrics.get(f"{cond}_projection"))
        if v is not None:
            vals.append(v)
    if len(vals) < 2:
        return "-"
    ok = all(a < b for a, b in zip(vals, vals[1:]))
    mark = ("ok" if ok else "NO") if ascii_only else ("\u2713" if ok else "\u2717")
    return " < ".join(f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}" for v in vals) + f" {mark}"


def outcome_counts(results: Mapping[str, Any], trait: str | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in results.get("expectations") or []:
        if trait is not None and e.get("trait") != trait:
            continue
        o = str(e.get("outcome", "?"))
        counts[o] = counts.get(o, 0) + 1
    return counts


def _outcome_text(counts: Mapping[str, int]) -> str:
    if not counts:
        return "-"
    order = ["passed", "failed", "error", "xfailed", "xpassed", "skipped"]
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    return ", ".join(f"{counts[k]} {k}" for k in keys)


def _fit(s: str, w: int) -> str:
    return s if len(s) <= w else s[: max(w - 1, 0)] + "\u2026"


def _g(v: Any, digits: int = 3) -> str:
    x = _num(v)
    return "-" if x is None else f"{x:.{digits}g}"


def trait_notes(name: str, t: Mapping[str, Any]) -> list[str]:
    """Lines under the table for one trait: its coefficients as relative doses, the steering
    damage measured, and the judge's measured agreement with labels."""
    lines = []
    dose = t.get("dose") if isinstance(t.get("dose"), Mapping) else None
    if dose and dose.get("coefficients") and dose.get("doses"):
        pairs = ", ".join(f"{_g(c)} = {_g(d)}" for c, d in zip(dose["coefficients"],
                                                                dose["doses"]))
        given = " (suite gave doses)" if dose.get("given") == "doses" else ""
        lines.append(f"{name}: coeff = dose at layer {dose.get('layer')}: {pairs}{given}; "
                     f"dose = |c|*||v||/mean||h||, ||v|| {_g(dose.get('vector_norm'))}, "
                     f"mean||h|| {_g(dose.get('mean_norm'))} over {dose.get('n_tokens')} "
                     "prompt tokens (first token of each prompt left out)")
    damage = [r for r in t.get("damage") or [] if isinstance(r, Mapping)]
    if damage:
        parts = []
        for r in sorted(damage, key=lambda r: _num(r.get("coeff")) or 0.0):
            ci: list[Any] = r["ci"] if isinstance(r.get("ci"), list) else [None, None]
            parts.append(f"{_g(r.get('coeff'))} (dose {_g(r.get('dose'))}): "
                         f"{_g(r.get('kl'))} [{_g(ci[0])}, {_g(ci[1])}]")
        n = damage[0].get("n")
        lines.append(f"{name}: steering KL(steered||unsteered), nats/token, mean over {n} "
                     "benign prompts, 95% CI: " + "; ".join(parts))
    for file, row in sorted((t.get("judge_agreement") or {}).items()):
        if isinstance(row, Mapping):
            iv: list[Any] = row["ci"] if isinstance(row.get("ci"), list) else [None, None]
            metric = "AUC" if row.get("metric") == "auc" else "Spearman"
            lines.append(f"{name}: judge agreement on {file}: {metric} {_f(row.get('value'), 3)}"
                         f" (95% CI {_f(iv[0], 2)}-{_f(iv[1], 2)}, n={row.get('n')})")
    return lines


def flip_summary(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Over the expectations judged with ``judge_repeats``: how many verdicts flip across the
    repeats and how many hold in every repeat (pass^k). None when no suite used repeats."""
    figs = [e.get("figures") or {} for e in results.get("expectations") or []
            if isinstance(e, Mapping)]
    rows = [f for f in figs if isinstance(f, Mapping)
            and isinstance(f.get("judge_repeats"), int) and not isinstance(
                f.get("judge_repeats"), bool)]
    if not rows:
        return None
    flips = sum(1 for f in rows if f.get("verdict_flips") is True)
    return {"n": len(rows), "flips": flips,
            "pass_k": sum(1 for f in rows if f.get("pass_k") is True),
            "flip_fraction": flips / len(rows),
            "k": sorted({int(f["judge_repeats"]) for f in rows})}


def flip_line(results: Mapping[str, Any]) -> str | None:
    """``judge repeats (k=3): 1 of 6 judge-based verdicts flip (16.7%); 4 pass in every repeat``."""
    s = flip_summary(results)
    if s is None:
        return None
    ks = ",".join(str(k) for k in s["k"])
    return (f"judge repeats (k={ks}): {s['flips']} of {s['n']} judge-based verdicts flip across "
            f"repeats ({100 * s['flip_fraction']:.1f}%); {s['pass_k']} pass in every repeat "
            "(pass^k)")


def format_summary_table(results: Mapping[str, Any], width: int = 100, *,
                         ascii_only: bool = False) -> str:
    """A plain-text table, one row per trait: baseline score, steered score, projection order,
    max cross-trait cosine, expectation outcomes. Secrets are redacted."""
    traits = results.get("traits") or {}
    headers = ["trait", "baseline", "steered", "projection order", "max cos", "outcome"]
    rows: list[list[str]] = []
    names = list(traits)
    for name in sorted({str(e.get("trait")) for e in results.get("expectations") or []
                        if e.get("trait") and e.get("trait") not in traits}):
        names.append(name)
    for name in names:
        t = traits.get(name) or {}
        m = t.get("metrics") or {}
        rows.append([
            " ".join(str(name).split()),
            _f(m.get("baseline_score")),
            _f(m.get("steered_score")),
            projection_order(t, ascii_only=ascii_only),
            _f(m.get("max_cross_cosine"), 2),
            _outcome_text(outcome_counts(results, name)),
        ])
    rows = [[redact_secrets(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    sep = "  "
    total = sum(widths) + len(sep) * (len(widths) - 1)
    if total > width:  # shrink the trait and outcome columns first
        over = total - width
        for i in (0, 5, 3):
            cut = min(over, max(widths[i] - len(headers[i]), 0))
            widths[i] -= cut
            over -= cut
    right = {1, 2, 4}

    def line(cells: list[str]) -> str:
        parts = []
        for i, c in enumerate(cells):
            c = _fit(redact_secrets(c), widths[i])
            parts.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return sep.join(parts).rstrip()

    out = [line(headers), sep.join("-" * w for w in widths)]
    out += [line(r) for r in rows] if rows else ["(no traits in this run)"]
    for name in names:
        out += trait_notes(str(name), traits.get(name) or {})
    flips = flip_line(results)
    if flips:
        out.append(flips)
    judge = results.get("judge") or {}
    if judge.get("offline"):
        out.append(f"judge: {judge.get('id', 'offline')} (OFFLINE judge: scores are a smoke "
                   "test, not an LLM autorater)")
    comp = results.get("comparison") or {}
    regs = comp.get("regressions") or []
    if comp:
        base = comp.get("baseline_path") or "baseline"
        checks = comp.get("checks") or []
        how = (f" ({len(checks)} check(s), correction {comp.get('correction') or 'none'})"
               if checks else "")
        out.append(f"baseline comparison against {base}{how}: "
                   + (f"{len(regs)} regression(s)" if regs else "no regressions"))
        for r in regs:
            msg = r.get("message") if isinstance(r, Mapping) else str(r)
            out.append(f"  REGRESSION {msg}")
    return redact_secrets("\n".join(out))
