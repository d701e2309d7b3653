"""``openai:MODEL``: one-token completion with top-20 logprobs, probability-weighted score.

Works against api.openai.com and any OpenAI-compatible server (vLLM, llama.cpp, Ollama) via
``base_url``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._api_common import call_with_deadline, deadline_reason, public_url, redact, resolve_deadline
from .aggregate import MIN_NUMERIC_MASS, aggregate_logprobs
from .base import Judge, JudgeRequest, Outcome
from .prompts import fill_prompt
from .usage import cost_usd

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
TOP_LOGPROBS = 20


class OpenAIJudge(Judge):
    resolves_alias = True
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout: float = 30.0,
        max_retries: int = 2,
        cache_path: str | Path | None = None,
        refresh: bool = False,
        deadline: float | None = None,
        min_mass: float = MIN_NUMERIC_MASS,
    ) -> None:
        super().__init__(concurrency=concurrency, cache_path=cache_path, refresh=refresh)
        import openai  # noqa: F401  (fail early if the SDK is missing)

        self.model = model
        self.requested_model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if base_url is None:
                raise ValueError(
                    "openai judge: OPENAI_API_KEY is not set (set it, pass --judge-base-url for "
                    "a local OpenAI-compatible server, or use --judge offline)"
                )
            key = "not-needed"  # local servers usually ignore the key
        self.__key = key
        self.timeout = timeout
        self.max_retries = max_retries
        #: seconds one call may take in all (the SDK timeout is per read); past it, the call
        #: is cancelled and retried, then reported missing (a transport failure, never cached)
        self.deadline = resolve_deadline(deadline, timeout)
        self.min_mass = min_mass
        self.id = f"openai:{model}@{public_url(self.base_url)}"

    def scoring_params(self, request: JudgeRequest) -> dict[str, Any]:
        return {
            "method": "logprobs-top20-weighted",
            "max_tokens": 1,
            "temperature": 0,
            "top_logprobs": TOP_LOGPROBS,
            "min_mass": self.min_mass,
        }

    def _redact(self, text: str) -> str:
        return redact(text, self.__key)

    async def _open_client(self) -> Any:
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            api_key=self.__key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    async def _close_client(self, client: Any) -> None:
        await client.close()

    async def _score_one(self, request: JudgeRequest, client: Any) -> Outcome:
        prompt = fill_prompt(request.eval_prompt, request.question, request.answer)
        resp = await call_with_deadline(lambda: client.chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=1,
            temperature=0,
            logprobs=True,
            top_logprobs=TOP_LOGPROBS,
            seed=0,
        ), self.deadline, 1 + self.max_retries)
        if resp is None:  # ran past the overall deadline on every attempt
            return Outcome(None, deadline_reason(self.deadline, 1 + self.max_retries),
                           cacheable=False)
        usage = getattr(resp, "usage", None)
        n_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        n_out = int(getattr(usage, "completion_tokens", 0) or 0)
        version = getattr(resp, "model", None)
        cost = cost_usd(self.model, n_in, n_out, reported_model=version)
        try:
            content = resp.choices[0].logprobs.content
            top = content[0].top_logprobs
            pairs = [(t.token, float(t.logprob)) for t in top]
        except (AttributeError, IndexError, TypeError):
            return Outcome(None, "no logprobs in response (does the server support logprobs?)",
                           version, n_in, n_out, cost, cacheable=False)
        score, reason = aggregate_logprobs(pairs, self.min_mass)
        return Outcome(score, reason, version, n_in, n_out, cost)
