"""The report's Jinja2 templates and stylesheets, loaded from package resources.

Templates (``*.jinja2``) and stylesheets (``*.css``) live in ``pytest_persona/report/resources``
and ship in the wheel. The environment autoescapes: every ``{{ value }}`` is shown as text with
secrets redacted (:func:`redact_secrets`) and quotes escaped for attributes, ``None`` as nothing.
Only :class:`Html` values (markup built by :mod:`.svg` / :mod:`.plots`, whose text is escaped
there, or a rendered template) are inserted as they are. Undefined names are errors.

A line break and the indentation after it are layout in a template, not output: templates are
written one element per line and render as compact markup. A tag (``{% ... %}``) is written on
one line.
"""

from __future__ import annotations

import functools
import html as _html
import re
from importlib import resources
from typing import Any

import jinja2
import jinja2.ext

from pytest_persona._util.deprecated import warn_renamed
from pytest_persona._util.numbers import finite_or_none
from pytest_persona._util.redact import MIN_SECRET_LEN, redact_secrets
from pytest_persona.report._format import DASH, fmt_fixed, fmt_num, fmt_tick

PACKAGE = "pytest_persona.report"
FOLDER = "resources"
_LAYOUT = re.compile(r"\n[ \t]*")


class Html(str):
    """Markup that templates insert without escaping; only for text already escaped."""

    __slots__ = ()

    def __html__(self) -> str:
        return self


def _shown(value: Any) -> Any:
    """Every printed value: markup as it is; anything else escaped, with secrets redacted."""
    if hasattr(value, "__html__"):
        return value
    text = "" if value is None else str(value)
    if _may_hold_secret(text):
        text = redact_secrets(text)
    return Html(_html.escape(text, quote=True))


def _may_hold_secret(text: str) -> bool:
    """False for text too short to hold anything :func:`redact_secrets` replaces (a secret of
    the environment or a key has at least ``MIN_SECRET_LEN`` characters; a URL credential
    needs ``@`` or ``=``): most values of a page are numbers, and redaction scans the
    environment."""
    return len(text) >= MIN_SECRET_LEN or "@" in text or "=" in text


class _LayoutLines(jinja2.ext.Extension):
    """Drops each line break and the indentation after it from template source."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return _LAYOUT.sub("", source)


def signed(value: Any, digits: int = 2) -> str:
    """A difference with its sign (``+1.50``), a dash when it is not a finite number."""
    if finite_or_none(value) is None:
        return DASH
    text = fmt_num(value, digits)
    return text if text.startswith("-") else "+" + text


@functools.cache
def stylesheet(name: str) -> Html:
    """The text of ``resources/<name>`` (a ``.css`` file), to inline in a page's style element."""
    if not name.endswith(".css") or "/" in name:
        raise ValueError(f"not a stylesheet of {PACKAGE}.{FOLDER}: {name!r}")
    return Html(
        resources.files(PACKAGE).joinpath(FOLDER).joinpath(name).read_text(encoding="utf-8")
    )


def old_stylesheet(module: str, name: str, sheets: dict[str, str]) -> Html:
    """The body of a report module's ``__getattr__`` for the stylesheet constants it had
    (``sheets``: constant -> file): warns, and returns the file's text."""
    if name not in sheets:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warn_renamed(f"{module}.{name}", f"report.templates.stylesheet({sheets[name]!r})")
    return stylesheet(sheets[name])


@functools.cache
def environment() -> jinja2.Environment:
    """The shared environment (autoescaping, strict about undefined names)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(PACKAGE, FOLDER),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_shown,
        extensions=[_LayoutLines, jinja2.ext.do],
        keep_trailing_newline=False,
    )
    env.filters.update(num=fmt_num, fixed=fmt_fixed, tick=fmt_tick, signed=signed)
    env.globals.update(stylesheet=stylesheet)
    return env


def render(name: str, **context: Any) -> Html:
    """``resources/<name>`` rendered with ``context``."""
    return Html(environment().get_template(name).render(**context))


def macro(template: str, name: str, **context: Any) -> Any:
    """The macro ``name`` of ``resources/<template>``; what it returns is markup."""
    return getattr(environment().get_template(template).make_module(context), name)
