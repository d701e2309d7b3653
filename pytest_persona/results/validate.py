"""Validation of a results document: every field checked, every error located.

:func:`validate_results` names the offending field ("traits.evil.sweep[2].mean: expected
number") and returns the document typed as :class:`~pytest_persona.results.schema.ResultsDocument`.
Unknown keys are allowed (a newer writer may add some); a newer ``schema_version`` is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

from pytest_persona._util.redact import redact_secrets
from pytest_persona.errors import ResultsError
from pytest_persona.results.schema import (
    OUTCOMES,
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    ResultsDocument,
)

# --------------------------------------------------------------------------- type checks


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fail(path: str, what: str, v: Any) -> None:
    shown = (
        type(v).__name__ if not isinstance(v, (int, float, str)) or isinstance(v, bool) else repr(v)
    )
    if isinstance(v, str):
        v = redact_secrets(v)
        shown = repr(v[:40] + "...") if len(v) > 40 else repr(v)
    raise ResultsError(f"{path}: expected {what}, got {shown}")


def _num(
    d: Mapping[str, Any], key: str, path: str, *, required: bool = False, nullable: bool = True
) -> None:
    p = f"{path}.{key}" if path else key
    if key not in d:
        if required:
            raise ResultsError(f"{p}: missing (expected number)")
        return
    v = d[key]
    if v is None:
        if nullable and not required:
            return
        _fail(p, "number", v)
    if not _is_num(v):
        _fail(p, "number" + (" or null" if nullable else ""), v)
    if isinstance(v, float) and not math.isfinite(v):
        _fail(p, "finite number", v)


def _str(
    d: Mapping[str, Any], key: str, path: str, *, required: bool = False, nullable: bool = True
) -> None:
    p = f"{path}.{key}" if path else key
    if key not in d:
        if required:
            raise ResultsError(f"{p}: missing (expected string)")
        return
    v = d[key]
    if v is None and nullable and not required:
        return
    if not isinstance(v, str):
        _fail(p, "string", v)


def _obj(
    d: Mapping[str, Any], key: str, path: str, *, required: bool = False, nullable: bool = True
) -> Mapping[str, Any] | None:
    p = f"{path}.{key}" if path else key
    if key not in d:
        if required:
            raise ResultsError(f"{p}: missing (expected object)")
        return None
    v = d[key]
    if v is None and nullable and not required:
        return None
    if not isinstance(v, Mapping):
        _fail(p, "object", v)
    found: Mapping[str, Any] = v
    return found


def _req_obj(d: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    """A required, non-null object (:func:`_obj` raises for anything else)."""
    v = _obj(d, key, path, required=True, nullable=False)
    assert v is not None
    return v


def _list(
    d: Mapping[str, Any], key: str, path: str, *, required: bool = False, nullable: bool = True
) -> list[Any] | None:
    p = f"{path}.{key}" if path else key
    if key not in d:
        if required:
            raise ResultsError(f"{p}: missing (expected list)")
        return None
    v = d[key]
    if v is None and nullable and not required:
        return None
    if not isinstance(v, list):
        _fail(p, "list", v)
    found: list[Any] = v
    return found


def _req_list(d: Mapping[str, Any], key: str, path: str) -> list[Any]:
    """A required, non-null list (:func:`_list` raises for anything else)."""
    v = _list(d, key, path, required=True, nullable=False)
    assert v is not None
    return v


def _interval(d: Mapping[str, Any], key: str, path: str) -> None:
    p = f"{path}.{key}"
    v = d.get(key)
    if v is None:
        return
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        _fail(p, "[low, high] pair or null", v)
    for i, x in enumerate(v):
        if x is not None and (not _is_num(x) or (isinstance(x, float) and not math.isfinite(x))):
            _fail(f"{p}[{i}]", "number", x)


def _numbers(d: Mapping[str, Any], key: str, path: str) -> None:
    """A list of numbers; null stands for a value that was not finite (see ``non_finite``)."""
    lst = _list(d, key, path)
    for i, x in enumerate(lst or []):
        if x is None:
            continue
        if not _is_num(x) or (isinstance(x, float) and not math.isfinite(x)):
            _fail(f"{path}.{key}[{i}]", "number", x)


# --------------------------------------------------------------------------- sections


def _model(m: Mapping[str, Any], path: str) -> None:
    _str(m, "name", path, required=True, nullable=False)
    for k in ("id", "fingerprint", "device", "dtype", "revision"):
        _str(m, k, path)
    for k in ("n_layers", "d_model"):
        _num(m, k, path)


def _trait(t: Mapping[str, Any], path: str) -> None:
    _num(t, "layer", path)
    _str(t, "positions", path)
    _str(t, "judge_identity", path)
    _str(t, "coherence_judge_identity", path)
    _numbers(t, "coefficients", path)
    vec = _obj(t, "vector", path)
    if vec is not None:
        vp = f"{path}.vector"
        for k in ("effective_pairs", "pos_mean_score", "neg_mean_score"):
            _num(vec, k, vp)
        _numbers(vec, "norms", vp)
        _str(vec, "source", vp)
    sweep = _list(t, "sweep", path)
    for i, row in enumerate(sweep or []):
        rp = f"{path}.sweep[{i}]"
        if not isinstance(row, Mapping):
            _fail(rp, "object", row)
        if "coeff" not in row:
            raise ResultsError(f"{rp}.coeff: missing (expected number)")
        _num(row, "coeff", rp)
        for k in ("dose", "n", "mean", "missing", "coherence_mean"):
            _num(row, k, rp)
        _interval(row, "ci", rp)
        _interval(row, "coherence_ci", rp)
        spread = _obj(row, "judge_spread", rp)
        if spread is not None:
            for k in ("k", "mean", "max", "n"):
                _num(spread, k, f"{rp}.judge_spread")
            _numbers(spread, "per_answer", f"{rp}.judge_spread")
        for j, ex in enumerate(_list(row, "examples", rp) or []):
            ep = f"{rp}.examples[{j}]"
            if not isinstance(ex, Mapping):
                _fail(ep, "object", ex)
            _str(ex, "question", ep)
            _str(ex, "answer", ep)
            _num(ex, "score", ep)
            _num(ex, "coherence", ep)
    _dose(t, path)
    _damage(t, path)
    _agreement(t, path)
    proj = _obj(t, "projections", path)
    for cond, pr in (proj or {}).items():
        pp = f"{path}.projections.{cond}"
        if pr is None:
            continue
        if not isinstance(pr, Mapping):
            _fail(pp, "object", pr)
        _num(pr, "mean", pp)
        _num(pr, "n", pp)
        _interval(pr, "ci", pp)
    _per_question(t, path)
    metrics = _obj(t, "metrics", path) or {}
    for k, v in metrics.items():
        if v is not None and not isinstance(v, (str, Mapping, list)):
            _num(metrics, k, f"{path}.metrics")


def _dose(t: Mapping[str, Any], path: str) -> None:
    """``traits.<name>.dose``: how coefficients and relative doses convert at this layer."""
    dose = _obj(t, "dose", path)
    if dose is None:
        return
    dp = f"{path}.dose"
    for k in ("vector_norm", "mean_norm", "n_tokens", "layer"):
        _num(dose, k, dp, required=True, nullable=False)
    _str(dose, "given", dp)
    _str(dose, "procedure", dp)
    _numbers(dose, "coefficients", dp)
    _numbers(dose, "doses", dp)


def _damage(t: Mapping[str, Any], path: str) -> None:
    """``traits.<name>.damage``: steering KL per coefficient (``kl``, ``ci``, ``n``)."""
    for i, row in enumerate(_list(t, "damage", path) or []):
        rp = f"{path}.damage[{i}]"
        if not isinstance(row, Mapping):
            _fail(rp, "object", row)
        for k in ("coeff", "kl"):
            _num(row, k, rp, required=True, nullable=False)
        for k in ("dose", "n"):
            _num(row, k, rp)
        _interval(row, "ci", rp)


def _agreement(t: Mapping[str, Any], path: str) -> None:
    """``traits.<name>.judge_agreement``: per labelled file, ``auc`` or ``spearman``."""
    for name, row in (_obj(t, "judge_agreement", path) or {}).items():
        rp = f"{path}.judge_agreement.{name}"
        if not isinstance(row, Mapping):
            _fail(rp, "object", row)
        _str(row, "metric", rp, required=True, nullable=False)
        for k in ("value", "n"):
            _num(row, k, rp)
        _interval(row, "ci", rp)
        _str(row, "judge", rp)


def _cosine(c: Mapping[str, Any]) -> None:
    _num(c, "layer", "cosine")
    traits = _req_list(c, "traits", "cosine")
    for i, name in enumerate(traits):
        if not isinstance(name, str):
            _fail(f"cosine.traits[{i}]", "string", name)
    matrix = _req_list(c, "matrix", "cosine")
    if len(matrix) != len(traits):
        raise ResultsError(f"cosine.matrix: expected {len(traits)} rows, got {len(matrix)}")
    for i, row in enumerate(matrix):
        if not isinstance(row, list) or len(row) != len(traits):
            raise ResultsError(f"cosine.matrix[{i}]: expected a row of {len(traits)} numbers")
        for j, x in enumerate(row):
            if x is not None and (not _is_num(x) or not math.isfinite(x)):
                _fail(f"cosine.matrix[{i}][{j}]", "number", x)


def _expectation(e: Mapping[str, Any], path: str) -> None:
    _str(e, "nodeid", path, required=True, nullable=False)
    for k in ("suite", "trait", "kind", "name", "message"):
        _str(e, k, path)
    _str(e, "outcome", path, required=True, nullable=False)
    if e["outcome"] not in OUTCOMES:
        raise ResultsError(
            f"{path}.outcome: expected one of {', '.join(OUTCOMES)}, got {e['outcome']!r}"
        )
    figs = _obj(e, "figures", path) or {}
    for k, v in figs.items():
        if v is not None and not isinstance(v, (str, bool, list, Mapping)):
            _num(figs, k, f"{path}.figures")
    _num(e, "duration_s", path)


def _per_question(t: Mapping[str, Any], path: str) -> None:
    pq = _obj(t, "per_question", path)
    if pq is None:
        return
    pp = f"{path}.per_question"
    for qid, text in (_obj(pq, "questions", pp) or {}).items():
        if not isinstance(text, str):
            _fail(f"{pp}.questions.{qid}", "string", text)
    metrics = _obj(pq, "metrics", pp) or {}
    for metric in metrics:
        values = _obj(metrics, metric, f"{pp}.metrics") or {}
        for qid in values:
            _num(values, qid, f"{pp}.metrics.{metric}")


def _comparison(comp: Mapping[str, Any]) -> None:
    _str(comp, "baseline_path", "comparison")
    _str(comp, "correction", "comparison")
    _num(comp, "level", "comparison")
    for i, r in enumerate(_list(comp, "rules", "comparison") or []):
        if not isinstance(r, str):
            _fail(f"comparison.rules[{i}]", "string", r)
    for part in ("checks", "regressions"):
        for i, c in enumerate(_list(comp, part, "comparison") or []):
            cp = f"comparison.{part}[{i}]"
            if not isinstance(c, Mapping):
                _fail(cp, "object", c)
            for k in ("trait", "metric", "rule", "message", "mode", "verdict"):
                _str(c, k, cp)
            for k in ("old", "new", "delta", "n", "level", "allowed"):
                _num(c, k, cp)
            _interval(c, "ci", cp)
            pq = _obj(c, "per_question", cp)
            if pq is not None:
                _numbers(pq, "diffs", f"{cp}.per_question")
    for i, n in enumerate(_list(comp, "notes", "comparison") or []):
        if not isinstance(n, str):
            _fail(f"comparison.notes[{i}]", "string", n)
    deltas = _obj(comp, "deltas", "comparison")
    for trait, ms in (deltas or {}).items():
        tp = f"comparison.deltas.{trait}"
        if not isinstance(ms, Mapping):
            _fail(tp, "object", ms)
        for metric, d in ms.items():
            if not isinstance(d, Mapping):
                _fail(f"{tp}.{metric}", "object", d)
            for k in ("old", "new", "delta"):
                _num(d, k, f"{tp}.{metric}")


def validate_results(d: Any) -> ResultsDocument:
    """Check ``d`` against schema version 2 (version 1 files are accepted too) and return it,
    typed; raise :class:`ResultsError` naming the field.

    Unknown keys are allowed (forward compatibility); optional sections may be absent.
    """
    if not isinstance(d, Mapping):
        raise ResultsError(f"results: expected object, got {type(d).__name__}")
    if "schema_version" not in d:
        raise ResultsError(f"schema_version: missing (expected {SCHEMA_VERSION})")
    v = d["schema_version"]
    if not isinstance(v, int) or isinstance(v, bool):
        _fail("schema_version", "integer", v)
    if v > SCHEMA_VERSION:
        raise ResultsError(
            f"schema_version: results use schema version {v}, newer than the {SCHEMA_VERSION} "
            "this pytest-persona understands; upgrade pytest-persona"
        )
    if v not in READABLE_VERSIONS:
        raise ResultsError(
            f"schema_version: expected one of {READABLE_VERSIONS}, got {v}; regenerate the file "
            "with this version (pytest ... --persona-save BASELINE.json)"
        )
    for k in ("created", "package_version"):
        _str(d, k, "")
    _num(d, "duration_s", "")
    _model(_req_obj(d, "model", ""), "model")
    ref = _obj(d, "reference_model", "")
    if ref is not None:
        _model(ref, "reference_model")
    judge = _obj(d, "judge", "")
    if judge is not None:
        for k in ("id", "coherence_id", "note"):
            _str(judge, k, "judge")
        if "offline" in judge and not isinstance(judge["offline"], bool):
            _fail("judge.offline", "boolean", judge["offline"])
    usage = _obj(d, "usage", "")
    if usage is not None:
        for part in ("judge", "model"):
            u = _obj(usage, part, "usage") or {}
            for k, x in u.items():
                if x is not None:
                    _num(u, k, f"usage.{part}")
    cache = _obj(d, "cache", "") or {}
    for k in cache:
        _num(cache, k, "cache")
    traits = _req_obj(d, "traits", "")
    for name, t in traits.items():
        tp = f"traits.{name}"
        if not isinstance(t, Mapping):
            _fail(tp, "object", t)
        _trait(t, tp)
    cos = _obj(d, "cosine", "")
    if cos is not None:
        _cosine(cos)
    exps = _req_list(d, "expectations", "")
    for i, e in enumerate(exps):
        if not isinstance(e, Mapping):
            _fail(f"expectations[{i}]", "object", e)
        _expectation(e, f"expectations[{i}]")
    comp = _obj(d, "comparison", "")
    if comp is not None:
        _comparison(comp)
    return cast(ResultsDocument, d)
