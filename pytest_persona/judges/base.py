"""Judge base class, request/result types and missing-score accounting."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_persona._util.redact import redact_secrets
from pytest_persona.errors import MissingScoresError as MissingScoresError

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
    repeat: int = 0  # asking again (a suite's judge_repeats): 1, 2, ... key their own entries


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
    #: False for transport failures (429, 5xx, timeouts, malformed replies): never cached
    cacheable: bool = True


#: a dated model snapshot ("gpt-4.1-mini-2025-04-14", "claude-haiku-4-5-20251001")
DATED = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


MAX_PROBES = 2  # live calls to resolve an alias before giving up on the cache for this batch


def is_dated(model: str) -> bool:
    """Whether ``model`` names a dated snapshot (its answers cannot move under an alias)."""
    return bool(DATED.search(model))


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
    #: the model name asked for
    requested_model: str = ""
    #: API judges: an undated alias is resolved (one live call per run) to the model the
    #: provider reports before the cache is read, so an alias that moves misses the cache
    resolves_alias: bool = False

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
        self._resolved: str | None = None

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

    def identity(self, trait: str | None = None) -> str:
        """What keys results derived from this judge's scores of ``trait`` (extracted vectors):
        the id, plus whatever else changes those scores (the offline judge's anchors)."""
        return self.id

    # -- public API --------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

    @property
    def resolved_model(self) -> str | None:
        """The model that answers: the dated name the provider reported (or the requested name
        when that is already dated, or for local judges); None while an alias is unresolved."""
        if self._resolved is not None:
            return self._resolved
        if not self.resolves_alias or is_dated(self.requested_model):
            return self.requested_model
        return None

    def _note_reported(self, version: str | None) -> None:
        if version:
            with self._usage_lock:
                self.usage.models[version] = self.usage.models.get(version, 0) + 1
                if self._resolved is None and self.resolved_model is None:
                    self._resolved = version

    def _model_for_key(self, reported: str | None) -> str | None:
        """An alias judge files each answer under the model that gave it (should the alias move
        during a run); a dated or local judge under its own name."""
        if reported and self.resolves_alias and not is_dated(self.requested_model):
            return reported
        return None

    def cache_key(self, request: JudgeRequest, model: str | None = None) -> str:
        return cache_key(
            self.id,
            model or self.resolved_model or self.requested_model,
            template_sha256(request.eval_prompt),
            request.question,
            request.answer,
            {**self.scoring_params(request),
             **({"repeat": request.repeat} if request.repeat else {})},
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

        def lookup(i: int) -> bool:
            if self._cache is None or self.refresh or self.resolved_model is None:
                return False
            hit = self._cache.get_outcome(self.cache_key(requests[i]))
            if hit is None:
                return False
            results[i] = JudgeResult(hit.score, hit.reason if hit.score is None else None,
                                     cached=True)
            with self._usage_lock:
                self.usage.cache_hits += 1
                if hit.score is None:
                    self.usage.missing += 1
            tick()
            return True

        def record(i: int, out: Outcome) -> None:
            req = requests[i]
            if out.score is not None and not math.isfinite(out.score):
                # a backend's arithmetic on a malformed reply: never a score, never cached as one
                out = dataclasses.replace(
                    out, score=None, reason=f"malformed answer: non-finite score {out.score!r}")
            self._note_reported(out.model_version)
            with self._usage_lock:
                self.usage.calls += 1
                self.usage.input_tokens += out.input_tokens
                self.usage.output_tokens += out.output_tokens
                self.usage.add_cost(out.cost_usd)
                if out.score is None:
                    self.usage.missing += 1
            if (self._cache is not None and out.cacheable and self.resolved_model is not None
                    and (out.score is not None or out.reason)):
                key = self.cache_key(req, self._model_for_key(out.model_version))
                self._cache.put(key, self.id, template_sha256(req.eval_prompt),
                                out.score, out.model_version,
                                None if out.score is not None else out.reason)
            results[i] = JudgeResult(out.score, out.reason if out.score is None else None)
            tick()

        async def live(indices: list[int]) -> None:
            if not indices:
                return
            if self.local_batch_size:
                # Local (CPU/GPU) judges: batched, in this thread; outcomes written as they come.
                for start in range(0, len(indices), self.local_batch_size):
                    chunk = indices[start : start + self.local_batch_size]
                    outs = self._score_batch([requests[i] for i in chunk])
                    for i, out in zip(chunk, outs):
                        record(i, out)
                    await asyncio.sleep(0)
                return
            sem = asyncio.Semaphore(self.concurrency)
            client = await self._open_client()
            try:

                async def run(i: int) -> None:
                    async with sem:
                        try:
                            out = await self._score_one(requests[i], client)
                        except Exception as exc:  # noqa: BLE001 - becomes a missing score
                            msg = redact_secrets(self._redact(f"{type(exc).__name__}: {exc}"))
                            out = Outcome(None, msg[:300], cacheable=False)
                    record(i, out)

                await asyncio.gather(*(run(i) for i in indices))
            finally:
                await self._close_client(client)

        pending = list(range(total))
        probes = 0
        while (pending and self._cache is not None and self.resolved_model is None
               and probes < MAX_PROBES):
            # An undated alias: one live call says which model answers now, then the cache.
            await live(pending[:1])
            pending, probes = pending[1:], probes + 1
        todo = [i for i in pending if not lookup(i)]
        await live(todo)
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
        value: list[JudgeResult] = box["value"]
        return value

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
