"""precision_notes reads the engine's batch-invariance self-check: a side whose check passed
gets no 'texts depend on batch-mates' warning, and says why instead."""

from __future__ import annotations

from typing import Any

from pytest_persona.results.compare import batch_invariant, precision_notes


def _model(check: dict[str, Any] | None) -> dict[str, Any]:
    engine = {"name": "vllm", "version": "0.32.0", "batch_invariance": check}
    return {"name": "m", "dtype": "bfloat16", "device": "cuda:0", "engine": engine}


PASSED = {"equal": True, "batch": 8, "tokens": 16, "detail": "tokens and logprobs bitwise equal"}
FAILED = {"equal": False, "batch": 8, "tokens": 16, "detail": "tokens differ"}


def test_passed_check_replaces_the_bf16_warning() -> None:
    notes = precision_notes(_model(PASSED), _model(PASSED))
    assert not any("depends on which rows share its batch" in n for n in notes)
    assert sum("self-check passed" in n for n in notes) == 2
    assert "batch 1 vs 8, 16 greedy tokens" in notes[0]


def test_failed_or_missing_check_keeps_the_warning() -> None:
    for check in (FAILED, None):
        notes = precision_notes(_model(check), _model(PASSED))
        assert any(n.startswith("current generated in reduced precision") for n in notes)


def test_batch_invariant_needs_a_literal_true() -> None:
    assert batch_invariant(_model(PASSED))
    assert not batch_invariant(_model({"equal": "yes"}))
    assert not batch_invariant({"name": "m", "engine": "vllm"})
    assert not batch_invariant({"name": "m"})
