"""Comparison notes on numerics that change texts independently of the weights."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_persona.report.compare import compare_results, precision_notes


def _results(device: str, dtype: str, fingerprint: str = "fp") -> dict[str, Any]:
    return {"schema_version": 2, "model": {"name": "m", "fingerprint": fingerprint,
                                           "device": device, "dtype": dtype},
            "traits": {"evil": {"metrics": {"baseline_score": 10.0}}}}


@pytest.mark.parametrize(("cur", "base", "expected"), [
    (("cpu", "float32"), ("cpu", "float32"), []),
    (("cpu", "bfloat16"), ("cpu", "bfloat16"), []),  # no accelerator: not the measured case
    (("cuda:0", "float32"), ("cuda", "float32"), []),  # device index is not a difference
    (("cuda", "bfloat16"), ("cuda", "bfloat16"), ["current and baseline generated"]),
    (("cuda", "float16"), ("cuda", "float32"), ["current generated", "dtype/device differ"]),
    (("cpu", "float32"), ("cuda", "bfloat16"), ["baseline generated", "dtype/device differ"]),
])
def test_precision_notes(cur: tuple[str, str], base: tuple[str, str],
                         expected: list[str]) -> None:
    notes = precision_notes({"device": cur[0], "dtype": cur[1]},
                            {"device": base[0], "dtype": base[1]})
    assert len(notes) == len(expected)
    for note, start in zip(notes, expected):
        assert note.startswith(start), note
    if expected and "generated" in expected[0]:
        assert "--persona-dtype float32" in notes[0] and "persona cache export" in notes[0]


def test_missing_fields_give_no_difference_note() -> None:
    assert precision_notes({"name": "m"}, {"device": "cpu", "dtype": "float32"}) == []


def test_compare_results_carries_the_note() -> None:
    comp = compare_results(_results("cuda", "bfloat16"), _results("cuda", "bfloat16"),
                           ["evil.baseline_score:+5@mean"])
    assert any("reduced precision" in n for n in comp.notes)
    plain = compare_results(_results("cpu", "float32"), _results("cpu", "float32"),
                            ["evil.baseline_score:+5@mean"])
    assert not any("reduced precision" in n or "differ" in n for n in plain.notes)
