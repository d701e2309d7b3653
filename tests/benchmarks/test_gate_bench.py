"""The gate bench on a tiny model: its shortcut forward equals the library's measure, and the
rates it reports come from real gate decisions."""

from __future__ import annotations

import pytest
import torch

from benchmarks.gate import _perturb, _prompt_last, bench_gate
from pytest_persona.core.activations import collect_activations
from pytest_persona.models.loading import load_model


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny-random-llama", device="cpu")


def test_early_exit_prompt_last_equals_collect_activations(tiny):
    prompts = ["hello there", "a much longer question about something else entirely?"]
    acts = collect_activations(tiny.model, tiny.tokenizer, prompts, ["", ""])
    assert torch.equal(_prompt_last(tiny, prompts, 2), acts.prompt_last[:, 2])


def test_perturbation_is_restored_and_limited_to_upstream_blocks(tiny):
    originals = {k: p.detach().clone() for k, p in tiny.model.named_parameters()}
    _perturb(tiny.model, originals, 0.1, seed=1, layer=1)
    changed = {k for k, p in tiny.model.named_parameters() if not torch.equal(p, originals[k])}
    assert changed and all(".layers.0." in k or ".layers.1." in k or "embed" in k
                           for k in changed)
    _perturb(tiny.model, originals, 0.0, seed=0)
    assert all(torch.equal(p, originals[k]) for k, p in tiny.model.named_parameters())


def test_rates_come_from_gate_decisions(tiny):
    metrics, details = bench_gate(tiny, nulls=3, repeats=2, n_questions=6, noise=0.001,
                                  strengths=(0.0001, 50.0), layer=1, max_shift=0.5)
    assert metrics["gate_false_alarm_rate"] == 0.0
    by = details["detection_by_strength"]
    assert by["+50"]["detection_rate"] == 1.0 and by["+0.0001"]["detection_rate"] == 0.0
    assert metrics["gate_detection_rate"] == 1.0  # the strongest when +4 is not measured
    assert details["strength_caught_80pct"] == 50.0
    assert details["min_detectable_shift"] == by["+50"]["mean_shift"]
    assert by["+50"]["mean_shift"] == pytest.approx(50.0 * details["vector_norm"], rel=0.05)
