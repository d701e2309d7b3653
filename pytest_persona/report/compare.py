"""Baseline comparison: rules such as ``baseline_score:+5`` and the regressions they flag.

Rule forms (METRIC may be prefixed with ``TRAIT.`` to apply to one trait only):

- ``METRIC:+X``   fails when ``new - old > X``  (the metric must not rise by more than X)
- ``METRIC:-X``   fails when ``old - new > X``  (the metric must not drop by more than X)
- ``METRIC:+X%``  / ``METRIC:-X%``: the same, with X a percentage of ``|old|``

Aliases: ``score`` = baseline_score, ``projection`` = baseline_projection,
``coherence`` = coherence_at_max, ``cosine`` = max_cross_cosine, ``pairs`` = effective_pairs,
``shift`` = checkpoint_shift.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

METRIC_ALIASES = {
    "score": "baseline_score",
    "projection": "baseline_projection",
    "coherence": "coherence_at_max",
    "cosine": "max_cross_cosine",
    "pairs": "effective_pairs",
    "shift": "checkpoint_shift",
}

RULE_FORMS = (
    "METRIC:+X (fail if new - old > X), METRIC:-X (fail if old - new > X), "
    "METRIC:+X% or METRIC:-X% (relative to the baseline value); "
    "METRIC may be TRAIT.METRIC, e.g. baseline_score:+5, effective_pairs:-10, "
    "projection:+0.5, sycophantic.steered_score:-20%"
)

_RULE_RE = re.compile(
    r"^\s*(?:(?P<trait>[^\s:.][^\s:]*)\.)?(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*:\s*"
    r"(?P<sign>[+-])\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<pct>%)?\s*$"
)


@dataclass(frozen=True)
class Rule:
    """A comparison rule: how far ``metric`` may move in ``direction`` before it is a regression."""

    metric: str  # resolved metric name (aliases expanded)
    direction: int  # +1: must not rise by more than limit; -1: must not drop by more than limit
    limit: float
    relative: bool = False  # limit is a percentage of |old|
    trait: str | None = None
    text: str = ""

    def __str__(self) -> str:
        return self.text or (
            f"{self.trait + '.' if self.trait else ''}{self.metric}:"
            f"{'+' if self.direction > 0 else '-'}{_fmt(self.limit)}{'%' if self.relative else ''}"
        )

    def allowed(self, old: float) -> float:
        """The allowed change in the rule's direction, in the metric's units."""
        return abs(old) * self.limit / 100.0 if self.relative else self.limit

    def violated(self, old: float, new: float) -> bool:
        moved = (new - old) * self.direction
        if self.relative and old == 0:
            return moved > 0
        return moved > self.allowed(old) + 1e-12


def parse_rule(text: str | Rule) -> Rule:
    """Parse ``"baseline_score:+5"``-style rules; ``ValueError`` names the rule and the forms."""
    if isinstance(text, Rule):
        return text
    if not isinstance(text, str):
        raise ValueError(f"bad comparison rule {text!r}: expected a string; accepted forms: "
                         f"{RULE_FORMS}")
    m = _RULE_RE.match(text)
    if not m:
        raise ValueError(f"bad comparison rule {text!r}; accepted forms: {RULE_FORMS}")
    limit = float(m["value"])
    if not math.isfinite(limit):
        raise ValueError(f"bad comparison rule {text!r}: limit must be finite")
    metric = METRIC_ALIASES.get(m["metric"], m["metric"])
    return Rule(metric=metric, direction=1 if m["sign"] == "+" else -1, limit=limit,
                relative=bool(m["pct"]), trait=m["trait"], text=text.strip())


def _fmt(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        if x == int(x) and abs(x) >= 1e6:
            return str(int(x))
        s = f"{x:.3f}".rstrip("0")
        return s + "0" if s.endswith(".") else s
    return str(x)


def _signed(x: float) -> str:
    s = _fmt(x)
    return s if s.startswith("-") else "+" + s


@dataclass
class Regression:
    trait: str
    metric: str
    old: float
    new: float
    rule: Rule

    @property
    def delta(self) -> float:
        return self.new - self.old

    @property
    def message(self) -> str:
        verb = "rose" if self.delta > 0 else "fell"
        return (f"{self.trait}: {self.metric} {verb} from {_fmt(self.old)} to {_fmt(self.new)} "
                f"({_signed(self.delta)}), beyond rule {self.rule}")

    def to_dict(self) -> dict[str, Any]:
        return {"trait": self.trait, "metric": self.metric, "old": self.old, "new": self.new,
                "delta": self.delta, "rule": str(self.rule), "message": self.message}


@dataclass
class Comparison:
    regressions: list[Regression] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    deltas: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    baseline_path: str | None = None

    @property
    def ok(self) -> bool:
        return not self.regressions

    def flagged(self, trait: str, metric: str) -> Regression | None:
        for r in self.regressions:
            if r.trait == trait and r.metric == metric:
                return r
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_path": self.baseline_path,
            "rules": [str(r) for r in self.rules],
            "regressions": [r.to_dict() for r in self.regressions],
            "deltas": self.deltas,
            "notes": list(self.notes),
        }


def _metric_value(trait: Mapping[str, Any], metric: str) -> Any:
    metrics = trait.get("metrics") or {}
    if metric in metrics:
        return metrics[metric]
    if metric == "effective_pairs":
        return (trait.get("vector") or {}).get("effective_pairs")
    return None


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def trait_metrics(trait: Mapping[str, Any]) -> dict[str, float]:
    """The numeric metrics of a trait section (``metrics`` plus effective pairs from ``vector``)."""
    out: dict[str, float] = {}
    for k, v in (trait.get("metrics") or {}).items():
        if _is_num(v):
            out[k] = v
    ep = (trait.get("vector") or {}).get("effective_pairs")
    if "effective_pairs" not in out and _is_num(ep):
        out["effective_pairs"] = ep
    return out


def compare_results(current: Mapping[str, Any], baseline: Mapping[str, Any],
                    rules: Iterable[str | Rule] = (), *,
                    baseline_path: str | None = None) -> Comparison:
    """Compare ``current`` against ``baseline`` under ``rules``.

    Traits or metrics missing on either side become notes, never errors.
    """
    parsed = [parse_rule(r) for r in rules]
    comp = Comparison(rules=parsed, baseline_path=baseline_path)
    cur_traits = current.get("traits") or {}
    base_traits = baseline.get("traits") or {}

    cm, bm = current.get("model") or {}, baseline.get("model") or {}
    if cm.get("fingerprint") and cm.get("fingerprint") == bm.get("fingerprint"):
        comp.notes.append("current and baseline have the same model fingerprint")
    cj, bj = (current.get("judge") or {}).get("id"), (baseline.get("judge") or {}).get("id")
    if cj and bj and cj != bj:
        comp.notes.append(f"judges differ (baseline {bj}, current {cj}): scores may not be "
                          "comparable")

    for name in sorted(set(base_traits) - set(cur_traits)):
        comp.notes.append(f"{name}: in the baseline but not in this run")
    for name in sorted(set(cur_traits) - set(base_traits)):
        comp.notes.append(f"{name}: new in this run, no baseline to compare")

    for name in [t for t in cur_traits if t in base_traits]:
        cur = trait_metrics(cur_traits[name] or {})
        base = trait_metrics(base_traits[name] or {})
        deltas = {m: {"old": base[m], "new": cur[m], "delta": cur[m] - base[m]}
                  for m in cur if m in base}
        if deltas:
            comp.deltas[name] = deltas
        for rule in parsed:
            if rule.trait is not None and rule.trait != name:
                continue
            old = _metric_value(base_traits[name] or {}, rule.metric)
            new = _metric_value(cur_traits[name] or {}, rule.metric)
            if not _is_num(old) or not _is_num(new):
                missing = [side for side, v in (("baseline", old), ("current", new))
                           if not _is_num(v)]
                comp.notes.append(f"{name}: {rule.metric} missing in {' and '.join(missing)}, "
                                  f"rule {rule} not checked")
                continue
            if rule.violated(old, new):
                comp.regressions.append(Regression(name, rule.metric, old, new, rule))
    for rule in parsed:
        if rule.trait is not None and rule.trait not in cur_traits:
            comp.notes.append(f"rule {rule}: trait {rule.trait} not in this run")
    return comp
