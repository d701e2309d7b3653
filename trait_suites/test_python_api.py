"""Trait tests written in Python, with the plugin's fixtures, beside the YAML suites."""

from __future__ import annotations

import pytest
import torch

from pytest_persona.core.generation import GenerationConfig, generate
from pytest_persona.core.projection import cosine


@pytest.mark.trait("sycophantic")
def test_vectors_fit_the_model(persona_model, trait_vectors) -> None:  # type: ignore[no-untyped-def]
    vectors = trait_vectors()
    assert vectors.vectors.shape == (persona_model.n_layers, persona_model.d_model)
    assert vectors.metadata["fingerprint"] == persona_model.fingerprint
    assert all(torch.isfinite(torch.tensor(vectors.norms())))


@pytest.mark.trait("sycophantic")
def test_steering_changes_greedy_output(persona_model, persona_steer, trait_data) -> None:  # type: ignore[no-untyped-def]
    layer = persona_model.n_layers * 2 // 5
    question = trait_data().eval_questions[0]
    cfg = GenerationConfig(max_new_tokens=24)
    plain = generate(persona_model.model, persona_model.tokenizer, [question], cfg)
    with persona_steer(coeff=8.0, layer=layer):
        steered = generate(persona_model.model, persona_model.tokenizer, [question], cfg)
    assert steered != plain


def test_traits_are_distinct_directions(persona_model, trait_vectors) -> None:  # type: ignore[no-untyped-def]
    layer = persona_model.n_layers * 2 // 5
    syc, evil = trait_vectors("sycophantic"), trait_vectors("evil")
    assert cosine(syc[layer], evil[layer]) < 0.95
