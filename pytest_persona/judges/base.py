"""Judge base class, request/result types and missing-score accounting."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_persona._util.redact import redact_secrets

from .cache import JudgeCache, cache_key
from .prompts import template_sha256
from .usage import JudgeUsage

__all__ = [
    "Judge",
    "JudgeRequest",
    "JudgeResult",
    "JudgeUsage",
    "MissingScoresError",
    "check_missing",
]


@dataclass(frozen=True)
class JudgeRequest:
    question: str
    answer: str
    eval_prompt: str
    trait: str | None = None  # trait name, or "coherence" for coherence requests


@dataclass(frozen=True)
class JudgeResult:
    score: float | None
    missing_reason: str | None = None
    cached: bool = False

    @property
    def missing(self) -> bool:
        return self.score is None


@dataclass(frozen=True)
class Outcome:
    """What one backend call produced (internal)."""

    score: float | None
    reason: str | None = None
    model_version: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None


class MissingScoresError(RuntimeError):
    """Too many judge scores are missing for the run to mean anything."""


def check_missing(
    results: Sequence[JudgeResult], max_missing_fraction: float, what: str
) -> None:
    """Raise :class:`MissingScoresError` if more than ``max_missing_fraction`` are missing."""
    n = len(results)
    if n == 0:
        return
    reasons = [r.missing_reason or "unknown" for r in results if r.score is None]
    k = len(reasons)
    frac = k / n
    if frac <= max_missing_fraction:
        return
    common = Counter(reasons).most_common(3)
    listed = "; ".join(f"{reason!r} x{count}" for reason, count in common)
    raise MissingScoresError(
        f"{what}: {k} of {n} judge scores missing ({frac:.0%}, allowed "
        f"{max_missing_fraction:.0%}). Most common reasons: {listed}"
    )


class Judge:
    """Base class. Subclasses implement :meth:`_score_one` (async) and set ``id``.

    Handles the cache, the concurrency limit, usage accounting and the sync wrappers.
    """

    id: str = "judge"
    is_offline: bool = False
    #: the model name that goes into cache keys (requested, not reported)
    requested_model: str = ""

    def __init__(
        self,
        *,
        concurrency: int = 16,
        cache_path: str | Path | None = None,
        refresh: bool = False,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.concurrency = concurrency
        self.refresh = refresh
        self.usage = JudgeUsage()
        self._cache = JudgeCache(cache_path) if cache_path is not None else None
        self._usage_lock = threading.Lock()

    # -- to override -----------------------------------------------------------------------
    def scoring_params(self, request: JudgeRequest) -> dict[str, Any]:
        """Everything besides id/model/template/question/answer that changes a score."""
        return {}

    #: when set, requests are scored synchronously in batches by :meth:`_score_batch`
    local_batch_size: int = 0

    async def _score_one(self, request: JudgeRequest, client: Any) -> Outcome:
        raise NotImplementedError

    def _score_batch(self, requests: Sequence[JudgeRequest]) -> list[Outcome]:
        raise NotImplementedError

    async def _open_client(self) -> Any:
        """Per-batch client (created inside the running event loop)."""
        return None

    async def _close_client(self, client: Any) -> None:
        return None

    def _redact(self, text: str) -> str:
        return text

    # -- public API --------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

    def cache_key(self, request: JudgeRequest) -> str:
        return cache_key(
            self.id,
            self.requested_model,
            template_sha256(request.eval_prompt),
            request.question,
            request.answer,
            self.scoring_params(request),
        )

    def score(
        self, question: str, answer: str, eval_prompt: str, *, trait: str | None = None
    ) -> float | None:
        return self.score_many_sync([JudgeRequest(question, answer, eval_prompt, trait)])[0].score

    async def score_many(
        self,
        requests: Sequence[JudgeRequest],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[JudgeResult]:
        requests = list(requests)
        total = len(requests)
        results: list[JudgeResult | None] = [None] * total
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        keys: list[str | None] = [None] * total
        todo: list[int] = []
        for i, req in enumerate(requests):
            if self._cache is not None:
                keys[i] = self.cache_key(req)
                if not self.refresh:
                    hit = self._cache.get(keys[i])  # type: ignore[arg-type]
                    if hit is not None:
                        results[i] = JudgeResult(hit, None, cached=True)
                        with self._usage_lock:
                            self.usage.cache_hits += 1
                        tick()
                        continue
            todo.append(i)

        def record(i: int, out: Outcome) -> None:
            req = requests[i]
            with self._usage_lock:
                self.usage.calls += 1
                self.usage.input_tokens += out.input_tokens
                self.usage.output_tokens += out.output_tokens
                self.usage.add_cost(out.cost_usd)
                if out.score is None:
                    self.usage.missing += 1
            if out.score is not None and self._cache is not None:
                self._cache.put(
                    keys[i],  # type: ignore[arg-type]
                    self.id,
                    template_sha256(req.eval_prompt),
                    out.score,
                    out.model_version,
                )
            results[i] = JudgeResult(out.score, out.reason if out.score is None else None)
            tick()

        if todo and self.local_batch_size:
            # Local (CPU/GPU) judges: batched, in this thread; scores still written as they come.
            for start in range(0, len(todo), self.local_batch_size):
                chunk = todo[start : start + self.local_batch_size]
                outs = self._score_batch([requests[i] for i in chunk])
                for i, out in zip(chunk, outs):
                    record(i, out)
                await asyncio.sleep(0)
        elif todo:
            sem = asyncio.Semaphore(self.concurrency)
            client = await self._open_client()
            try:

                async def run(i: int) -> None:
                    async with sem:
                        try:
                            out = await self._score_one(requests[i], client)
                        except Exception as exc:  # noqa: BLE001 - becomes a missing score
                            msg = redact_secrets(self._redact(f"{type(exc).__name__}: {exc}"))
                            out = Outcome(None, msg[:300])
                    record(i, out)

                await asyncio.gather(*(run(i) for i in todo))
            finally:
                await self._close_client(client)
        return results  # type: ignore[return-value]

    def score_many_sync(
        self,
        requests: Sequence[JudgeRequest],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[JudgeResult]:
        """Run :meth:`score_many` on a fresh event loop (a worker thread if one is running)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.score_many(requests, progress))
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = asyncio.run(self.score_many(requests, progress))
            except BaseException as exc:  # noqa: BLE001
                box["error"] = exc

        t = threading.Thread(target=target, name="persona-judge")
        t.start()
        t.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
