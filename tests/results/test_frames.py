"""Results as tidy DataFrames, and ``persona results export``."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pytest_persona.cli import main
from pytest_persona.results import frames as results
from pytest_persona.results.document import ResultsError, save_results
from tests.report.synthetic import make_results


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    data = make_results(("sycophantic", "evil"))
    path = save_results(data, tmp_path / "persona-results.json")
    return path, data


def test_responses_frame_has_one_row_per_response(saved: tuple[Path, dict[str, Any]]) -> None:
    path, data = saved
    frame = results.load(path).to_frame()
    n = sum(len(p["examples"]) for t in data["traits"].values() for p in t["sweep"])
    assert len(frame) == n > 0
    assert list(frame.columns) == results.RESPONSE_COLUMNS
    assert set(frame["trait"]) == {"sycophantic", "evil"}
    assert (frame["model"] == "smollm2-135m").all() and frame["judge"].nunique() == 1
    first = data["traits"]["evil"]["sweep"][0]
    row = frame[(frame.trait == "evil") & (frame.coeff == first["coeff"])].iloc[0]
    assert row["question"] == first["examples"][0]["question"]
    assert row["score"] == pytest.approx(first["examples"][0]["score"])
    # tidy: a groupby answers questions directly
    means = frame.groupby(["trait", "coeff"])["score"].mean()
    assert means.index.nlevels == 2 and means.notna().all()


def test_expectations_frame(saved: tuple[Path, dict[str, Any]]) -> None:
    path, data = saved
    frame = results.load(path).to_frame("expectations")
    assert len(frame) == len(data["expectations"])
    assert list(frame.columns[:len(results.EXPECTATION_COLUMNS)]) == results.EXPECTATION_COLUMNS
    assert list(frame["nodeid"]) == [e["nodeid"] for e in data["expectations"]]
    assert {"mean", "ci_low", "ci_high", "threshold"} <= set(frame.columns)
    assert set(frame["outcome"]) <= {"passed", "failed", "xfailed", "xpassed", "skipped", "error"}


def test_sweep_frame_and_empty_and_unknown_table(saved: tuple[Path, dict[str, Any]],
                                               tmp_path: Path) -> None:
    path, data = saved
    sweep = results.load(path).to_frame("sweep")
    assert len(sweep) == sum(len(t["sweep"]) for t in data["traits"].values())
    assert (sweep["ci_low"] <= sweep["mean"]).all() and (sweep["mean"] <= sweep["ci_high"]).all()
    empty = dict(data, traits={}, expectations=[], cosine=None)
    e = results.Results(empty)
    assert e.to_frame().empty and list(e.to_frame().columns) == results.RESPONSE_COLUMNS
    with pytest.raises(ValueError, match="unknown table 'rows'; choose one of responses"):
        e.to_frame("rows")
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1}')
    with pytest.raises(ResultsError):
        results.load(bad)


def test_export_csv_and_parquet(saved: tuple[Path, dict[str, Any]], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = saved
    out = tmp_path / "r.csv"
    assert main(["results", "export", str(path), "--csv", str(out)]) == 0
    back = pd.read_csv(out)
    assert len(back) == len(results.load(path).to_frame()) and "answer" in back.columns
    assert main(["results", "export", str(path), "--kind", "expectations", "--csv",
                 str(tmp_path / "e.csv")]) == 0
    assert "nodeid" in pd.read_csv(tmp_path / "e.csv").columns
    pytest.importorskip("pyarrow")
    pq = tmp_path / "r.parquet"
    assert main(["results", "export", str(path), "--parquet", str(pq)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(pq), results.load(path).to_frame(),
                                  check_dtype=False)


def test_parquet_without_pyarrow_is_a_clear_error(saved: tuple[Path, dict[str, Any]],
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    real_import = builtins.__import__

    def no_pyarrow(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    path, _ = saved
    assert main(["results", "export", str(path), "--parquet", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'pytest-persona[parquet]'" in err
    assert not (tmp_path / "x.parquet").exists()


def test_kind_keyword_is_a_deprecated_alias_of_table(saved: tuple[Path, dict[str, Any]],
                                                     tmp_path: Path) -> None:
    path, _ = saved
    res = results.load(path)
    with pytest.warns(DeprecationWarning, match=r"to_frame\(kind=\) is now table="):
        old = res.to_frame(kind="sweep")  # type: ignore[call-arg]
    pd.testing.assert_frame_equal(old, res.to_frame(table="sweep"))
    with pytest.raises(TypeError, match="both kind= and its new name table="):
        res.to_frame(kind="sweep", table="sweep")  # type: ignore[call-arg]
    out = tmp_path / "s.csv"
    with pytest.warns(DeprecationWarning, match=r"export\(kind=\) is now table="):
        results.export(res, kind="sweep", csv=out)  # type: ignore[call-arg]
    assert len(pd.read_csv(out)) == len(old)
    with pytest.warns(DeprecationWarning, match=r"frames\.KINDS is now .*frames\.TABLES"):
        assert results.KINDS == results.TABLES == ("responses", "expectations", "sweep")
    import pytest_persona.results as package

    with pytest.warns(DeprecationWarning, match=r"results\.KINDS is now .*results\.TABLES"):
        assert package.KINDS is package.TABLES


def test_export_needs_exactly_one_format(saved: tuple[Path, dict[str, Any]]) -> None:
    path, _ = saved
    with pytest.raises(SystemExit):
        main(["results", "export", str(path)])
    with pytest.raises(ValueError, match="exactly one"):
        results.export(results.load(path), "responses")
