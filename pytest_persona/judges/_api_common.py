"""Helpers shared by the API judges: ids without secrets, redaction, the per-call deadline."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit


def public_url(url: str) -> str:
    """The URL without userinfo, query or fragment (those can carry credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def redact(text: str, *secrets: str | None) -> str:
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text


# -- an overall deadline per judge call ---------------------------------------------------------
#: the default deadline, as a multiple of the SDK timeout (which is per read: a server that
#: trickles one byte at a time resets it for ever)
DEADLINE_FACTOR = 3.0
DEADLINE_ENV = "PERSONA_JUDGE_DEADLINE"
T = TypeVar("T")


def resolve_deadline(deadline: float | None, timeout: float) -> float:
    """Seconds one judge call may take in all: ``deadline`` if given, else the environment
    variable ``PERSONA_JUDGE_DEADLINE``, else ``DEADLINE_FACTOR`` x the SDK timeout."""
    where = "deadline"
    if deadline is None:
        raw = os.environ.get(DEADLINE_ENV, "").strip()
        if not raw:
            return DEADLINE_FACTOR * float(timeout)
        where = f"environment variable {DEADLINE_ENV}"
        try:
            deadline = float(raw)
        except ValueError:
            raise ValueError(f"{where}: {raw!r} is not a number of seconds") from None
    if not math.isfinite(deadline) or deadline <= 0:
        raise ValueError(f"{where}: {deadline!r} must be a positive number of seconds")
    return float(deadline)


def deadline_reason(deadline: float, attempts: int) -> str:
    """The missing-score reason of a call that never finished (a transport failure)."""
    return (f"transport: no complete answer within the {deadline:g} s deadline per call "
            f"({attempts} attempt{'s' if attempts != 1 else ''})")


async def call_with_deadline(call: Callable[[], Awaitable[T]], deadline: float,
                             attempts: int) -> T | None:
    """Await ``call()`` under an overall ``deadline``; one that runs past it is cancelled and
    tried again, up to ``attempts`` in all. None when every attempt ran out of time (the
    caller reports a transport failure: missing, never cached)."""
    for _ in range(max(1, attempts)):
        try:
            return await asyncio.wait_for(call(), deadline)
        except asyncio.TimeoutError:
            continue
    return None
