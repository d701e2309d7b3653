"""``anthropic:MODEL``: no logprobs; the number is parsed from a short answer."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from ._api_common import call_with_deadline, deadline_reason, public_url, redact, resolve_deadline
from .aggregate import parse_score_text
from .base import Judge, JudgeRequest, Outcome
from .prompts import fill_prompt
from .usage import cost_usd

DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
MAX_TOKENS = 8


def _accepts_temperature(client: Any) -> bool:
    try:
        return "temperature" in inspect.signature(client.messages.create).parameters
    except (TypeError, ValueError):
        return False


class AnthropicJudge(Judge):
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
    ) -> None:
        super().__init__(concurrency=concurrency, cache_path=cache_path, refresh=refresh)
        import anthropic  # noqa: F401

        self.model = model
        self.requested_model = model
        self.base_url = (base_url or os.environ.get("ANTHROPIC_BASE_URL")
                         or DEFAULT_ANTHROPIC_BASE_URL)
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            if base_url is None:
                raise ValueError(
                    "anthropic judge: ANTHROPIC_API_KEY is not set (set it, or use --judge offline)"
                )
            key = "not-needed"
        self.__key = key
        self.timeout = timeout
        self.max_retries = max_retries
        #: seconds one call may take in all (the SDK timeout is per read); past it, the call
        #: is cancelled and retried, then reported missing (a transport failure, never cached)
        self.deadline = resolve_deadline(deadline, timeout)
        self.id = f"anthropic:{model}@{public_url(self.base_url)}"

    def scoring_params(self, request: JudgeRequest) -> dict[str, Any]:
        return {"method": "parse-first-int", "max_tokens": MAX_TOKENS, "temperature": 0}

    def _redact(self, text: str) -> str:
        return redact(text, self.__key)

    async def _open_client(self) -> Any:
        from anthropic import AsyncAnthropic

        return AsyncAnthropic(
            api_key=self.__key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    async def _close_client(self, client: Any) -> None:
        await client.close()

    async def _score_one(self, request: JudgeRequest, client: Any) -> Outcome:
        prompt = fill_prompt(request.eval_prompt, request.question, request.answer)
        kwargs: dict[str, Any] = {}
        if _accepts_temperature(client):
            kwargs["temperature"] = 0  # older SDKs; newer ones dropped the parameter
        resp = await call_with_deadline(lambda: client.messages.create(
            model=self.model,
            max_tokens=MAX_TOKENS,
            messages=[{"role": "user", "content": prompt}],
            **kwargs,
        ), self.deadline, 1 + self.max_retries)
        if resp is None:  # ran past the overall deadline on every attempt
            return Outcome(None, deadline_reason(self.deadline, 1 + self.max_retries),
                           cacheable=False)
        usage = getattr(resp, "usage", None)
        n_in = int(getattr(usage, "input_tokens", 0) or 0)
        n_out = int(getattr(usage, "output_tokens", 0) or 0)
        version = getattr(resp, "model", None)
        cost = cost_usd(self.model, n_in, n_out, reported_model=version)
        text = "".join(
            getattr(block, "text", "") for block in (resp.content or [])
            if getattr(block, "type", None) == "text"
        )
        score, reason = parse_score_text(text)
        return Outcome(score, reason, version, n_in, n_out, cost)
