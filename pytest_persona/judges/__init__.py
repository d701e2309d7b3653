"""Autoraters: OpenAI, Anthropic, OpenAI-compatible servers, local HF models, and an offline judge.

``make_judge(spec)`` is the one entry point; every judge shares the :class:`Judge` API
(``score``, ``score_many``, ``score_many_sync``, ``usage``, ``close``) and the SQLite cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .base import Judge, JudgeRequest, JudgeResult, MissingScoresError, check_missing
from .prompts import COHERENCE_PROMPT, fill_prompt
from .usage import JudgeUsage

__all__ = [
    "BACKENDS",
    "COHERENCE_PROMPT",
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "Judge",
    "JudgeRequest",
    "JudgeResult",
    "JudgeUsage",
    "MissingScoresError",
    "check_missing",
    "fill_prompt",
    "make_judge",
    "resolve_judge_spec",
]

#: dated snapshots, so scores cannot change when the provider moves an alias; the OpenAI one is
#: the judge of the persona-vectors paper
DEFAULT_OPENAI_MODEL = "gpt-4.1-mini-2025-04-14"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5-20251001"
#: the backends a judge spec names before its colon (``openai:MODEL``)
BACKENDS = ("openai", "anthropic", "hf", "offline")


def resolve_judge_spec(spec: str, env: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """Resolve ``auto`` (and validate other specs); returns (spec, message saying which and why)."""
    spec = (spec or "auto").strip()
    if spec == "auto":
        if env.get("OPENAI_API_KEY"):
            s = f"openai:{DEFAULT_OPENAI_MODEL}"
            return s, f"judge: {s} (auto: OPENAI_API_KEY is set)"
        if env.get("ANTHROPIC_API_KEY"):
            s = f"anthropic:{DEFAULT_ANTHROPIC_MODEL}"
            return s, f"judge: {s} (auto: ANTHROPIC_API_KEY is set, OPENAI_API_KEY is not)"
        return "offline", (
            "judge: offline (auto: neither OPENAI_API_KEY nor ANTHROPIC_API_KEY is set; "
            "the offline MiniLM judge is approximate, see its measured AUC in the README)"
        )
    backend, _, model = spec.partition(":")
    if backend not in BACKENDS:
        raise ValueError(
            f"unknown judge spec {spec!r}: unknown backend {backend!r}; use auto, offline, "
            "openai:MODEL, anthropic:MODEL or hf:MODEL_OR_PATH"
        )
    if backend == "offline":
        return spec, f"judge: {spec} (offline MiniLM judge, no network)"
    if not model:
        if backend == "openai":
            model = DEFAULT_OPENAI_MODEL
        elif backend == "anthropic":
            model = DEFAULT_ANTHROPIC_MODEL
        else:
            raise ValueError("hf judge needs a model: hf:MODEL_OR_PATH")
        spec = f"{backend}:{model}"
    return spec, f"judge: {spec} (as requested)"


def make_judge(
    spec: str,
    *,
    base_url: str | None = None,
    concurrency: int = 16,
    timeout: float = 30.0,
    max_retries: int = 2,
    cache_path: str | Path | None = None,
    refresh: bool = False,
    model_loader: Callable[[str], tuple[Any, Any]] | None = None,
    deadline: float | None = None,
) -> Judge:
    """Build a judge from a spec: ``auto``, ``offline``, ``openai:M``, ``anthropic:M``, ``hf:M``.

    ``deadline``: overall seconds one API judge call may take (default: the judges' own,
    ``PERSONA_JUDGE_DEADLINE`` or 3x ``timeout``)."""
    spec, _msg = resolve_judge_spec(spec)
    backend, _, model = spec.partition(":")
    common: dict[str, Any] = dict(concurrency=concurrency, cache_path=cache_path, refresh=refresh)
    if backend == "openai":
        from .openai_judge import OpenAIJudge

        return OpenAIJudge(model, base_url=base_url, timeout=timeout, max_retries=max_retries,
                           deadline=deadline, **common)
    if backend == "anthropic":
        from .anthropic_judge import AnthropicJudge

        return AnthropicJudge(model, base_url=base_url, timeout=timeout,
                              max_retries=max_retries, deadline=deadline, **common)
    if backend == "hf":
        from .hf_judge import HFJudge

        return HFJudge(model, model_loader=model_loader, **common)
    from .offline import OfflineJudge

    return OfflineJudge(variant=model or None, **common)
