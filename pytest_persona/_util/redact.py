"""Redaction of API keys and tokens from anything the report writes.

Every HTML page, JSON file and terminal table the report package produces passes through
:func:`redact_secrets`, so a key that leaked into model output, a judge note or an error message
never lands in an artifact that gets uploaded from CI.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

#: Environment variables whose values are always redacted (when at least ``MIN_SECRET_LEN`` long).
SECRET_ENV_NAMES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
#: Any environment variable whose name ends with one of these is treated as a secret.
SECRET_ENV_SUFFIXES = ("_API_KEY", "_TOKEN")
MIN_SECRET_LEN = 8

# Key-shaped strings, even when no environment variable holds them. The look-behind keeps
# words such as "task-..." or "disk-..." from matching.
_KEY_PATTERNS = re.compile(
    r"(?<![A-Za-z0-9_-])(?:sk-ant-[A-Za-z0-9_-]{16,}|sk-[A-Za-z0-9_-]{16,})"
)


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Secret values found in ``env`` (longest first), with their HTML- and JSON-escaped forms."""
    env = os.environ if env is None else env
    found: set[str] = set()
    for name, value in env.items():
        if not isinstance(value, str) or len(value) < MIN_SECRET_LEN:
            continue
        upper = name.upper()
        if upper in SECRET_ENV_NAMES or upper.endswith(SECRET_ENV_SUFFIXES):
            found.add(value)
            stripped = value.strip()
            if len(stripped) >= MIN_SECRET_LEN:
                found.add(stripped)
    variants: set[str] = set()
    for value in found:
        variants.add(value)
        variants.add(html.escape(value))
        variants.add(html.escape(value, quote=False))
        variants.add(json.dumps(value)[1:-1])
        variants.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return sorted((v for v in variants if len(v) >= MIN_SECRET_LEN), key=len, reverse=True)


def redact_secrets(text: str, env: Mapping[str, str] | None = None) -> str:
    """Replace secret values from ``env`` and key-shaped strings in ``text`` with ``[REDACTED]``."""
    if not text:
        return text
    for value in secret_values(env):
        if value in text:
            text = text.replace(value, REDACTED)
    return _KEY_PATTERNS.sub(REDACTED, text)


def redact_obj(obj: Any, env: Mapping[str, str] | None = None) -> Any:
    """A copy of a JSON-like object with every string (keys included) redacted."""
    values = secret_values(env)

    def one(s: str) -> str:
        for value in values:
            if value in s:
                s = s.replace(value, REDACTED)
        return _KEY_PATTERNS.sub(REDACTED, s)

    def walk(o: Any) -> Any:
        if isinstance(o, str):
            return one(o)
        if isinstance(o, Mapping):
            return {(one(k) if isinstance(k, str) else k): walk(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [walk(v) for v in o]
        return o

    return walk(obj)
