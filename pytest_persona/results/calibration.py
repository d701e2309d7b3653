"""Noise floor of the gate, measured by the tool itself: null shifts between runs of one
unchanged model, bounds taken from them, and the ``auto`` rules that use those bounds.

``persona calibrate`` runs the unchanged model several times (different sampling seeds, and
optionally weights with tiny random noise) and calls :func:`calibrate` on the results files;
the section it returns is stored in the baseline file under ``calibration``.
``--persona-compare-fail auto`` then expands to one rule per calibrated figure
(:func:`auto_rules`), whose bound is the chosen quantile of the absolute null shifts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_persona.results.compare import (
    CompareUsageError,
    Rule,
    per_question,
    trait_metrics,
)
from pytest_persona.results.paired import pair

# figures whose drop (not rise) is the regression
LOWER_IS_WORSE = ("baseline_coherence", "coherence_at_max", "effective_pairs")
GATED = ("baseline_score", "baseline_coherence", "steered_score", "coherence_at_max",
         "baseline_projection", "steered_projection", "checkpoint_shift")


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (``q`` in [0, 1]) of a non-empty list."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def null_shift(base: Mapping[str, Any], run: Mapping[str, Any], metric: str) -> float | None:
    """The shift of one figure between two runs of the unchanged model: the paired mean
    difference where both have per-question values, else the difference of the means."""
    pb, pr = per_question(base, metric), per_question(run, metric)
    if pb is not None and pr is not None:
        diff = pair(pb, pr)
        if diff.n:
            return diff.mean
    a, b = trait_metrics(base).get(metric), trait_metrics(run).get(metric)
    return None if a is None or b is None else float(b) - float(a)


def calibrate(runs: Sequence[Mapping[str, Any]], *, quantile: float = 0.99,
              how: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Spread of every gated figure over ``runs`` (the first is the reference) and a bound per
    figure: the ``quantile`` of the absolute null shifts of the other runs against the first
    and of every pair of runs (with few runs this is close to their maximum)."""
    if len(runs) < 2:
        raise ValueError("calibration needs at least 2 runs of the unchanged model")
    figures: dict[str, dict[str, Any]] = {}
    traits = set.intersection(*(set(r.get("traits") or {}) for r in runs))
    for name in sorted(traits):
        for metric in GATED:
            shifts = []
            for i in range(len(runs)):
                for j in range(i + 1, len(runs)):
                    s = null_shift(runs[i]["traits"][name], runs[j]["traits"][name], metric)
                    if s is not None and math.isfinite(s):
                        shifts.append(s)
            if not shifts:
                continue
            bound = _quantile([abs(s) for s in shifts], quantile)
            figures.setdefault(name, {})[metric] = {
                "shifts": [round(s, 6) for s in shifts], "bound": round(bound, 6),
                "direction": "-" if metric in LOWER_IS_WORSE else "+"}
    return {"procedure": f"{quantile:g} quantile of |null shift| over every pair of "
                         f"{len(runs)} runs of the unchanged model (paired per-question mean "
                         "differences where available)",
            "quantile": quantile, "runs": len(runs), **dict(how or {}), "figures": figures}


def auto_rules(baseline: Mapping[str, Any], path: str = "the baseline") -> list[Rule]:
    """The rules of ``--persona-compare-fail auto``: one per calibrated figure."""
    cal = baseline.get("calibration")
    figures = cal.get("figures") if isinstance(cal, Mapping) else None
    if not isinstance(figures, Mapping) or not figures:
        raise CompareUsageError(
            f"--persona-compare-fail auto needs a calibrated baseline, and {path} has no "
            "'calibration' section: run `persona calibrate --model M --suites trait_suites/ "
            f"--baseline {path}` first")
    rules = []
    for trait, metrics in sorted(figures.items()):
        for metric, spec in sorted((metrics or {}).items()):
            bound = spec.get("bound") if isinstance(spec, Mapping) else None
            if not isinstance(bound, (int, float)) or isinstance(bound, bool) \
                    or not math.isfinite(bound) or bound < 0:
                raise CompareUsageError(f"{path}: calibration.figures.{trait}.{metric}.bound: "
                                        f"expected a non-negative number, got {bound!r}")
            direction = -1 if spec.get("direction") == "-" else 1
            text = f"{trait}.{metric}:{'+' if direction > 0 else '-'}{bound:.6g}"
            rules.append(Rule(metric, direction, float(bound), trait=trait, text=text))
    return rules


def expand_rules(rules: Sequence[str | Rule], baseline: Mapping[str, Any],
                 path: str = "the baseline") -> list[str | Rule]:
    """Replace ``auto`` in a rule list with the baseline's calibrated rules."""
    out: list[str | Rule] = []
    for r in rules:
        if isinstance(r, str) and r.strip().lower() == "auto":
            out.extend(auto_rules(baseline, path))
        else:
            out.append(r)
    return out
