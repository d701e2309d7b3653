"""Cache keys with explicit field lists: every field that changes a cached result is one
field of its key's dataclass, and tests vary each field in turn (so none can be forgotten).

Generated responses and judge outcomes have their keys beside the code that computes them
(``core.generation.request_key`` with ``GenerationConfig.KEY_FIELDS`` / ``Steering.KEY_FIELDS``;
``judges.cache.cache_key`` with ``KEY_FIELDS``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from pytest_persona._util.deprecated import renamed_keyword, warn_renamed
from pytest_persona.cache.store import stable_hash


@dataclass(frozen=True)
class VectorKey:
    """Key of extracted trait vectors."""

    model: str  # cache identity: weights fingerprint | dtype | device type
    trait: str
    trait_sha256: str
    config: dict[str, Any]  # ExtractionConfig.key(): every parameter that changes the vectors
    judge: str
    coherence_judge: str
    version: int = 1

    def digest(self) -> str:
        return stable_hash(asdict(self))


@renamed_keyword("kind", "pooling")
@dataclass(frozen=True)
class ProjectionKey:
    """Key of cached projections of pooled activations onto a vector.

    The pooling is hashed under its old field name ``kind``, so projections cached before the
    rename keep their keys."""

    model: str
    prompts: list[Any]
    answers: list[str]
    vector: str  # sha256 of the vector's float32 bytes
    layer: int
    pooling: str = "response_avg"
    v: int = 1

    def digest(self) -> str:
        payload = asdict(self)
        payload["kind"] = payload.pop("pooling")  # the persisted name: see the docstring
        return stable_hash(payload)

    @property
    def kind(self) -> str:
        """Deprecated name of :attr:`pooling`."""
        warn_renamed("ProjectionKey.kind", "ProjectionKey.pooling")
        return self.pooling


@dataclass(frozen=True)
class IdentityCheckKey:
    """Key of the coeff-0 identity check's outcome: a property of the model, the vector, the
    prompts, the steering code and the torch and transformers versions that ran it."""

    model: str  # cache identity: weights fingerprint | dtype | device type
    vector: str  # sha256 of the vector's float32 bytes
    layer: int
    positions: str
    prompts: list[str]
    max_new_tokens: int
    torch: str  # installed versions (importlib.metadata: read without importing them)
    transformers: str
    steering_code: str  # sha256 of core/steering.py, the arithmetic under test
    v: int = 1

    def digest(self) -> str:
        return stable_hash(asdict(self))


def field_names(key_type: type) -> tuple[str, ...]:
    """The fields of a key dataclass, in order."""
    return tuple(f.name for f in fields(key_type))
