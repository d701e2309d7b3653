"""Baseline comparison: rules such as ``baseline_score:+5``, judged on paired per-question
differences with a seeded bootstrap interval, and a gate that fails closed.

Rule forms (METRIC may be prefixed with ``TRAIT.`` to apply to one trait only):

- ``METRIC:+X``   the metric must not rise by more than X: fails when the whole interval of the
  paired rise lies above X ("beyond +X with confidence")
- ``METRIC:-X``   the metric must not drop by more than X (the interval of the drop above X)
- ``METRIC:+X%``  / ``METRIC:-X%``: the same, with X a percentage of the baseline mean
- ``...@mean``     point mode: compare the means, no interval (``baseline_score:+5@mean``)

Paired mode needs per-question values on both sides (results schema 2). Where a side has none
(an older baseline, or a figure without per-question values such as effective pairs), the rule
falls back to comparing the two point values and says so in a note.

A rule that cannot be evaluated at all (unknown metric or trait, a baseline without traits, a
metric that is not a number) raises :class:`CompareUsageError`; a rule whose metric is missing
on one side fails the gate with that reason.

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

from pytest_persona._util.numbers import is_finite_number
from pytest_persona.errors import CompareUsageError as CompareUsageError
from pytest_persona.results.paired import PairedDiff, pair, seed_for
from pytest_persona.results.schema import CheckRecord, ComparisonRecord

METRIC_ALIASES = {
    "score": "baseline_score",
    "projection": "baseline_projection",
    "coherence": "coherence_at_max",
    "cosine": "max_cross_cosine",
    "pairs": "effective_pairs",
    "shift": "checkpoint_shift",
}

KNOWN_METRICS = ("baseline_score", "baseline_coherence", "steered_score", "coherence_at_max",
                 "baseline_projection", "steered_projection", "checkpoint_shift",
                 "effective_pairs", "max_cross_cosine")

CORRECTIONS = ("holm", "bonferroni", "none")
DEFAULT_LEVEL = 0.95

RULE_FORMS = (
    "METRIC:+X (fail if the paired rise is beyond X with confidence), METRIC:-X (the drop), "
    "METRIC:+X% or METRIC:-X% (relative to the baseline mean), a trailing @mean for a point "
    "comparison of means; METRIC may be TRAIT.METRIC, e.g. baseline_score:+5, "
    "effective_pairs:-10, projection:+0.5, sycophantic.steered_score:-20%, "
    "baseline_score:+5@mean"
)

_RULE_RE = re.compile(
    r"^\s*(?:(?P<trait>[^\s:.][^\s:]*)\.)?(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*:\s*"
    r"(?P<sign>[+-])\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<pct>%)?\s*(?:@\s*(?P<mode>mean))?\s*$"
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
    point: bool = False  # ``@mean``: compare means, no interval

    def __str__(self) -> str:
        return self.text or (
            f"{self.trait + '.' if self.trait else ''}{self.metric}:{self.bound_text()}"
            f"{'@mean' if self.point else ''}")

    def bound_text(self) -> str:
        return f"{'+' if self.direction > 0 else '-'}{self.limit:g}{'%' if self.relative else ''}"

    def allowed(self, old: float) -> float:
        """The allowed change in the rule's direction, in the metric's units."""
        return abs(old) * self.limit / 100.0 if self.relative else self.limit

    def violated(self, old: float, new: float) -> bool:
        """Point comparison: the move in the rule's direction exceeds the allowed change."""
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
                relative=bool(m["pct"]), trait=m["trait"], text=text.strip(),
                point=bool(m["mode"]))


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


def _pct(level: float) -> str:
    s = f"{100 * level:.2f}".rstrip("0").rstrip(".")
    return s + "%"


@dataclass
class Check:
    """One rule applied to one trait: the figures behind the verdict and the message.

    ``mode`` is ``paired`` (interval over per-question differences), ``point`` (means only) or
    ``missing`` (the metric is absent on one side: the check fails closed).
    """

    trait: str
    metric: str
    rule: Rule
    mode: str
    old: float | None
    new: float | None
    delta: float | None = None
    n: int = 0
    ci: tuple[float, float] | None = None
    level: float | None = None
    allowed: float | None = None
    failed: bool = False
    reason: str = ""
    p_value: float | None = None
    question_ids: tuple[str, ...] = ()
    diffs: tuple[float, ...] = ()
    unpaired: int = 0
    correction: str = "none"
    m: int = 1  # number of paired checks the correction spread the error rate over

    @property
    def message(self) -> str:
        if self.mode == "missing":
            return f"{self.trait}: {self.metric} {self.reason}: rule {self.rule} fails closed"
        assert self.delta is not None and self.old is not None and self.new is not None
        verb = "rose" if self.delta > 0 else "fell" if self.delta < 0 else "did not move"
        size = _fmt(abs(self.delta))
        bound = self.rule.bound_text()
        if self.rule.relative and self.allowed is not None:
            bound += f" (= {_fmt(self.allowed)} of the baseline {_fmt(self.old)})"
        if self.mode == "point":
            why = f"; {self.reason}" if self.reason else ""
            return (f"{self.trait}: {self.metric} {verb} from {_fmt(self.old)} to "
                    f"{_fmt(self.new)} ({_signed(self.delta)}), "
                    f"{'beyond' if self.failed else 'within'} rule {self.rule} "
                    f"(point comparison of means{why})")
        assert self.ci is not None and self.level is not None
        corr = (f", {self.correction.capitalize()} over {self.m} checks"
                if self.correction != "none" and self.m > 1 else "")
        return (f"{self.trait}: {self.metric} {verb} {size} (paired mean difference "
                f"{_signed(self.delta)}, {_pct(self.level)} CI {_fmt(self.ci[0])} to "
                f"{_fmt(self.ci[1])}, n={self.n} questions{corr}): "
                f"{'' if self.failed else 'not '}beyond {bound} with confidence")

    @property
    def verdict(self) -> str:
        return "fail" if self.failed else "pass"

    def to_dict(self) -> CheckRecord:
        return {"trait": self.trait, "metric": self.metric, "rule": str(self.rule),
                "mode": self.mode, "old": self.old, "new": self.new, "delta": self.delta,
                "n": self.n, "ci": list(self.ci) if self.ci else None, "level": self.level,
                "allowed": self.allowed, "verdict": self.verdict, "message": self.message,
                "p_value": self.p_value, "unpaired": self.unpaired,
                "correction": self.correction, "m": self.m,
                "per_question": ({"ids": list(self.question_ids),
                                  "diffs": [round(d, 6) for d in self.diffs]}
                                 if self.diffs else None)}


Regression = Check  # a failed check (kept for code written against the first version)


@dataclass
class Comparison:
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: what was compared with what: both models' identities and each trait's layer
    compared: list[str] = field(default_factory=list)
    deltas: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    baseline_path: str | None = None
    correction: str = "holm"
    level: float = DEFAULT_LEVEL

    @property
    def regressions(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    @property
    def ok(self) -> bool:
        return not self.regressions

    def flagged(self, trait: str, metric: str) -> Check | None:
        for r in self.regressions:
            if r.trait == trait and r.metric == metric:
                return r
        return None

    def to_dict(self) -> ComparisonRecord:
        return {
            "baseline_path": self.baseline_path,
            "rules": [str(r) for r in self.rules],
            "correction": self.correction,
            "level": self.level,
            "checks": [c.to_dict() for c in self.checks],
            "regressions": [r.to_dict() for r in self.regressions],
            "deltas": self.deltas,
            "notes": list(self.notes),
            "compared": list(self.compared),
        }


def _metric_value(trait: Mapping[str, Any], metric: str) -> Any:
    metrics = trait.get("metrics") or {}
    if not isinstance(metrics, Mapping):
        return None
    if metric in metrics:
        return metrics[metric]
    if metric == "effective_pairs":
        vec = trait.get("vector") or {}
        return vec.get("effective_pairs") if isinstance(vec, Mapping) else None
    return None


_is_num = is_finite_number


def trait_metrics(trait: Mapping[str, Any]) -> dict[str, float]:
    """The numeric metrics of a trait section (``metrics`` plus effective pairs from ``vector``)."""
    out: dict[str, float] = {}
    metrics = trait.get("metrics") or {}
    for k, v in (metrics.items() if isinstance(metrics, Mapping) else ()):
        if _is_num(v):
            out[k] = v
    vec = trait.get("vector") or {}
    ep = vec.get("effective_pairs") if isinstance(vec, Mapping) else None
    if "effective_pairs" not in out and _is_num(ep):
        out["effective_pairs"] = float(ep)  # type: ignore[arg-type]  # _is_num: a number
    return out


def per_question(trait: Mapping[str, Any], metric: str) -> Mapping[str, Any] | None:
    """``{question id: value}`` of ``metric`` in a trait section, or None when not recorded."""
    pq = trait.get("per_question")
    if not isinstance(pq, Mapping):
        return None
    values = (pq.get("metrics") or {}) if isinstance(pq.get("metrics"), Mapping) else {}
    found = values.get(metric)
    return found if isinstance(found, Mapping) and found else None


def _metric_names(traits: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for t in traits.values():
        if isinstance(t, Mapping):
            metrics = t.get("metrics") or {}
            names.update(metrics if isinstance(metrics, Mapping) else ())
    return names


def check_rules(parsed: list[Rule], cur: Mapping[str, Any], base: Mapping[str, Any],
                 baseline_path: str | None) -> None:
    """Raise :class:`CompareUsageError` for rules that cannot be evaluated at all."""
    if not parsed:
        return
    where = baseline_path or "the baseline"
    if not base:
        raise CompareUsageError(
            f"baseline {where} has no traits: rule(s) {', '.join(map(str, parsed))} cannot be "
            "evaluated; regenerate the baseline with --persona-save on a run of the suites")
    known_metrics = sorted(set(KNOWN_METRICS) | _metric_names(base) | _metric_names(cur))
    known_traits = sorted(set(base) | set(cur))
    for rule in parsed:
        if rule.metric not in known_metrics:
            raise CompareUsageError(
                f"rule {rule}: unknown metric {rule.metric!r}; known metrics: "
                f"{', '.join(known_metrics)} (aliases: "
                f"{', '.join(f'{k}={v}' for k, v in METRIC_ALIASES.items())})")
        if rule.trait is not None and rule.trait not in known_traits:
            raise CompareUsageError(
                f"rule {rule}: unknown trait {rule.trait!r}; traits in the baseline or this run: "
                f"{', '.join(known_traits) or 'none'}")
        names = [rule.trait] if rule.trait else known_traits
        values = [_metric_value(side[n], rule.metric) for side in (base, cur) for n in names
                  if isinstance(side.get(n), Mapping)]
        present = [v for v in values if v is not None]
        if present and not any(_is_num(v) for v in present):
            raise CompareUsageError(
                f"rule {rule}: metric {rule.metric!r} is not a number "
                f"(got {type(present[0]).__name__}); rules apply to numeric metrics only")


def _paired_seed(trait: str, rule: Rule) -> int:
    return seed_for(trait, rule.metric, str(rule))


def _p_value(diff: PairedDiff, rule: Rule, allowed: float, seed: int) -> float:
    """One-sided bootstrap p-value of "the move is at most ``allowed``" (ranks checks for Holm)."""
    reps = diff.replicates(seed) * rule.direction
    return float(((reps <= allowed).sum() + 1) / (reps.size + 1))


def _decide_paired(check: Check, diff: PairedDiff, level: float, seed: int) -> None:
    lo, hi = diff.interval(level, seed)
    check.ci, check.level = (lo, hi), level
    moved_low = lo if check.rule.direction > 0 else -hi
    assert check.allowed is not None
    if check.rule.relative and check.allowed == 0:
        check.failed = moved_low > 0
    else:
        check.failed = moved_low > check.allowed + 1e-12


def _apply_correction(paired: list[tuple[Check, PairedDiff, int]], correction: str,
                      level: float) -> None:
    alpha, m = 1.0 - level, len(paired)
    for check, _, _ in paired:
        check.correction, check.m = correction, m
    if correction == "none" or m <= 1:
        for check, diff, seed in paired:
            _decide_paired(check, diff, level, seed)
        return
    if correction == "bonferroni":
        for check, diff, seed in paired:
            _decide_paired(check, diff, 1.0 - alpha / m, seed)
        return
    # Holm: step down from the smallest p-value; once one check holds, Holm stops: the rest
    # hold too, and are shown with their interval at the level where it stopped.
    order = sorted(paired, key=lambda x: (x[0].p_value or 1.0, x[0].trait, str(x[0].rule)))
    stop_level: float | None = None
    for rank, (check, diff, seed) in enumerate(order):
        _decide_paired(check, diff, stop_level or 1.0 - alpha / (m - rank), seed)
        if stop_level is not None:
            check.failed = False
        elif not check.failed:
            stop_level = check.level


REDUCED_PRECISION = ("bfloat16", "float16")


def _device_type(model: Mapping[str, Any]) -> str:
    return str(model.get("device") or "").split(":")[0]


def _check(model: Mapping[str, Any]) -> Mapping[str, Any]:
    engine = model.get("engine")
    check = engine.get("batch_invariance") if isinstance(engine, Mapping) else None
    return check if isinstance(check, Mapping) else {}


def batch_invariant(model: Mapping[str, Any]) -> bool:
    """True when the results' engine ran its batch-invariance self-check and it passed (one
    row alone and in a batch: greedy tokens and logprobs bitwise equal)."""
    return _check(model).get("equal") is True


def _check_detail(model: Mapping[str, Any]) -> str:
    check = _check(model)
    return (f"batch 1 vs {check.get('batch')}, {check.get('tokens')} greedy tokens, "
            f"{check.get('detail')}")


def precision_notes(current_model: Mapping[str, Any], baseline_model: Mapping[str, Any]
                    ) -> list[str]:
    """Notes on numerics that change generated texts independently of the weights.

    Measured on an H100 (README, "On a GPU"): in bfloat16 the same prompt's greedy text depends
    on which rows share its batch (5 of 40 rows equal between one batch of 40 and batches of 8,
    no steering), while float32 matched in full. A gate between two such runs can then see a
    difference that no weight change made.
    """
    notes: list[str] = []
    sides = {"current": current_model, "baseline": baseline_model}
    low = [name for name, m in sides.items()
           if str(m.get("dtype")) in REDUCED_PRECISION and _device_type(m) not in ("", "cpu")
           and not batch_invariant(m)]
    for name, m in sides.items():
        if batch_invariant(m):
            notes.append(f"{name} generated on an engine whose batch-invariance self-check "
                         f"passed on its host ({_check_detail(m)}): its texts do not depend "
                         "on batch-mates")
    if low:
        notes.append(
            f"{' and '.join(low)} generated in reduced precision on an accelerator, where a "
            "text depends on which rows share its batch (bfloat16 on an H100: 5 of 40 greedy "
            "rows equal between one batch of 40 and batches of 8): fill both caches on one host "
            "(persona cache export/import) or run with --persona-dtype float32")
    cur = (str(current_model.get("dtype") or ""), _device_type(current_model))
    base = (str(baseline_model.get("dtype") or ""), _device_type(baseline_model))
    if all(cur) and all(base) and cur != base:
        notes.append(f"dtype/device differ (baseline {base[0]} on {base[1]}, current {cur[0]} "
                     f"on {cur[1]}): numerics alone change generated texts and projections")
    return notes


#: model fields that must agree for two runs (or two checkpoints) to be compared: a different
#: fingerprint of the same architecture and shape is the normal case (a fine-tune)
MODEL_IDENTITY = (("architecture", "architecture"), ("n_layers", "decoder blocks"),
                  ("d_model", "width d_model"))
#: trait fields that must agree: the layer the figures were read at and the trait data
TRAIT_IDENTITY = (("layer", "layer"), ("data_sha256", "trait data sha256"))


def describe_model(m: Mapping[str, Any]) -> str:
    """``name (architecture, N blocks, d=D, fingerprint F)`` of a results ``model`` object."""
    parts = [str(m.get("architecture") or "architecture not recorded"),
             f"{m.get('n_layers', '?')} blocks", f"d={m.get('d_model', '?')}"]
    if m.get("fingerprint"):
        parts.append(f"fingerprint {str(m['fingerprint'])[:40]}")
    return f"{m.get('name') or '?'} ({', '.join(parts)})"


def model_mismatches(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The identity fields (architecture, depth, width) where two model objects disagree;
    a field missing on either side is not a mismatch (see :func:`unchecked_fields`)."""
    return [what for key, what in MODEL_IDENTITY
            if a.get(key) is not None and b.get(key) is not None and a.get(key) != b.get(key)]


def unchecked_fields(a: Mapping[str, Any], b: Mapping[str, Any],
                     fields: tuple[tuple[str, str], ...] = MODEL_IDENTITY) -> list[str]:
    return [what for key, what in fields if a.get(key) is None or b.get(key) is None]


#: the trait fields that record which judge scored a trait (``Judge.identity``), and their names
JUDGE_IDENTITY = (("judge_identity", "judge"), ("coherence_judge_identity", "coherence judge"))
#: metrics read from activations only: compared whichever judges scored the two runs
ACTIVATION_METRICS = ("baseline_projection", "steered_projection", "checkpoint_shift",
                      "max_cross_cosine")
#: which judge each judge-score metric comes from (effective pairs: the pairs both judges kept);
#: a metric named neither here nor in ACTIVATION_METRICS is taken to depend on both judges
METRIC_JUDGES: dict[str, tuple[str, ...]] = {
    "baseline_score": ("judge_identity",),
    "steered_score": ("judge_identity",),
    "baseline_coherence": ("coherence_judge_identity",),
    "coherence_at_max": ("coherence_judge_identity",),
    "effective_pairs": ("judge_identity", "coherence_judge_identity"),
}


def metric_judges(metric: str) -> tuple[str, ...]:
    """The trait fields of :data:`JUDGE_IDENTITY` whose judge gave ``metric``'s values."""
    if metric in ACTIVATION_METRICS:
        return ()
    return METRIC_JUDGES.get(metric, tuple(key for key, _ in JUDGE_IDENTITY))


def judge_differences(current: Mapping[str, Any], baseline: Mapping[str, Any]
                      ) -> dict[str, tuple[Any, Any]]:
    """``{field: (baseline identity, current identity)}`` for the judge identity fields that
    both trait sections record and that differ."""
    return {key: (baseline[key], current[key]) for key, _ in JUDGE_IDENTITY
            if current.get(key) is not None and baseline.get(key) is not None
            and current[key] != baseline[key]}


def _judge_lines(name: str, c: Mapping[str, Any], b: Mapping[str, Any], rules: list[Rule],
                 problems: list[str]) -> list[str]:
    """Compare the judges that scored trait ``name`` on each side: a rule on a metric that
    another judge scored is a problem; the lines say what was compared (a ``warning:`` line
    where one side, an older file, does not record its judges)."""
    lines: list[str] = []
    differ = judge_differences(c, b)
    same: list[str] = []
    one_sided: dict[str, list[str]] = {"baseline": [], "this run": []}
    unrecorded: list[str] = []
    for key, what in JUDGE_IDENTITY:
        if key in differ:
            old, new = differ[key]
            ruled = sorted({str(r) for r in rules if r.trait in (None, name)
                            and key in metric_judges(r.metric)})
            if ruled:
                problems.append(f"{name}: rule(s) {', '.join(ruled)} compare scores of another "
                                f"{what}: baseline {old!r}, this run {new!r}")
            lines.append(f"{name}: {what} differs (baseline {old!r}, this run {new!r}): its "
                         "scores are not compared, activation metrics are")
        elif c.get(key) is None and b.get(key) is None:
            unrecorded.append(what)
        elif c.get(key) is None or b.get(key) is None:
            one_sided["baseline" if c.get(key) is None else "this run"].append(
                f"{what} {(c.get(key) or b.get(key))!r}")
        else:
            same.append(f"{what} {c[key]!r}")
    for side, recorded in one_sided.items():
        if recorded:
            other = "this run" if side == "baseline" else "the baseline"
            owner = "the baseline's" if side == "baseline" else "this run's"
            lines.append(f"warning: {name}: {other} does not record which judge scored it (a "
                         "file written before judge identities were recorded): its scores "
                         f"are compared unchecked with those of {owner} "
                         f"{' and '.join(recorded)}")
    if unrecorded:
        lines.append(f"{name}: {' and '.join(unrecorded)} identity not recorded on both "
                     "sides: not checked")
    if same:
        lines.append(f"{name}: scored by the same {' and '.join(same)}")
    return lines


def check_comparable(current: Mapping[str, Any], baseline: Mapping[str, Any],
                     baseline_path: str | None = None, rules: Iterable[str | Rule] = ()
                     ) -> list[str]:
    """Raise :class:`CompareUsageError` naming both sides when ``current`` and ``baseline``
    come from another architecture, depth or width, when a trait in both was read at another
    layer or from other trait data, or when one of ``rules`` compares a judge-score metric of
    a trait that another judge scored (``judge_identity``; activation metrics are compared
    whatever the judge); return notes saying what was compared with what (and which identity
    fields a side does not record, so could not be checked), for :attr:`Comparison.compared`."""
    parsed = [parse_rule(r) for r in rules]
    where = baseline_path or "the baseline"
    cm, bm = current.get("model") or {}, baseline.get("model") or {}
    cm, bm = (cm if isinstance(cm, Mapping) else {}), (bm if isinstance(bm, Mapping) else {})
    problems = [f"{what}: baseline {bm.get(key)!r}, this run {cm.get(key)!r}"
                for key, what in MODEL_IDENTITY if what in model_mismatches(cm, bm)]
    notes = [f"compared this run, model {describe_model(cm)}, with baseline {where}, model "
             f"{describe_model(bm)}"]
    missing = unchecked_fields(cm, bm)
    if missing:
        notes.append(f"model {', '.join(missing)} not recorded on both sides: not checked")
    ct, bt = current.get("traits") or {}, baseline.get("traits") or {}
    ct, bt = (ct if isinstance(ct, Mapping) else {}), (bt if isinstance(bt, Mapping) else {})
    for name in sorted(n for n in ct if n in bt):
        c, b = ct[name], bt[name]
        if not isinstance(c, Mapping) or not isinstance(b, Mapping):
            continue
        for key, what in TRAIT_IDENTITY:
            if c.get(key) is not None and b.get(key) is not None and c[key] != b[key]:
                problems.append(f"{name}: {what}: baseline {b[key]!r}, this run {c[key]!r}")
        layer = c.get("layer") if c.get("layer") is not None else b.get("layer")
        gaps = unchecked_fields(c, b, TRAIT_IDENTITY)
        notes.append(f"{name}: compared at layer {layer if layer is not None else '?'}"
                     + (f" ({', '.join(gaps)} not recorded on both sides: not checked)"
                        if gaps else " on the same trait data"))
        notes.extend(_judge_lines(name, c, b, parsed, problems))
    if problems:
        raise CompareUsageError(
            f"{where} cannot be compared with this run: {'; '.join(problems)} (baseline model "
            f"{describe_model(bm)}, this run {describe_model(cm)}); save a baseline from a run "
            "of this model, suite and judge (--persona-save BASELINE.json)")
    return notes


def compare_results(current: Mapping[str, Any], baseline: Mapping[str, Any],
                    rules: Iterable[str | Rule] = (), *, baseline_path: str | None = None,
                    correction: str = "holm", level: float = DEFAULT_LEVEL) -> Comparison:
    """Compare ``current`` against ``baseline`` under ``rules``.

    Each rule is checked on every trait it applies to: paired per-question differences with a
    bootstrap interval at ``level`` (corrected across all paired checks by ``correction``), or
    a point comparison where per-question values are missing (with a note). Raises
    :class:`CompareUsageError` for rules that cannot be evaluated.
    """
    if correction not in CORRECTIONS:
        raise CompareUsageError(f"unknown correction {correction!r}; use one of "
                                f"{', '.join(CORRECTIONS)}")
    parsed = [parse_rule(r) for r in rules]
    comp = Comparison(rules=parsed, baseline_path=baseline_path, correction=correction,
                      level=level)
    cur_traits = current.get("traits") or {}
    base_traits = baseline.get("traits") or {}
    if not isinstance(cur_traits, Mapping) or not isinstance(base_traits, Mapping):
        raise CompareUsageError("results 'traits' must be an object on both sides")
    check_rules(parsed, cur_traits, base_traits, baseline_path)
    comp.compared = check_comparable(current, baseline, baseline_path, parsed)

    cm, bm = current.get("model") or {}, baseline.get("model") or {}
    if cm.get("fingerprint") and cm.get("fingerprint") == bm.get("fingerprint"):
        comp.notes.append("current and baseline have the same model fingerprint")
    comp.notes.extend(precision_notes(cm, bm))
    cj, bj = (current.get("judge") or {}).get("id"), (baseline.get("judge") or {}).get("id")
    if cj and bj and cj != bj:
        comp.notes.append(f"judges differ (baseline {bj}, current {cj}): scores may not be "
                          "comparable")
    if baseline.get("schema_version", 2) < 2 and parsed:
        comp.notes.append(
            f"baseline {baseline_path or ''} uses results schema {baseline.get('schema_version')}"
            " without per-question values: rules are point comparisons of means; regenerate the "
            "baseline with this version (pytest ... --persona-save BASELINE.json) for paired "
            "intervals".replace("  ", " "))

    for name in sorted(set(base_traits) - set(cur_traits)):
        comp.notes.append(f"{name}: in the baseline but not in this run")
    for name in sorted(set(cur_traits) - set(base_traits)):
        comp.notes.append(f"{name}: new in this run, no baseline to compare")

    for name in [t for t in cur_traits if t in base_traits]:
        cur = trait_metrics(cur_traits[name] or {})
        base = trait_metrics(base_traits[name] or {})
        other_judge = judge_differences(cur_traits[name] or {}, base_traits[name] or {})
        deltas = {m: {"old": base[m], "new": cur[m], "delta": cur[m] - base[m]}
                  for m in cur if m in base and not other_judge.keys() & set(metric_judges(m))}
        if deltas:
            comp.deltas[name] = deltas

    paired: list[tuple[Check, PairedDiff, int]] = []
    for rule in parsed:
        if rule.trait is not None:
            names = [rule.trait]
        else:  # traits this run did not touch (a -k subset) are notes above, not failures
            names = [t for t in cur_traits if t in base_traits]
        for name in names:
            check = _check_one(rule, name, base_traits.get(name), cur_traits.get(name), comp)
            if check is None:
                continue
            comp.checks.append(check)
            if check.mode == "paired":
                diff = pair(per_question(base_traits[name], rule.metric) or {},
                            per_question(cur_traits[name], rule.metric) or {})
                seed = _paired_seed(name, rule)
                check.p_value = _p_value(diff, rule, check.allowed or 0.0, seed)
                paired.append((check, diff, seed))
    _apply_correction(paired, correction, level)
    return comp


def _check_one(rule: Rule, name: str, base_t: Any, cur_t: Any, comp: Comparison
               ) -> Check | None:
    """Build the check of ``rule`` on trait ``name`` (undecided when paired)."""
    if not isinstance(base_t, Mapping) or not isinstance(cur_t, Mapping):
        side = "baseline" if not isinstance(base_t, Mapping) else "current run"
        return Check(name, rule.metric, rule, "missing", None, None, failed=True,
                     reason=f"trait not in the {side}")
    old, new = _metric_value(base_t, rule.metric), _metric_value(cur_t, rule.metric)
    if not _is_num(old) or not _is_num(new):
        if old is None and new is None:
            comp.notes.append(f"{name}: {rule.metric} in neither baseline nor this run, rule "
                              f"{rule} does not apply")
            return None
        missing = [side for side, v in (("baseline", old), ("current run", new))
                   if not _is_num(v)]
        return Check(name, rule.metric, rule, "missing", old if _is_num(old) else None,
                     new if _is_num(new) else None, failed=True,
                     reason=f"missing (or not a finite number) in the {' and '.join(missing)}")
    pb, pc = per_question(base_t, rule.metric), per_question(cur_t, rule.metric)
    if rule.point or pb is None or pc is None:
        reason = "" if rule.point else (
            f"no per-question values in the {'baseline' if pb is None else 'current run'}")
        check = Check(name, rule.metric, rule, "point", old, new, delta=new - old, allowed=rule.allowed(float(old)),
                      failed=rule.violated(float(old), float(new)), reason=reason)
        if reason:
            comp.notes.append(f"{name}: {rule.metric}: {reason}, rule {rule} compares means")
        return check
    diff = pair(pb, pc)
    if diff.n == 0:
        return Check(name, rule.metric, rule, "missing", float(old), float(new), failed=True,
                     reason="has no question with a value on both sides")
    check = Check(name, rule.metric, rule, "paired", diff.old_mean, diff.new_mean,
                  delta=diff.mean, n=diff.n, allowed=rule.allowed(diff.old_mean),
                  question_ids=diff.ids, diffs=diff.diffs, unpaired=diff.unpaired)
    if diff.unpaired:
        comp.notes.append(f"{name}: {rule.metric}: {diff.unpaired} question(s) have a value on "
                          "one side only and are left out of the paired difference")
    return check
