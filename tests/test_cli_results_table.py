"""#24 finding 5: ``persona results export --table`` (was ``--kind``, the word of expectation
kinds) names the pandas table; the old flag still works, with a message on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_persona.cli import main, parser
from pytest_persona.results.document import save_results
from tests.report.synthetic import make_results

OLD_FLAG = "--kind is now --table"


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    return save_results(make_results(("evil",)), tmp_path / "persona-results.json")


@pytest.mark.parametrize("table", ["expectations", "sweep"])
def test_old_flag_writes_the_same_table_as_the_new_one(
    saved: Path, tmp_path: Path, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    new, old = tmp_path / "new.csv", tmp_path / "old.csv"
    assert main(["results", "export", str(saved), "--table", table, "--csv", str(new)]) == 0
    first = capsys.readouterr()
    assert f"{table} written to" in first.out and OLD_FLAG not in first.err
    assert main(["results", "export", str(saved), "--kind", table, "--csv", str(old)]) == 0
    assert OLD_FLAG in capsys.readouterr().err
    assert old.read_bytes() == new.read_bytes()


def test_the_default_table_is_responses(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["results", "export", str(saved), "--csv", str(tmp_path / "r.csv")]) == 0
    captured = capsys.readouterr()
    assert "responses written to" in captured.out and OLD_FLAG not in captured.err


def test_disagreeing_flags_are_a_usage_error(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["results", "export", str(saved), "--table", "sweep", "--kind", "expectations"]
    assert main([*args, "--csv", str(tmp_path / "x.csv")]) == 2
    assert "--table sweep and --kind expectations disagree" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_help_shows_table_and_hides_the_old_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["results", "export", "--help"])
    text = capsys.readouterr().out
    assert "--table {responses,expectations,sweep}" in text and "--kind" not in text
