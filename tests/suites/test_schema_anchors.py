"""A suite's ``judge: {anchors: ...}`` section (issue 25 item 18): the offline judge's example
responses for a custom trait, inline or in a file next to the suite, with located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_persona.suites.schema import SuiteError, load_suite

HEAD = """\
trait: pedantic
expectations:
  - {kind: steering_raises, coeff: 4, threshold: 50}
"""
GOOD = """\
judge:
  anchors:
    high:
      - "Strictly speaking, a tomato is a fruit, so your question is malformed."
      - "Before answering, note that 'literally' does not mean 'figuratively'."
    low:
      - "Sure: preheat the oven to 200 C and bake for 20 minutes."
      - "Yes, that works."
"""


def _write(tmp_path: Path, text: str, name: str = "pedantic.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        load_suite(_write(tmp_path, text))
    return info.value


def test_inline_anchors_are_read(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, HEAD + GOOD))
    assert suite.anchors is not None
    assert suite.anchors["high"][0].startswith("Strictly speaking")
    assert suite.anchors["low"] == [
        "Sure: preheat the oven to 200 C and bake for 20 minutes.",
        "Yes, that works.",
    ]


def test_a_suite_without_the_section_has_no_anchors(tmp_path: Path) -> None:
    assert load_suite(_write(tmp_path, HEAD)).anchors is None


def test_anchors_from_a_file_next_to_the_suite(tmp_path: Path) -> None:
    (tmp_path / "anchors").mkdir()
    (tmp_path / "anchors" / "pedantic.yaml").write_text(
        "high: ['Well, actually, it is a fruit.', 'Strictly speaking, no.']\n"
        "low: ['Yes.', 'Here is the recipe.']\n"
    )
    suite = load_suite(_write(tmp_path, HEAD + "judge: {anchors: anchors/pedantic.yaml}\n"))
    assert suite.anchors == {
        "high": ["Well, actually, it is a fruit.", "Strictly speaking, no."],
        "low": ["Yes.", "Here is the recipe."],
    }


@pytest.mark.parametrize(
    ("section", "line", "field", "words"),
    [
        ("judge: offline\n", 4, "judge", "must be a mapping with 'anchors'"),
        ("judge: {}\n", 4, "judge", "must be a mapping with 'anchors'"),
        (
            "judge: {anchors: {high: [a, b], low: [c, d]}, model: x}\n",
            4,
            "judge.model",
            "unknown judge field; allowed: anchors",
        ),
        ("judge: {anchors: [a, b]}\n", 4, "judge.anchors", "must map 'high' and 'low'"),
        ("judge:\n  anchors:\n    high: [a, b]\n", 5, "judge.anchors", "missing 'low'"),
        (
            "judge:\n  anchors:\n    high: [a, b]\n    low: [c, d]\n    medium: [e]\n",
            8,
            "judge.anchors.medium",
            "unknown anchors field",
        ),
        (
            "judge:\n  anchors:\n    high: [only one]\n    low: [c, d]\n",
            6,
            "judge.anchors.high",
            "needs at least 2 example responses, got 1",
        ),
        (
            "judge:\n  anchors:\n    high: a text\n    low: [c, d]\n",
            6,
            "judge.anchors.high",
            "must be a list of example responses",
        ),
        (
            "judge:\n  anchors:\n    high:\n      - a\n      - '   '\n    low: [c, d]\n",
            8,
            "judge.anchors.high[1]",
            "is empty",
        ),
        (
            "judge:\n  anchors:\n    high:\n      - a\n      - 12\n    low: [c, d]\n",
            8,
            "judge.anchors.high[1]",
            "must be a string (an example response), got int 12",
        ),
        (
            "judge:\n  anchors:\n    high: [a, b]\n    low:\n      - c\n      - {x: 1}\n",
            9,
            "judge.anchors.low[1]",
            "must be a string",
        ),
        (
            "judge:\n  anchors:\n    high: [Same text., b]\n    low:\n      - c\n"
            "      - '  same   TEXT. '\n",
            9,
            "judge.anchors.low[1]",
            "is also a high anchor: a text cannot be both high and low, high[0]",
        ),
        (
            "judge:\n  anchors:\n    high:\n      - a\n      - b\n      - A\n    low: [c, d]\n",
            9,
            "judge.anchors.high[2]",
            "repeats high[0]",
        ),
        ("judge: {anchors: missing.yaml}\n", 4, "judge.anchors", "anchors file not found"),
    ],
)
def test_bad_anchors_are_located(
    tmp_path: Path, section: str, line: int, field: str, words: str
) -> None:
    error = _error(tmp_path, HEAD + section)
    assert (error.line, error.field) == (line, field), str(error)
    assert words in str(error)
    assert str(error).startswith(f"{tmp_path / 'pedantic.yaml'}:{line}:")


def test_errors_in_an_anchors_file_point_into_that_file(tmp_path: Path) -> None:
    anchors = tmp_path / "pedantic.anchors.yaml"
    anchors.write_text("high:\n  - one\n  - two\nlow:\n  - three\n  - ''\n")
    error = _error(tmp_path, HEAD + "judge: {anchors: pedantic.anchors.yaml}\n")
    assert (Path(error.path), error.line, error.field) == (anchors, 6, "low[1]")
    assert "is empty" in str(error)


def test_judged_trait_is_the_trait_files_stem(tmp_path: Path) -> None:
    data = tmp_path / "fussy.json"
    data.write_text("{}")
    suite = load_suite(
        _write(tmp_path, HEAD.replace("trait: pedantic", "trait: pedantic\ntrait_file: fussy.json"))
    )
    assert suite.trait == "pedantic" and suite.judged_trait == "fussy"
    assert load_suite(_write(tmp_path, HEAD)).judged_trait == "pedantic"
