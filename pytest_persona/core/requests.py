"""What a generation request is, without torch: messages, sampling parameters, the steering
fields of a key, and the cache key of one response. ``core.generation`` re-exports these; a
fully cached run reads responses through them without importing torch."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from pytest_persona.core.arrays import Vector, vector_sha256

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling parameters. ``temperature == 0`` means greedy decoding."""

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    batch_size: int | None = None  # None: automatic

    #: fields that change outputs; batch size does not (per-row seeds), so it is not one
    KEY_FIELDS = ("max_new_tokens", "temperature", "top_p", "seed")

    def key(self) -> dict[str, Any]:
        """The fields that change outputs."""
        data = asdict(self)
        return {name: data[name] for name in self.KEY_FIELDS}


@dataclass(frozen=True)
class Steering:
    """Which vector to add where; the coefficient is given per row at generation time.

    ``vector`` is a torch tensor or a numpy array: its key hashes the float32 bytes, which are
    the same either way.
    """

    vector: Vector
    layer: int
    positions: str = "response"

    KEY_FIELDS = ("vector", "layer", "positions")

    def key(self) -> dict[str, Any]:
        return {"vector_sha256": vector_sha256(self.vector)[:32], "layer": self.layer,
                "positions": self.positions}


@dataclass
class GenerationStats:
    """Counters of work done by the model under test."""

    generate_calls: int = 0
    generated_tokens: int = 0
    rows: int = 0


#: process-wide counters, updated by ``core.generation`` (zero on a fully cached run)
STATS = GenerationStats()


def row_seed(*parts: Any) -> int:
    """A 63-bit seed from a canonical JSON encoding of ``parts`` (a key, or a prompt + seed)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:15], 16)


def as_messages(item: str | Messages, system: str | None = None) -> Messages:
    """A user string (with an optional system prompt) or a message list."""
    if isinstance(item, str):
        msgs: Messages = [{"role": "user", "content": item}]
        if system:
            msgs.insert(0, {"role": "system", "content": system})
        return msgs
    return list(item)


def request_key(
    model_fingerprint: str,
    prompt: Messages,
    config: GenerationConfig,
    steering: Steering | None,
    coeff: float,
) -> str:
    """Cache key of one generated response: everything that changes it."""
    payload = {
        "model": model_fingerprint,
        "messages": prompt,
        "config": config.key(),
        "steering": steering.key() if steering is not None and coeff != 0 else None,
        "coeff": coeff if steering is not None else 0.0,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
