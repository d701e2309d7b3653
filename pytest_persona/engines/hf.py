"""The reference engine: transformers ``generate`` with the project's steering hook
(:mod:`pytest_persona.core.generation`), unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_persona.core.requests import GenerationConfig, Messages, Steering
from pytest_persona.engines.base import OnBatch, Progress
from pytest_persona.models.loading import cache_identity


class HFEngine:
    """transformers generation; its identity is the model's plain cache identity, so the
    response caches written before engines existed stay valid."""

    name = "hf"

    @property
    def version(self) -> str:
        import importlib.metadata

        return importlib.metadata.version("transformers")

    def identity(self, loaded: Any) -> str:
        return cache_identity(loaded)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    def generate(
        self,
        loaded: Any,
        messages: Sequence[Messages],
        config: GenerationConfig,
        *,
        steering: Steering | None,
        coeffs: Sequence[float] | None,
        seeds: Sequence[int],
        progress: Progress | None = None,
        on_batch: OnBatch | None = None,
    ) -> list[str]:
        from pytest_persona.core.generation import generate

        return generate(loaded.model, loaded.tokenizer, list(messages), config,
                        steering=steering, coeffs=coeffs, progress=progress,
                        on_batch=on_batch, seeds=seeds)
