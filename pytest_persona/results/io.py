"""Reading and writing results files, apart from their types (``schema``) and checks
(``validate``).

Writing is atomic (temp file in the same folder, then ``os.replace``) so a crashed run never
leaves half a baseline behind; strings are redacted of API keys; NaN/inf, which JSON cannot
hold, become null and are listed under ``non_finite``. Reading names the file and the line or
field of any problem.
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
from pytest_persona.errors import ResultsError
from pytest_persona.results.schema import SCHEMA_VERSION, ResultsDocument
from pytest_persona.results.validate import validate_results


def _finite(obj: Any, path: str = "", found: list[str] | None = None) -> Any:
    """Replace NaN/inf floats (which JSON cannot hold) with None, listing where in ``found``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        if found is not None:
            found.append(f"{path or 'value'}: {obj!r}")
        return None
    if isinstance(obj, Mapping):
        return {k: _finite(v, f"{path}.{k}" if path else str(k), found) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v, f"{path}[{i}]", found) for i, v in enumerate(obj)]
    return obj


def non_finite_paths(d: Any) -> list[str]:
    """Where ``d`` holds NaN/inf: ``["traits.evil.coefficients[3]: inf", ...]``."""
    found: list[str] = []
    _finite(d, "", found)
    return found


def dumps_results(d: Mapping[str, Any], *, strict: bool = True) -> str:
    """Redacted JSON text of ``d``: NaN/inf written as null and listed under ``non_finite``.

    ``strict`` (the default) raises :class:`ResultsError` when the document does not follow the
    schema. ``strict=False`` never raises: the run's own results are written whatever they
    hold, with the schema problem under ``invalid`` (so such a file is refused as a baseline).
    """
    found: list[str] = []
    try:
        clean = redact_obj(_finite(d, "", found))
        if found:
            clean["non_finite"] = found[:200]
        try:
            validate_results(clean)
        except (ResultsError, RecursionError) as exc:
            if strict:
                raise ResultsError(str(exc)) from None
            clean["invalid"] = [
                str(exc) if isinstance(exc, ResultsError) else "nested too deeply to validate"
            ]
        return (
            json.dumps(
                clean,
                indent=2,
                ensure_ascii=False,
                allow_nan=False,
                default=None if strict else repr,
            )
            + "\n"
        )
    except ResultsError:
        raise
    except Exception as exc:  # noqa: BLE001 - only reached when strict=False or a bug
        if strict:
            raise ResultsError(f"results cannot be written as JSON: {exc}") from None
        return (
            json.dumps(
                {
                    "schema_version": SCHEMA_VERSION,
                    "model": {"name": "?"},
                    "traits": {},
                    "expectations": [],
                    "invalid": [
                        redact_secrets(
                            f"results could not be serialised: {type(exc).__name__}: {exc}"
                        )
                    ],
                },
                indent=2,
            )
            + "\n"
        )


def load_results(path: str | os.PathLike[str]) -> ResultsDocument:
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
    except RecursionError:
        raise ResultsError(f"{p}: JSON nested too deeply to be a results file") from None
    try:
        return validate_results(d)
    except ResultsError as e:
        raise ResultsError(f"{p}: {e}") from None
    except RecursionError:
        raise ResultsError(f"{p}: nested too deeply to be a results file") from None


def save_results(
    d: Mapping[str, Any], path: str | os.PathLike[str], *, strict: bool = True
) -> Path:
    """Validate ``d`` and write it atomically (temp file in the same folder + ``os.replace``).

    Strings are redacted of API keys; NaN/inf become null (listed under ``non_finite``). On any
    error the target is untouched and no temp file is left behind. ``strict=False`` writes even
    a document that breaks the schema (see :func:`dumps_results`). Returns the path written.
    """
    p = Path(path)
    text = dumps_results(d, strict=strict)  # validates before anything touches the disk
    write_text(p, text)  # atomic, fsynced, mode from the user's umask
    return p
