"""The anchors examples of the docs work as written (issue 25 item 18): the how-to's suite and
the schema page's section load, the error the how-to quotes is the one given, and the inline
anchors are the first of the measured anchors file, whose labelled set is held out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_persona.suites.schema import SuiteError, load_suite, read_anchors_file

ROOT = Path(__file__).resolve().parents[2]
HOWTO = ROOT / "docs" / "how-to" / "writing-suites.md"
SCHEMA = ROOT / "docs" / "reference" / "suite-schema.md"
DATA = ROOT / "benchmarks" / "data" / "offline_anchors"


def _yaml_block(page: Path, needle: str) -> str:
    blocks: list[str] = re.findall(r"```yaml\n(.*?)```", page.read_text(), flags=re.S)
    return next(b for b in blocks if needle in b)


def test_the_how_to_suite_with_anchors_loads(tmp_path: Path) -> None:
    path = tmp_path / "pedantic.yaml"
    path.write_text(_yaml_block(HOWTO, "anchors:"))
    suite = load_suite(path)
    measured = read_anchors_file(DATA / "pedantic.anchors.yaml")
    assert suite.anchors == {"high": measured["high"][:4], "low": measured["low"][:4]}


def test_the_error_the_how_to_quotes_is_the_one_given(tmp_path: Path) -> None:
    text = _yaml_block(HOWTO, "anchors:")
    lines = text.splitlines()
    low_1 = next(i for i, line in enumerate(lines) if "Water boils" in line)
    lines[low_1] = lines[low_1 - 5].replace("'less calories'", "'LESS calories'")  # a high text
    path = tmp_path / "pedantic.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    quoted = re.search(
        r"`(pedantic\.yaml:14: field 'judge\.anchors\.low\[1\]': [^`.]*)", HOWTO.read_text()
    )
    assert quoted is not None
    assert f"{tmp_path}/{quoted.group(1).rstrip('. ')}" in str(info.value)


def test_the_schema_page_section_loads(tmp_path: Path) -> None:
    path = tmp_path / "pedantic.yaml"
    path.write_text(
        "trait: pedantic\nexpectations:\n  - {kind: baseline_ceiling, max: 30}\n"
        + _yaml_block(SCHEMA, "anchors:")
    )
    suite = load_suite(path)
    assert suite.anchors is not None and len(suite.anchors["high"]) == 2


def test_the_measured_labelled_set_is_held_out_from_the_anchors() -> None:
    anchors = read_anchors_file(DATA / "pedantic.anchors.yaml")
    anchor_texts = {" ".join(t.split()).casefold() for t in anchors["high"] + anchors["low"]}
    rows = [json.loads(line) for line in (DATA / "pedantic.labels.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and sum(r["label"] for r in rows) == 20
    assert not anchor_texts & {" ".join(r["answer"].split()).casefold() for r in rows}
