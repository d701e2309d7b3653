"""Evaluators of the built-in expectation kinds: each returns an Outcome with the numbers
behind it. Their names and field schemas are registered in :mod:`pytest_persona.suites.registry`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pytest_persona.core.projection import cosine, cosine_matrix, pearson, spearman
from pytest_persona.core.stats import Summary, summarize
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.errors import NeedsReferenceModel as NeedsReferenceModel
from pytest_persona.errors import NotForThisModel as NotForThisModel
from pytest_persona.errors import PersonaUsageError as PersonaUsageError
from pytest_persona.pipeline.identity_check import coeff_zero_identity
from pytest_persona.pipeline.projections import prompt_last_projections
from pytest_persona.results.paired import pair, per_question_means, seed_for
from pytest_persona.results.schema import DamageRow
from pytest_persona.suites.repeats import repeatable
from pytest_persona.suites.schema import Expectation, ResolvedSuite
from pytest_persona.suites.session import PersonaSession
from pytest_persona.traits.loader import TraitData


@dataclass
class Outcome:
    """Whether an expectation held, a one-line explanation, and the figures."""

    passed: bool
    message: str
    figures: dict[str, Any] = field(default_factory=dict)


Evaluator = Callable[[PersonaSession, ResolvedSuite, Expectation, TraitData], Outcome]


def _summary_figures(s: Summary) -> dict[str, Any]:
    return {"n": s.n, "n_questions": s.n_questions,
            "samples_per_question": s.samples_per_question, "mean": round(s.mean, 3),
            "ci_low": round(s.ci_low, 3), "ci_high": round(s.ci_high, 3), "missing": s.missing}


def _c(v: float) -> str:
    return f"{v:+g}" if v else "0"


def _cd(rs: ResolvedSuite, coeff: float, word: str = "coeff ") -> str:
    """``coeff +3 (dose 0.41)``: a coefficient with its relative dose beside it."""
    dose = rs.dose_of(coeff)
    return f"{word}{_c(coeff)}" + (f" (dose {dose:.3g})" if dose is not None else "")


def _dose_figures(rs: ResolvedSuite, coeffs: list[float], exp: Expectation,
                  single: bool = False) -> dict[str, Any]:
    """``dose`` (or ``doses``) beside the coefficient(s), and how they were converted."""
    if rs.dose_scale is None:
        return {}
    out: dict[str, Any] = {"vector_norm": round(rs.dose_scale.vector_norm, 6),
                           "mean_norm": round(rs.dose_scale.mean_norm, 6)}
    doses = [round(rs.dose_scale.dose(c), 6) for c in coeffs]
    if single:
        out["dose"] = doses[0]
    else:
        out["doses"] = doses
    if exp.params.get("dose") is not None or exp.params.get("doses") is not None or (
            rs.doses is not None):
        out["converted"] = ("coeff = dose * mean_norm / vector_norm (mean_norm: mean L2 norm "
                            f"of block {rs.layer} outputs over {rs.dose_scale.n_tokens} "
                            "evaluation-prompt tokens, each prompt's first token left out)")
    return out


def _steered_score(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData,
                   raises: bool) -> Outcome:
    """The trait score at ``coeff`` must exceed (raises) or stay below the threshold; with
    ``require: ci`` the interval bound on the far side must clear it too."""
    rs = ps.dosed(rs, t)
    coeff = rs.steered_coeff(exp)
    thr, req = exp.params["threshold"], exp.params["require"]
    s = ps.sweep(rs, t).at(coeff).score_summary()
    bound = s.ci_low if raises else s.ci_high
    value = s.mean if req == "mean" else bound
    ok = value > thr if raises else value < thr
    what = "mean" if req == "mean" else f"95% CI {'lower' if raises else 'upper'} bound"
    verb = "must exceed" if raises else "must stay below"
    msg = (f"{t.name} score at {_cd(rs, coeff)} (layer {rs.layer}): {s.describe()}; "
           f"{what} {value:.1f} {verb} {thr:g}")
    return Outcome(ok, msg, {**_summary_figures(s), "coeff": coeff,
                             **_dose_figures(rs, [coeff], exp, single=True), "threshold": thr,
                             "require": req, "layer": rs.layer})


@repeatable
def steering_raises(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData
                    ) -> Outcome:
    return _steered_score(ps, rs, exp, t, raises=True)


@repeatable
def steering_lowers(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData
                    ) -> Outcome:
    return _steered_score(ps, rs, exp, t, raises=False)


@repeatable
def baseline_ceiling(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData
                     ) -> Outcome:
    limit, req = exp.params["max"], exp.params["require"]
    s = ps.unsteered_run(rs, t).score_summary()
    value = s.mean if req == "mean" else s.ci_high
    ok = value <= limit
    what = "mean" if req == "mean" else "95% CI upper bound"
    msg = (f"unsteered {t.name} score of {ps.model.name}: {s.describe()}; {what} {value:.1f} "
           f"must be at most {limit:g}")
    return Outcome(ok, msg, {**_summary_figures(s), "max": limit, "require": req})


@repeatable
def coherence_guard(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData
                    ) -> Outcome:
    rs = ps.dosed(rs, t)
    coeffs = rs.coeffs_of(exp) or [c for c in rs.coefficients if c != 0]
    floor, req = exp.params["min"], exp.params["require"]
    sweep = ps.sweep(rs, t)
    parts, figures, ok = [], {"min": floor, "require": req}, True
    for c in coeffs:
        s = sweep.at(float(c)).coherence_summary()
        value = s.mean if req == "mean" else s.ci_low
        figures[f"coherence[{c:g}]"] = round(s.mean, 2)
        good = value >= floor
        ok &= good
        parts.append(f"{_cd(rs, c, '')}: {s.mean:.1f} [{s.ci_low:.1f}-{s.ci_high:.1f}]"
                     f"{'' if good else ' LOW'}")
    msg = (f"coherence while steering {t.name} must stay >= {floor:g} ({req}): "
           + ", ".join(parts))
    return Outcome(ok, msg, {**figures, "coefficients": [float(c) for c in coeffs],
                             **_dose_figures(rs, [float(c) for c in coeffs], exp)})


@repeatable
def monotonic(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData) -> Outcome:
    rs = ps.dosed(rs, t)
    coeffs = sorted(float(c) for c in (rs.coeffs_of(exp) or rs.coefficients))
    sweep = ps.sweep(rs, t)
    means = [sweep.at(c).score_summary().mean for c in coeffs]
    if any(math.isnan(m) for m in means):
        missing = [c for c, m in zip(coeffs, means) if math.isnan(m)]
        return Outcome(False, f"dose-response of {t.name}: no judge score at coefficients "
                       f"{missing}; cannot assess monotonicity", {"missing_coeffs": missing})
    r = spearman(coeffs, means)
    pairs_x = [c for c in coeffs for s in sweep.at(c).scores if s is not None]
    pairs_y = [s for c in coeffs for s in sweep.at(c).scores if s is not None]
    r_all = spearman(pairs_x, pairs_y) if len(pairs_x) > 1 else math.nan
    ok = not math.isnan(r) and r >= exp.params["min_r"]
    curve = ", ".join(f"{_c(c)}: {m:.1f}" for c, m in zip(coeffs, means))
    msg = (f"dose-response of {t.name}: Spearman r of mean score vs coeff = {r:.2f} "
           f"(per-response r = {r_all:.2f}) must be >= {exp.params['min_r']:g}; means {curve}")
    return Outcome(ok, msg, {"spearman_r": round(r, 4), "per_response_r": round(r_all, 4),
                             "min_r": exp.params["min_r"],
                             "means": {f"{c:g}": round(m, 2) for c, m in zip(coeffs, means)},
                             "coefficients": coeffs, **_dose_figures(rs, coeffs, exp)})


def projection_order(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData
                     ) -> Outcome:
    rs = ps.dosed(rs, t)
    coeff = rs.steered_coeff(exp)
    margin = exp.params["margin"]
    proj = ps.projections(rs, t, coeff)
    m = {k: summarize(v) for k, v in proj.items()}
    b, p, s = m["baseline"].mean, m["prompted"].mean, m["steered"].mean
    ok = b + margin < p and p + margin < s
    msg = (f"mean projection onto the {t.name} vector at layer {rs.layer}: baseline {b:.3f} < "
           f"prompted {p:.3f} < steered ({_cd(rs, coeff)}) {s:.3f}, margin {margin:g}: "
           + ("holds" if ok else "violated"))
    return Outcome(ok, msg, {"baseline": round(b, 4), "prompted": round(p, 4),
                             "steered": round(s, 4), "margin": margin, "coeff": coeff,
                             **_dose_figures(rs, [coeff], exp, single=True), "n": m["baseline"].n})


def cross_trait_cosine(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData
                       ) -> Outcome:
    limit, absolute = exp.params["max"], exp.params["absolute"]
    own = ps.vectors(t, rs.suite.extraction).vectors.array(rs.layer)
    vecs = {t.name: own}
    figures: dict[str, Any] = {"max": limit, "layer": rs.layer, "absolute": absolute}
    parts, ok = [], True
    for other in exp.params["traits"]:
        ov = ps.vectors(ps.trait(other), rs.suite.extraction).vectors.array(rs.layer)
        vecs[other] = ov
        cos = cosine(own, ov)
        value = abs(cos) if absolute else cos
        figures[f"cos[{other}]"] = round(cos, 4)
        good = value < limit
        ok &= good
        parts.append(f"{other}: {cos:+.3f}{'' if good else ' (too high)'}")
    for other_key, result in list(ps._vectors.items()):  # every trait extracted this run
        name = result.vectors.metadata.get("trait")
        if (other_key[0] == ps.model.fingerprint and isinstance(name, str)
                and name not in vecs and result.vectors.n_layers > rs.layer):
            vecs[name] = result.vectors.array(rs.layer)
    names, matrix = cosine_matrix(vecs)
    ps.results.set_metric(t.name, "max_cross_cosine", max(
        abs(v) for k, v in figures.items() if k.startswith("cos[")))
    ps.cosine = {"layer": rs.layer, "traits": names, "matrix": matrix}  # type: ignore[attr-defined]
    msg = (f"cosine of the {t.name} vector with other traits at layer {rs.layer} must stay "
           f"below {limit:g}{' in absolute value' if absolute else ''}: " + ", ".join(parts))
    return Outcome(ok, msg, figures)


def coeff_zero_matches_baseline(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation,
                                t: TraitData) -> Outcome:
    """A zero coefficient, applied through the real per-row arithmetic, changes nothing.
    The outcome is cached under everything that determines it (a warm run replays it)."""
    vec = ps.vectors(t, rs.suite.extraction).vectors.array(rs.layer)
    questions = list(t.eval_questions[: exp.params["n_prompts"]])
    r = coeff_zero_identity(ps.model, vec, rs.layer, rs.positions, questions,
                            exp.params["max_new_tokens"], ps.cache)
    layers_equal, logits_equal, tokens_equal = (r["hidden_equal"], r["logits_equal"],
                                                r["tokens_equal"])
    ok = layers_equal and logits_equal and tokens_equal
    msg = (f"coeff 0 vs unsteered on {len(questions)} prompts at layer {rs.layer} "
           f"({rs.positions}): hidden states equal at all {r['hidden_points']} points: "
           f"{layers_equal} (max |diff| {r['max_abs_diff']:.3g}), logits equal: {logits_equal}, "
           f"greedy tokens equal: {tokens_equal}")
    return Outcome(ok, msg, {"hidden_equal": layers_equal, "logits_equal": logits_equal,
                             "tokens_equal": tokens_equal, "max_abs_diff": r["max_abs_diff"],
                             "n": len(questions)})


def checkpoint_shift(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData
                     ) -> Outcome:
    """Paired per-question projection shift of the model under test against the reference.

    ``at: prompt_last`` (default; the reference's measure) projects the last prompt token of
    each evaluation question: forward passes only, no generation, deterministic. ``at:
    response`` projects each model's own unsteered answers. With ``require: ci`` (default) the
    expectation fails when the whole 95% bootstrap interval of the paired shift (questions
    resampled) lies at or above ``max``; with ``require: mean``, when the mean does.
    """
    ref = ps.reference
    if ref is None:
        raise NeedsReferenceModel()
    test = ps.model
    arch, ref_arch = getattr(test, "architecture", None), getattr(ref, "architecture", None)
    if (ref.n_layers, ref.d_model, ref_arch) != (test.n_layers, test.d_model, arch):
        def shape(a: object, n: int, d: int) -> str:
            return ", ".join(x for x in (str(a) if a else "", f"{n} layers", f"d={d}") if x)

        raise PersonaUsageError(
            f"checkpoint_shift needs two checkpoints of one architecture: {test.name} is "
            f"[{shape(arch, test.n_layers, test.d_model)}], reference {ref.name} is "
            f"[{shape(ref_arch, ref.n_layers, ref.d_model)}]")
    at, req, limit = exp.params.get("at", "prompt_last"), exp.params.get("require", "ci"), \
        exp.params["max"]
    vec = ps.vectors(t, rs.suite.extraction, reference=True).vectors.array(rs.layer)
    questions = ps.eval_questions(rs, t)
    if exp.params.get("n_questions"):
        questions = questions[: exp.params["n_questions"]]
    batch = ps.options.batch_size or 16
    if at == "prompt_last":
        test_p = prompt_last_projections(test, questions, vec, rs.layer, ps.cache, batch)
        ref_p = prompt_last_projections(ref, questions, vec, rs.layer, ps.cache, batch)
        where = "last prompt token, no generation"
    else:
        test_ans = ps.unsteered_answers(test, rs, questions)
        ref_ans = ps.unsteered_answers(ref, rs, questions)
        test_p = ps.response_projections(test, questions, test_ans, vec, rs.layer)
        ref_p = ps.response_projections(ref, questions, ref_ans, vec, rs.layer)
        where = "response-averaged, own unsteered answers"
    diff = pair(per_question_means(questions, ref_p), per_question_means(questions, test_p))
    lo, hi = diff.interval(0.95, seed_for(t.name, "checkpoint_shift", at))
    shift = diff.mean
    value = shift if req == "mean" else lo
    ok = math.isfinite(value) and value < limit
    ps.results.set_metric(t.name, "checkpoint_shift", shift)
    ps.results.add_per_question(t.name, "checkpoint_shift", questions,
                                [a - b for a, b in zip(test_p, ref_p)])
    what = "mean" if req == "mean" else "95% CI lower bound"
    msg = (f"{t.name} projection shift of {test.name} vs reference {ref.name} at layer "
           f"{rs.layer} (at {at}: {where}): paired mean {shift:+.3f} (95% CI {lo:+.3f} to "
           f"{hi:+.3f}, n={diff.n} questions; {diff.new_mean:.3f} - {diff.old_mean:.3f}); "
           f"{what} {value:+.3f} must stay below {limit:g}")
    return Outcome(ok, msg, {"shift": round(shift, 4), "ci_low": round(lo, 4),
                             "ci_high": round(hi, 4), "test_mean": round(diff.new_mean, 4),
                             "reference_mean": round(diff.old_mean, 4), "max": limit,
                             "require": req, "at": at, "n": diff.n,
                             "reference_fingerprint": ref.fingerprint})


def vector_drift(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData
                 ) -> Outcome:
    if exp.params["file"] is None:
        raise NotForThisModel(f"no stored {t.name} vector file is named for {ps.model.name}")
    path = Path(exp.params["file"])
    if not path.is_absolute():
        path = rs.suite.path.parent / path
    stored = TraitVectors.load(path)
    current = ps.vectors(t, rs.suite.extraction).vectors
    stored.check_model(current.n_layers, current.d_model, str(path))
    cos = cosine(current.array(rs.layer), stored.array(rs.layer))
    ok = cos >= exp.params["min_cosine"]
    msg = (f"cosine between the extracted {t.name} vector and {path.name} at layer {rs.layer}: "
           f"{cos:.3f}, must be >= {exp.params['min_cosine']:g}")
    return Outcome(ok, msg, {"cosine": round(cos, 4), "min_cosine": exp.params["min_cosine"],
                             "stored_model": stored.metadata.get("model_id"),
                             "file": str(path)})


@repeatable
def projection_tracks_score(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation,
                            t: TraitData) -> Outcome:
    sweep = ps.sweep(rs, t)
    vec = ps.vectors(t, rs.suite.extraction).vectors.array(rs.layer)
    prompts, answers, scores = [], [], []
    for run in sweep.runs.values():
        for q, a, s in zip(run.questions, run.answers, run.scores):
            if s is not None:
                prompts.append(q)
                answers.append(a)
                scores.append(s)
    if len(scores) < 3:
        return Outcome(False, f"only {len(scores)} scored sweep responses for {t.name}: too few "
                       "to correlate projection with score", {"n": len(scores)})
    proj = ps.response_projections(ps.model, prompts, answers, vec, rs.layer)
    r = pearson(proj, scores)
    ok = not math.isnan(r) and r >= exp.params["min_r"]
    msg = (f"Pearson r between projection onto the {t.name} vector (layer {rs.layer}) and the "
           f"judge score over {len(scores)} sweep responses: {r:.3f}, must be >= "
           f"{exp.params['min_r']:g}")
    return Outcome(ok, msg, {"pearson_r": round(r, 4), "n": len(scores),
                             "min_r": exp.params["min_r"]})


def dataset_screen(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData
                   ) -> Outcome:
    """Screen a training file along the trait vector: the mean projection difference (or its
    95% CI upper bound) and the fraction of samples above ``threshold`` must stay in bounds."""
    from pytest_persona._util.progress import bind
    from pytest_persona.pipeline.screen import ModelProjector, screen

    p = exp.params
    path = Path(p["file"])
    if not path.is_absolute():
        path = rs.suite.path.parent / path
    vec = ps.vectors(t, rs.suite.extraction).vectors[rs.layer]
    projector = ModelProjector(ps.model, {t.name: vec}, rs.layer, ps.cache,
                               max_new_tokens=rs.max_new_tokens,
                               batch_size=ps.options.batch_size or 16)
    result = screen(path, projector, own=p["baseline"], threshold=p["threshold"],
                    cache=ps.cache, top_k=10,
                    progress=bind(ps.progress, f"screen {path.name} ({t.name})"))
    s = result.traits[t.name].summary
    measure = "projection difference" if p["baseline"] == "generate" else "raw projection"
    checks, ok = [], True
    if p["max_mean_difference"] is not None:
        value = s.mean if p["require"] == "mean" else s.ci_high
        good = value <= p["max_mean_difference"]
        ok &= good
        what = "mean" if p["require"] == "mean" else "95% CI upper bound"
        checks.append(f"{what} {value:.3f} must be at most {p['max_mean_difference']:g}"
                      + ("" if good else " (exceeded)"))
    if p["max_flagged_fraction"] is not None:
        good = s.fraction_above <= p["max_flagged_fraction"]
        ok &= good
        checks.append(f"{s.above} of {s.n} samples ({100 * s.fraction_above:.1f}%) above "
                      f"{p['threshold']:g}, at most {100 * p['max_flagged_fraction']:g}% allowed"
                      + ("" if good else " (exceeded)"))
    ok &= s.n > 0
    msg = (f"{t.name} {measure} of {path.name} at layer {rs.layer}: mean {s.mean:.3f} "
           f"(95% CI {s.ci_low:.3f} to {s.ci_high:.3f}, n={s.n}"
           + (f", {result.skipped.count} bad lines skipped" if result.skipped.count else "")
           + "); " + "; ".join(checks))
    payload = result.to_dict()
    ps.results.set_screen(t.name, exp.id, {
        "data": str(p["file"]), "baseline": p["baseline"], "measure": payload["measure"],
        "layer": rs.layer, "interval": payload["interval"],
        "trait_summary": payload["traits"][t.name],
        "histogram": payload["histograms"][t.name]})
    figures = {"n": s.n, "mean": round(s.mean, 4), "ci_low": round(s.ci_low, 4),
               "ci_high": round(s.ci_high, 4), "baseline": p["baseline"],
               "require": p["require"], "layer": rs.layer, "file": str(path)}
    for key in ("max_mean_difference", "max_flagged_fraction", "threshold"):
        if p[key] is not None:
            figures[key] = p[key]
    if p["threshold"] is not None:
        figures["fraction_above"] = round(s.fraction_above, 4)
    return Outcome(ok, msg, figures)




def steering_damage(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData
                    ) -> Outcome:
    """Mean KL(steered || unsteered) of next-token distributions over a benign prompt set,
    teacher-forced on reference continuations (no generation), at ``coeff`` or ``dose``: the
    mean (``require: mean``) or the 95% bootstrap upper bound over prompts (``ci``) must stay
    at or below ``max_kl``. With ``curve`` (default) every suite coefficient is measured too,
    for the report's KL-against-dose plot."""
    from pytest_persona.pipeline.damage import load_benign, steering_kl, summarize_kl

    p = exp.params
    rs = ps.dosed(rs, t)
    coeff = rs.coeff_of(exp)
    assert coeff is not None  # the schema requires coeff or dose
    path = None
    if p["file"] is not None:
        path = Path(p["file"])
        if not path.is_absolute():
            path = rs.suite.path.parent / path
    benign = load_benign(path).head(p["n_prompts"])
    vec = ps.vectors(t, rs.suite.extraction).vectors.array(rs.layer)
    batch = ps.options.batch_size or 8
    coeffs = sorted({coeff, *(rs.coefficients if p["curve"] else [])})
    rows = {}
    for c in coeffs:
        values = steering_kl(ps.model, vec, rs.layer, rs.positions, c, benign, ps.cache, batch)
        rows[c] = summarize_kl(c, values, rs.dose_of(c), seed=0)
    ps.results.add_damage(t.name, [cast(DamageRow, s.to_row()) for s in rows.values()])
    s = rows[coeff]
    value = s.kl if p["require"] == "mean" else s.ci_high
    ok = math.isfinite(value) and value <= p["max_kl"]
    what = "mean" if p["require"] == "mean" else "95% CI upper bound"
    curve = "; ".join(f"{_cd(rs, c, '')}: {r.kl:.4g}" for c, r in rows.items()) if len(
        rows) > 1 else ""
    msg = (f"steering damage of the {t.name} vector at {_cd(rs, coeff)} (layer {rs.layer}, "
           f"{rs.positions}): mean KL(steered || unsteered) {s.kl:.4g} nats/token (95% CI "
           f"{s.ci_low:.4g} to {s.ci_high:.4g}, bootstrap over n={s.n} benign prompts of "
           f"{Path(benign.source).name}, teacher-forced on reference continuations); {what} "
           f"{value:.4g} must be at most {p['max_kl']:g}" + (f". Curve: {curve}" if curve else ""))
    return Outcome(ok, msg, {"kl": round(s.kl, 6), "ci_low": round(s.ci_low, 6),
                             "ci_high": round(s.ci_high, 6), "n": s.n, "coeff": coeff,
                             **_dose_figures(rs, [coeff], exp, single=True),
                             "max_kl": p["max_kl"], "require": p["require"],
                             "layer": rs.layer, "positions": rs.positions,
                             "prompts": benign.source})


def judge_agreement(ps: PersonaSession, rs: ResolvedSuite, exp: Expectation, t: TraitData
                    ) -> Outcome:
    """The run's judge scores a labelled file (``builtin:<trait>`` or a path relative to the
    suite) with the trait's evaluation prompt; its AUC (binary labels) or Spearman (graded)
    must be at least ``min`` (``require: ci``: the 95% bootstrap lower bound must)."""
    from pytest_persona.judges.agreement import builtin_labels, builtin_traits, load_labels

    p = exp.params
    name = str(p["file"])
    if name.startswith("builtin:"):
        trait = name[len("builtin:"):]
        if trait not in builtin_traits():
            raise PersonaUsageError(f"{rs.suite.path}:{exp.line}: field 'expectations["
                                    f"{exp.index}].file': no shipped labelled set "
                                    f"{trait!r}; shipped: {', '.join(builtin_traits())}")
        path = builtin_labels(trait)
    else:
        path = Path(name)
        if not path.is_absolute():
            path = rs.suite.path.parent / path
    labelled = load_labels(path)
    from pytest_persona.judges.agreement import measure

    a = measure(ps.judge, labelled, t.eval_prompt, t.name)
    req, floor = p["require"], p["min"]
    value = a.value if req == "mean" else a.ci_low
    ok = math.isfinite(value) and value >= floor
    label = "AUC" if a.metric == "auc" else "Spearman rho"
    what = label if req == "mean" else f"95% CI lower bound of the {label}"
    classes = (f", {a.n_positive} labelled 1 / {a.n - (a.n_positive or 0)} labelled 0"
               if a.n_positive is not None else ", graded labels 0-100")
    msg = (f"{a.judge} judge on {path.name} ({t.name}): {label} {a.value:.3f} (95% CI "
           f"{a.ci_low:.3f} to {a.ci_high:.3f}, bootstrap, n={a.n}{classes}"
           + (f", {a.missing} unscored" if a.missing else "") + f"); {what} {value:.3f} must "
           f"be at least {floor:g}")
    ps.results.set_agreement(t.name, path.name, {
        "metric": a.metric, "value": a.value if math.isfinite(a.value) else None,
        "ci": [a.ci_low if math.isfinite(a.ci_low) else None,
               a.ci_high if math.isfinite(a.ci_high) else None],
        "n": a.n, "missing": a.missing, "judge": a.judge, "file": name,
        "procedure": a.to_dict()["procedure"]})
    return Outcome(ok, msg, {a.metric: round(a.value, 4), "ci_low": round(a.ci_low, 4),
                             "ci_high": round(a.ci_high, 4), "n": a.n, "missing": a.missing,
                             "min": floor, "require": req, "judge": a.judge,
                             "file": str(path)})
