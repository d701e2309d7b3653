"""The generation interface every engine implements.

An engine turns rows (chat messages, one sampling config, a seed and a steering coefficient
per row, one :class:`~pytest_persona.core.requests.Steering` for the call) into texts, in
order. Everything above it (response cache, sweeps, judges, reports) sees only this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from pytest_persona.core.requests import GenerationConfig, Messages, Steering

ENGINE_NAMES = ("hf", "vllm", "auto")
Progress = Callable[[int, int], None]
OnBatch = Callable[[list[int], list[str]], None]


@runtime_checkable
class Engine(Protocol):
    """A generation backend. ``identity`` is the model identity its response keys use."""

    name: str

    @property
    def version(self) -> str:
        """The engine's own version string (joins the model identity for non-reference engines)."""
        ...

    def identity(self, loaded: Any) -> str:
        """The model identity of this engine's responses (joins the response cache keys)."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-ready name, version and settings, for the results document."""
        ...

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
        """One text per row, in order; a steering request it cannot honour raises
        :class:`~pytest_persona.errors.EngineError`."""
        ...
