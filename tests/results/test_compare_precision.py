"""Comparison notes on numerics that change texts independently of the weights."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_persona.results.compare import compare_results, precision_notes


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


def test_note_texts_exactly() -> None:
    low = {"device": "cuda", "dtype": "bfloat16"}
    assert precision_notes(low, {"device": "cuda:1", "dtype": "bfloat16"}) == [
        "current and baseline generated in reduced precision on an accelerator, where a text "
        "depends on which rows share its batch (bfloat16 on an H100: 5 of 40 greedy rows equal "
        "between one batch of 40 and batches of 8): fill both caches on one host (persona cache "
        "export/import) or run with --persona-dtype float32"]
    assert precision_notes({"device": "cpu", "dtype": "float32"},
                           {"device": "mps", "dtype": "float32"}) == [
        "dtype/device differ (baseline float32 on mps, current float32 on cpu): numerics alone "
        "change generated texts and projections"]


@pytest.mark.parametrize("partial", [{"dtype": "bfloat16"}, {"dtype": "bfloat16", "device": ""},
                                     {"dtype": "bfloat16", "device": None}])
def test_no_device_means_no_accelerator_note(partial: dict[str, Any]) -> None:
    # an unknown device is not claimed to be an accelerator, and is no difference either
    assert precision_notes(partial, partial) == []
    assert precision_notes(partial, {"device": "cuda", "dtype": "float32"}) == []


@pytest.mark.parametrize("partial", [{"device": "cuda"}, {"device": "cuda", "dtype": ""},
                                     {"device": "cuda", "dtype": None}])
def test_no_dtype_means_no_difference_note(partial: dict[str, Any]) -> None:
    assert precision_notes(partial, {"device": "cpu", "dtype": "float32"}) == []
    assert precision_notes({"device": "cpu", "dtype": "float32"}, partial) == []
