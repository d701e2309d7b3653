"""The report's templates: package resources, autoescaping with redaction, strict names; and no
CSS or page markup left in the report's Python modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jinja2
import pytest

from pytest_persona._util.redact import REDACTED
from pytest_persona.report import templates
from pytest_persona.report.templates import Html, environment, stylesheet

REPORT = Path(templates.__file__).parent
SECRET = "sk-ant-api03-" + "B" * 40
#: a CSS rule: a selector, then a block of declarations (``name:value;``)
CSS_RULE = re.compile(r"[\w.#\-\]\)*>:, ]+\{\s*[a-z-]+\s*:[^{}]*\}")
SKELETON = re.compile(r"<!DOCTYPE|<html[\s>]|<head[\s>]|<body[\s>]|<style[\s>]", re.I)


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_css_or_page_skeleton_in_report_modules() -> None:
    found = [
        f"{path.name}:{line}: {text[:60]!r}"
        for path in sorted(REPORT.glob("*.py"))
        for line, text in _strings(path)
        if CSS_RULE.search(text) or SKELETON.search(text)
    ]
    assert not found, "markup or CSS in Python (it belongs in report/resources):\n" + "\n".join(
        found
    )


def test_the_check_would_catch_a_stylesheet_and_a_page(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('CSS = """\nbody{margin:0;color:#111}\n"""\nPAGE = "<!DOCTYPE html><html>"\n')
    assert [line for line, text in _strings(bad) if CSS_RULE.search(text)] == [1]
    assert [line for line, text in _strings(bad) if SKELETON.search(text)] == [4]


def test_every_template_and_stylesheet_loads_from_the_package() -> None:
    names = environment().list_templates()
    assert {
        "page.html.jinja2",
        "report.jinja2",
        "comparison.html.jinja2",
        "screen.html.jinja2",
        "timeline.html.jinja2",
    } <= set(names)
    for name in names:
        environment().get_template(name)  # parses
    for sheet in ("style.css", "page.css", "screen.css", "timeline.css"):
        assert "{" in stylesheet(sheet) and isinstance(stylesheet(sheet), Html)
    assert isinstance(environment().loader, jinja2.PackageLoader)


@pytest.mark.parametrize("name", ["../html.py", "style", "x/y.css"])
def test_only_stylesheets_of_the_folder(name: str) -> None:
    with pytest.raises(ValueError, match="not a stylesheet"):
        stylesheet(name)


def test_values_are_escaped_and_redacted_markup_is_not() -> None:
    t = environment().from_string('<p title="{{ v }}">{{ v }}{{ nothing }}{{ svg }}</p>')
    out = t.render(v=f"<b a='1'>\"{SECRET}\"</b>", nothing=None, svg=Html("<svg/>"))
    assert out == (
        f'<p title="&lt;b a=&#x27;1&#x27;&gt;&quot;{REDACTED}&quot;&lt;/b&gt;">'
        f"&lt;b a=&#x27;1&#x27;&gt;&quot;{REDACTED}&quot;&lt;/b&gt;<svg/></p>"
    )


def test_undefined_names_are_errors() -> None:
    with pytest.raises(jinja2.UndefinedError):
        environment().from_string("{{ missing }}").render()


def test_line_breaks_and_indentation_are_layout() -> None:
    t = environment().from_string("<ul>\n  <li>{{ a }} b</li>\n  <li>c</li>\n</ul>")
    assert t.render(a=1) == "<ul><li>1 b</li><li>c</li></ul>"


def test_error_box_escapes_its_text() -> None:
    from pytest_persona.report.html import render_error

    out = render_error("a <b> part", ValueError(f"bad <i>{SECRET}</i>"))
    assert "&lt;b&gt;" in out and "&lt;i&gt;" in out and SECRET not in out
    assert out.startswith('<div class="persona-report"><style>')


@pytest.mark.parametrize("value", ["a://u@", "?pwd=x", SECRET])
def test_short_values_skip_redaction_only_when_nothing_could_match(value: str) -> None:
    out = environment().from_string("{{ v }}").render(v=value)
    assert REDACTED in out
