"""Projections of response activations, cached: a warm run needs no forward pass for them."""

from __future__ import annotations

import json
from typing import Any

import torch

from pytest_persona._util.atomic import write_text
from pytest_persona.cache.keys import ProjectionKey
from pytest_persona.cache.store import PersonaCache, stable_hash
from pytest_persona.core.activations import collect_activations
from pytest_persona.core.projection import project
from pytest_persona.models.loading import cache_identity


def projections(loaded: Any, prompts: list[Any], answers: list[str], vector: torch.Tensor,
                layer: int, cache: PersonaCache | None, batch_size: int = 16) -> list[float]:
    """``a . v / |v|`` of response-averaged block-``layer`` outputs, one per (prompt, answer)."""
    vec_hash = stable_hash(vector.detach().float().cpu().numpy().tobytes().hex(), 32)
    key = ProjectionKey(model=cache_identity(loaded), prompts=prompts, answers=answers,
                        vector=vec_hash, layer=layer, kind="response_avg").digest()
    path = cache.root / "projections" / f"{key}.json" if cache is not None else None
    if path is not None and not cache.refresh and path.exists():  # type: ignore[union-attr]
        try:
            values = json.loads(path.read_text())["values"]
            if isinstance(values, list) and len(values) == len(answers):
                return [float(v) for v in values]
        except (OSError, ValueError, KeyError):
            pass  # corrupted: recompute
    acts = collect_activations(loaded.model, loaded.tokenizer, prompts, answers,
                               batch_size=batch_size)
    values = project(acts.response_avg[:, layer], vector).tolist()
    if path is not None:
        write_text(path, json.dumps({"values": values}))
    return values
