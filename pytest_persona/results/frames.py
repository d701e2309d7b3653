"""A results JSON as tidy pandas DataFrames, for notebooks and dashboards.

    >>> from pytest_persona import results
    >>> res = results.load("reports/persona-results.json")
    >>> res.to_frame("responses")      # one row per response the file keeps (sweep examples)
    >>> res.to_frame("expectations")   # one row per expectation (pytest item)
    >>> res.to_frame("sweep")          # one row per (trait, coefficient): n, mean, interval

The three tables are named by ``table=`` (``kind=`` before: it still works, with a warning, for
one release). Every frame starts with the run's ``model``, ``model_fingerprint``, ``judge`` and ``created``
columns, so frames of several runs concatenate into one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_persona._util.deprecated import module_alias, renamed_keyword
from pytest_persona.errors import ParquetUnavailable as ParquetUnavailable
from pytest_persona.results.io import load_results

if TYPE_CHECKING:
    import pandas as pd

TABLES = ("responses", "expectations", "sweep")

if TYPE_CHECKING:
    KINDS = TABLES  # deprecated alias (at runtime the module __getattr__ below warns)
else:

    def __getattr__(name: str) -> Any:
        return module_alias(__name__, name, {"KINDS": "TABLES"})


RUN_COLUMNS = ["model", "model_fingerprint", "judge", "created"]
RESPONSE_COLUMNS = [
    *RUN_COLUMNS,
    "trait",
    "layer",
    "coeff",
    "question",
    "answer",
    "score",
    "coherence",
]
EXPECTATION_COLUMNS = [
    *RUN_COLUMNS,
    "nodeid",
    "suite",
    "trait",
    "kind",
    "name",
    "outcome",
    "message",
    "duration_s",
]
SWEEP_COLUMNS = [
    *RUN_COLUMNS,
    "trait",
    "layer",
    "coeff",
    "n",
    "mean",
    "ci_low",
    "ci_high",
    "missing",
    "coherence_mean",
    "coherence_ci_low",
    "coherence_ci_high",
]


def _interval(value: Any) -> tuple[Any, Any]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return value[0], value[1]
    return None, None


@dataclass(frozen=True)
class Results:
    """A loaded, validated results file."""

    data: Mapping[str, Any]
    path: Path | None = None

    def _run(self) -> dict[str, Any]:
        model = self.data.get("model") or {}
        judge = self.data.get("judge") or {}
        return {
            "model": model.get("name"),
            "model_fingerprint": model.get("fingerprint"),
            "judge": judge.get("id"),
            "created": self.data.get("created"),
        }

    def _traits(self) -> list[tuple[str, Mapping[str, Any]]]:
        return sorted((self.data.get("traits") or {}).items())

    def response_rows(self) -> list[dict[str, Any]]:
        """One dict per response kept in the file (the examples of each sweep point)."""
        run = self._run()
        rows = []
        for trait, t in self._traits():
            for point in t.get("sweep") or []:
                for ex in point.get("examples") or []:
                    rows.append(
                        {
                            **run,
                            "trait": trait,
                            "layer": t.get("layer"),
                            "coeff": point.get("coeff"),
                            "question": ex.get("question"),
                            "answer": ex.get("answer"),
                            "score": ex.get("score"),
                            "coherence": ex.get("coherence"),
                        }
                    )
        return rows

    def expectation_rows(self) -> list[dict[str, Any]]:
        """One dict per expectation; each of its figures becomes a column (``figure_`` prefix
        only where a figure's name clashes with a fixed column)."""
        run = self._run()
        rows = []
        for e in self.data.get("expectations") or []:
            row = {**run, **{c: e.get(c) for c in EXPECTATION_COLUMNS[len(RUN_COLUMNS) :]}}
            for key, value in (e.get("figures") or {}).items():
                row[f"figure_{key}" if key in EXPECTATION_COLUMNS else key] = value
            rows.append(row)
        return rows

    def sweep_rows(self) -> list[dict[str, Any]]:
        """One dict per (trait, coefficient) of the steering sweep."""
        run = self._run()
        rows = []
        for trait, t in self._traits():
            for point in t.get("sweep") or []:
                lo, hi = _interval(point.get("ci"))
                clo, chi = _interval(point.get("coherence_ci"))
                rows.append(
                    {
                        **run,
                        "trait": trait,
                        "layer": t.get("layer"),
                        "coeff": point.get("coeff"),
                        "n": point.get("n"),
                        "mean": point.get("mean"),
                        "ci_low": lo,
                        "ci_high": hi,
                        "missing": point.get("missing"),
                        "coherence_mean": point.get("coherence_mean"),
                        "coherence_ci_low": clo,
                        "coherence_ci_high": chi,
                    }
                )
        return rows

    @renamed_keyword("kind", "table")
    def to_frame(self, table: str = "responses") -> pd.DataFrame:
        """A tidy DataFrame: ``table`` is "responses", "expectations" or "sweep"."""
        import pandas as pd

        if table == "responses":
            rows, columns = self.response_rows(), RESPONSE_COLUMNS
        elif table == "expectations":
            rows, columns = self.expectation_rows(), EXPECTATION_COLUMNS
        elif table == "sweep":
            rows, columns = self.sweep_rows(), SWEEP_COLUMNS
        else:
            raise ValueError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
        extra = [c for r in rows for c in r if c not in columns]
        # pandas-stubs types this constructor call as Any; the annotation pins it
        frame: pd.DataFrame = pd.DataFrame(rows, columns=list(dict.fromkeys([*columns, *extra])))
        return frame


def load(path: str | Path) -> Results:
    """Load and validate a results JSON (``ResultsError`` names the bad field)."""
    return Results(load_results(path), Path(path))


@renamed_keyword("kind", "table")
def export(
    results: Results,
    table: str,
    *,
    csv: str | Path | None = None,
    parquet: str | Path | None = None,
) -> Path:
    """Write one frame as CSV or Parquet (atomically); Parquet needs ``pyarrow``."""
    from pytest_persona._util.atomic import write_with

    if (csv is None) == (parquet is None):
        raise ValueError("give exactly one of csv or parquet")
    frame = results.to_frame(table)
    if csv is not None:
        write_with(csv, lambda tmp: frame.to_csv(tmp, index=False))
        return Path(csv)
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ParquetUnavailable(
            "--parquet needs the optional 'pyarrow' package: "
            "pip install 'pytest-persona[parquet]' (or use --csv)"
        ) from exc
    assert parquet is not None
    write_with(parquet, lambda tmp: frame.to_parquet(tmp, index=False))
    return Path(parquet)
