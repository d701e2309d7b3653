"""The coeff-0 identity check (steering with coefficient 0 changes nothing), cached.

Its outcome is a property of the model, the vector, the prompts, the steering code and the
torch and transformers versions, so it is cached under exactly those (:class:`IdentityCheckKey`)
and replayed on a warm run, which then needs neither the weights nor torch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path
from typing import Any

from pytest_persona.cache.keys import IdentityCheckKey
from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.arrays import Vector, vector_sha256
from pytest_persona.core.requests import as_messages
from pytest_persona.models.loading import cache_identity

RECORDS = "checks"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _steering_code_sha() -> str:
    spec = importlib.util.find_spec("pytest_persona.core.steering")
    origin = spec.origin if spec is not None else None
    if not origin:
        return "unknown"
    return hashlib.sha256(Path(origin).read_bytes()).hexdigest()[:32]


def identity_check_key(loaded: Any, vector: Vector, layer: int, positions: str,
                       prompts: list[str], max_new_tokens: int) -> str:
    """The cache key of one identity check (no torch import)."""
    return IdentityCheckKey(
        model=cache_identity(loaded), vector=vector_sha256(vector)[:32], layer=layer,
        positions=positions, prompts=list(prompts), max_new_tokens=max_new_tokens,
        torch=_version("torch"), transformers=_version("transformers"),
        steering_code=_steering_code_sha()).digest()


def coeff_zero_identity(loaded: Any, vector: Vector, layer: int, positions: str,
                        prompts: list[str], max_new_tokens: int,
                        cache: PersonaCache | None) -> dict[str, Any]:
    """Hidden states, logits and greedy tokens with the steerer at coefficient 0 vs without.

    Returns ``hidden_equal``, ``logits_equal``, ``tokens_equal``, ``max_abs_diff``, ``n`` and
    ``hidden_points``; read from the cache when this exact check ran before.
    """
    key = identity_check_key(loaded, vector, layer, positions, prompts, max_new_tokens)
    if cache is not None:
        found = cache.load_record(RECORDS, key)
        if found is not None and isinstance(found.get("result"), dict):
            return dict(found["result"])
    result = _run(loaded, vector, layer, positions, prompts, max_new_tokens)
    if cache is not None:
        cache.save_record(RECORDS, key, {"result": result})
    return result


def _run(loaded: Any, vector: Vector, layer: int, positions: str, prompts: list[str],
         max_new_tokens: int) -> dict[str, Any]:
    import torch

    from pytest_persona.core.arrays import to_tensor
    from pytest_persona.core.generation import chat_prompt, ensure_pad_token
    from pytest_persona.core.steering import ActivationSteerer

    model, tok = loaded.model, loaded.tokenizer
    ensure_pad_token(tok)
    vec = to_tensor(vector)
    texts = [chat_prompt(tok, as_messages(q)) for q in prompts]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    enc = {k: v.to(next(model.parameters()).device) for k, v in enc.items()}
    pos = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    zeros = [0.0] * len(prompts)
    with torch.inference_mode():
        plain = model(**enc, position_ids=pos, output_hidden_states=True)
        with ActivationSteerer(model, vec, zeros, layer, positions):  # type: ignore[arg-type]
            steered = model(**enc, position_ids=pos, output_hidden_states=True)
    layers_equal = all(torch.equal(a, b) for a, b in zip(plain.hidden_states,
                                                         steered.hidden_states))
    max_diff = max(float((a - b).abs().max()) for a, b in zip(plain.hidden_states,
                                                              steered.hidden_states))
    logits_equal = torch.equal(plain.logits, steered.logits)
    gen = {"max_new_tokens": max_new_tokens, "do_sample": False,
           "pad_token_id": tok.pad_token_id}
    with torch.inference_mode():
        base_tokens = model.generate(**enc, **gen)
        with ActivationSteerer(model, vec, zeros, layer, positions):  # type: ignore[arg-type]
            zero_tokens = model.generate(**enc, **gen)
    return {"hidden_equal": layers_equal, "logits_equal": logits_equal,
            "tokens_equal": torch.equal(base_tokens, zero_tokens), "max_abs_diff": max_diff,
            "n": len(prompts), "hidden_points": len(plain.hidden_states)}
