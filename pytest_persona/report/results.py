"""The results JSON: schema (version 1), validation, loading and atomic saving.

The plugin fills a plain dict (see ``docs`` in the package ``__init__``); this module checks its
shape, names the offending field on error ("traits.evil.sweep[2].mean: expected number"), and
writes it atomically so a crashed run never leaves half a baseline behind.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_persona._util.atomic import write_text
from pytest_persona._util.redact import redact_obj, redact_secrets

SCHEMA_VERSION = 1

OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "skipped", "error")


class ResultsError(ValueError):
    """The results dict or file does not follow the schema; the message names the field."""


# --------------------------------------------------------------------------- type checks


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fail(path: str, what: str, v: Any) -> None:
    shown = type(v).__name__ if not isinstance(v, (int, float, str)) or isinstance(v, bool) else repr(v)
    if isinstance(v, str):
        v = redact_secrets(v)
        shown = repr(v[:40] + "...") if len(v) > 40 else repr(v)
    raise ResultsError(f"{path}: expected {what}, got {shown}")


def _num(d: Mapping[str, Any], key: str, path: str, *, required: bool = False,
         nullable: bool = True) -> None:
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


def _str(d: Mapping[str, Any], key: str, path: str, *, required: bool = False,
         nullable: bool = True) -> None:
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


def _obj(d: Mapping[str, Any], key: str, path: str, *, required: bool = False,
         nullable: bool = True) -> Mapping[str, Any] | None:
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
    return v


def _list(d: Mapping[str, Any], key: str, path: str, *, required: bool = False,
          nullable: bool = True) -> list[Any] | None:
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
    lst = _list(d, key, path)
    for i, x in enumerate(lst or []):
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
        _num(row, "coeff", rp, required=True, nullable=False)
        for k in ("n", "mean", "missing", "coherence_mean"):
            _num(row, k, rp)
        _interval(row, "ci", rp)
        _interval(row, "coherence_ci", rp)
        for j, ex in enumerate(_list(row, "examples", rp) or []):
            ep = f"{rp}.examples[{j}]"
            if not isinstance(ex, Mapping):
                _fail(ep, "object", ex)
            _str(ex, "question", ep)
            _str(ex, "answer", ep)
            _num(ex, "score", ep)
            _num(ex, "coherence", ep)
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
    metrics = _obj(t, "metrics", path)
    for k, v in (metrics or {}).items():
        if v is not None and not isinstance(v, (str, Mapping, list)):
            _num(metrics, k, f"{path}.metrics")


def _cosine(c: Mapping[str, Any]) -> None:
    _num(c, "layer", "cosine")
    traits = _list(c, "traits", "cosine", required=True, nullable=False)
    for i, name in enumerate(traits):
        if not isinstance(name, str):
            _fail(f"cosine.traits[{i}]", "string", name)
    matrix = _list(c, "matrix", "cosine", required=True, nullable=False)
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
        raise ResultsError(f"{path}.outcome: expected one of {', '.join(OUTCOMES)}, "
                           f"got {e['outcome']!r}")
    figs = _obj(e, "figures", path)
    for k, v in (figs or {}).items():
        if v is not None and not isinstance(v, (str, bool, list, Mapping)):
            _num(figs, k, f"{path}.figures")
    _num(e, "duration_s", path)


def validate_results(d: Any) -> None:
    """Check ``d`` against schema version 1; raise :class:`ResultsError` naming the field.

    Unknown keys are allowed (forward compatibility); optional sections may be absent.
    """
    if not isinstance(d, Mapping):
        raise ResultsError(f"results: expected object, got {type(d).__name__}")
    if "schema_version" not in d:
        raise ResultsError("schema_version: missing (expected 1)")
    v = d["schema_version"]
    if not isinstance(v, int) or isinstance(v, bool):
        _fail("schema_version", "integer", v)
    if v > SCHEMA_VERSION:
        raise ResultsError(
            f"schema_version: results use schema version {v}, newer than the {SCHEMA_VERSION} "
            "this pytest-persona understands; upgrade pytest-persona"
        )
    if v != SCHEMA_VERSION:
        raise ResultsError(f"schema_version: expected {SCHEMA_VERSION}, got {v}")
    for k in ("created", "package_version"):
        _str(d, k, "")
    _num(d, "duration_s", "")
    _model(_obj(d, "model", "", required=True, nullable=False), "model")
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
            u = _obj(usage, part, "usage")
            for k, x in (u or {}).items():
                if x is not None:
                    _num(u, k, f"usage.{part}")
    cache = _obj(d, "cache", "")
    for k in cache or {}:
        _num(cache, k, "cache")
    traits = _obj(d, "traits", "", required=True, nullable=False)
    for name, t in traits.items():
        tp = f"traits.{name}"
        if not isinstance(t, Mapping):
            _fail(tp, "object", t)
        _trait(t, tp)
    cos = _obj(d, "cosine", "")
    if cos is not None:
        _cosine(cos)
    exps = _list(d, "expectations", "", required=True, nullable=False)
    for i, e in enumerate(exps):
        if not isinstance(e, Mapping):
            _fail(f"expectations[{i}]", "object", e)
        _expectation(e, f"expectations[{i}]")
    comp = _obj(d, "comparison", "")
    if comp is not None:
        _str(comp, "baseline_path", "comparison")
        _list(comp, "rules", "comparison")
        _list(comp, "regressions", "comparison")


# --------------------------------------------------------------------------- IO


def _finite(obj: Any) -> Any:
    """Replace NaN/inf floats (which JSON cannot hold) with None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def dumps_results(d: Mapping[str, Any]) -> str:
    """Validated, redacted JSON text of ``d`` (NaN/inf written as null)."""
    clean = redact_obj(_finite(d))
    validate_results(clean)
    return json.dumps(clean, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a results file; errors name the file and the line or field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{p}: results file not found") from None
    except IsADirectoryError:
        raise ResultsError(f"{p}: is a directory, expected a results JSON file") from None
    except UnicodeDecodeError as e:
        raise ResultsError(f"{p}: not UTF-8 text ({e.reason})") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(
            f"{p}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None
    try:
        validate_results(d)
    except ResultsError as e:
        raise ResultsError(f"{p}: {e}") from None
    return d


def save_results(d: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Validate ``d`` and write it atomically (temp file in the same folder + ``os.replace``).

    Strings are redacted of API keys; NaN/inf become null. On any error the target is untouched
    and no temp file is left behind. Returns the path written.
    """
    p = Path(path)
    text = dumps_results(d)  # validates before anything touches the disk
    write_text(p, text)  # atomic, fsynced, mode from the user's umask
    return p
