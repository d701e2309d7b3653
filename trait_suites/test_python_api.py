"""Trait tests written in Python, with the plugin's fixtures, beside the YAML suites.

Generation goes through the run's response cache (``generate_cached``), so a warm rerun of
these tests, like the YAML suites, loads no weights and imports no torch.
"""

from __future__ import annotations

import math

import pytest

from pytest_persona.core.projection import cosine
from pytest_persona.core.requests import GenerationConfig, Steering
from pytest_persona.pipeline.responses import generate_cached


@pytest.mark.trait("sycophantic")
def test_vectors_fit_the_model(persona_model, trait_vectors) -> None:  # type: ignore[no-untyped-def]
    vectors = trait_vectors()
    assert vectors.array().shape == (persona_model.n_layers, persona_model.d_model)
    assert vectors.metadata["fingerprint"] == persona_model.fingerprint
    assert all(math.isfinite(n) for n in vectors.norms())


@pytest.mark.trait("sycophantic")
def test_steering_changes_greedy_output(persona_session, persona_model, trait_vectors,  # type: ignore[no-untyped-def]
                                        trait_data) -> None:
    layer = persona_model.n_layers * 2 // 5
    question = trait_data().eval_questions[0]
    steering = Steering(trait_vectors().array(layer), layer, "response")
    plain, steered = generate_cached(persona_model, [question, question],
                                     GenerationConfig(max_new_tokens=24), persona_session.cache,
                                     steering=steering, coeffs=[0.0, 8.0])
    assert steered != plain


def test_traits_are_distinct_directions(persona_model, trait_vectors) -> None:  # type: ignore[no-untyped-def]
    layer = persona_model.n_layers * 2 // 5
    syc, evil = trait_vectors("sycophantic"), trait_vectors("evil")
    assert cosine(syc.array(layer), evil.array(layer)) < 0.95
