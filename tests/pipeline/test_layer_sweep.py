from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.judges import COHERENCE_PROMPT, make_judge
from pytest_persona.models.loading import load_model
from pytest_persona.pipeline.layer_sweep import sweep_layers
from pytest_persona.traits.loader import load_trait
from tests.support.judge_server import JudgeServer

MARK = COHERENCE_PROMPT.split("{question}")[0][:60]


def test_picks_the_highest_scoring_coherent_layer(tmp_path: Path) -> None:
    loaded = load_model("tiny-random-qwen2", device="cpu")
    trait = load_trait("evil")
    vectors = TraitVectors(torch.randn(4, 64, generator=torch.Generator().manual_seed(0)) * 20)
    cache = PersonaCache(tmp_path)
    from pytest_persona.core.generation import GenerationConfig, Steering
    from pytest_persona.pipeline.responses import generate_cached

    cfg = GenerationConfig(max_new_tokens=6)
    qs = list(trait.eval_questions[:3])
    by_layer = {layer: set(generate_cached(loaded, qs, cfg, cache,
                                           steering=Steering(vectors[layer], layer, "response"),
                                           coeffs=[4.0] * 3)) for layer in range(4)}

    def scorer(prompt: str) -> int:
        if MARK in prompt:  # layer 3 answers are "incoherent"
            return 10 if any(a and a in prompt for a in by_layer[3] - by_layer[1]) else 80
        if any(a and a in prompt for a in by_layer[3] - by_layer[1]):
            return 95
        return 70 if any(a and a in prompt for a in by_layer[1] - by_layer[3]) else 20

    with JudgeServer(scorer=scorer) as srv:
        judge = make_judge("openai:m", base_url=srv.base_url, cache_path=cache.judge_path)
        result = sweep_layers(loaded, trait, vectors, judge, [1, 3], 4.0, n_questions=3,
                              config=cfg, cache=cache)
        judge.close()
    scores = {s.layer: s for s in result.scores}
    assert scores[3].trait_mean > scores[1].trait_mean
    assert scores[3].coherence_mean < 50 <= scores[1].coherence_mean
    assert result.best_layer == 1  # the best *coherent* layer
    assert result.to_dict()["best_layer"] == 1
    # each candidate records its dose: |coeff| * ||v_L|| / mean block-L norm on the questions
    from pytest_persona.core.dose import mean_block_norm

    for layer in (1, 3):
        mean, _ = mean_block_norm(loaded.model, loaded.tokenizer, qs, layer)
        want = 4.0 * float(vectors[layer].norm()) / mean
        assert scores[layer].dose is not None
        assert scores[layer].dose == pytest.approx(want, rel=1e-5)
        assert result.to_dict()["scores"][[1, 3].index(layer)]["dose"] == scores[layer].dose
    assert "dose = |coeff|" in result.to_dict()["dose_procedure"]
