"""Redaction of API keys and tokens from anything the report writes.

Every HTML page, JSON file and terminal table the report package produces passes through
:func:`redact_secrets`, so a key that leaked into model output, a judge note or an error message
never lands in an artifact that gets uploaded from CI. Redacted: values of ``*_API_KEY`` and
``*_TOKEN`` environment variables, key-shaped strings (``sk-...``), and credentials in URLs
(``user:pass@`` userinfo; query parameters such as ``api_key``, ``key``, ``token``,
``access_token``, ``secret``, ``password``, ``sig``), wherever the URL appears.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

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

# Credentials inside URLs. Userinfo: everything between "scheme://" and "@" in the authority.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/\s?#@\"'<>\\]+)@")
#: Query parameter names (case-insensitive, a name ending in one of these) that carry secrets.
SECRET_PARAM_SUFFIXES = ("key", "token", "secret", "password", "passwd", "pwd", "signature",
                         "sig", "auth", "authorization", "credential", "credentials")
_SUFFIX = "|".join(SECRET_PARAM_SUFFIXES)
# "?name=value" or "&name=value" (also "&amp;name=value" in HTML, ";name=value").
_QUERY_SECRET = re.compile(
    rf"(?i)([?&;][A-Za-z0-9_.\-]*(?:{_SUFFIX})=)(?!\[REDACTED\])([^&#\s\"'<>\\]+)")


def _is_secret_param(name: str) -> bool:
    return name.lower().endswith(SECRET_PARAM_SUFFIXES)


def redact_urls(text: str) -> str:
    """Replace URL userinfo and the values of credential-like query parameters."""
    text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
    return _QUERY_SECRET.sub(rf"\1{REDACTED}", text)


def url_secrets(url: str) -> set[str]:
    """The credential values a URL carries (userinfo parts, credential query parameters)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return set()
    found: set[str] = set()
    if parts.scheme and parts.netloc:
        if parts.username:
            found |= {parts.username, unquote(parts.username)}
        if parts.password:
            found |= {parts.password, unquote(parts.password)}
        for name, value in parse_qsl(parts.query, keep_blank_values=False):
            if _is_secret_param(name):
                found.add(value)
    return found


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Secret values found in ``env`` (longest first), with their HTML- and JSON-escaped forms."""
    env = os.environ if env is None else env
    found: set[str] = set()
    for name, value in env.items():
        if not isinstance(value, str) or len(value) < MIN_SECRET_LEN:
            continue
        upper = name.upper()
        if "://" in value:  # e.g. OPENAI_BASE_URL=https://h/v1?api_key=...
            found |= {v for v in url_secrets(value) if len(v) >= MIN_SECRET_LEN}
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
    return redact_urls(_KEY_PATTERNS.sub(REDACTED, text))


def redact_obj(obj: Any, env: Mapping[str, str] | None = None) -> Any:
    """A copy of a JSON-like object with every string (keys included) redacted."""
    values = secret_values(env)

    def one(s: str) -> str:
        for value in values:
            if value in s:
                s = s.replace(value, REDACTED)
        return redact_urls(_KEY_PATTERNS.sub(REDACTED, s))

    def walk(o: Any) -> Any:
        if isinstance(o, str):
            return one(o)
        if isinstance(o, Mapping):
            return {(one(k) if isinstance(k, str) else k): walk(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [walk(v) for v in o]
        return o

    return walk(obj)
