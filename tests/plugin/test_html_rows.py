"""Hostile suites through the plugin: located errors per file, others run, escaped id cells."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_persona.plugin.html_rows import HtmlRows, escaped_cell, row_id
from tests.suites.test_schema_hostile import billion_laughs
from tests.support.judge_server import JudgeServer

IMG = "<img src=x onerror=alert(1)>"
SVG_FILE = "s'><svg onload=alert(1)>.yaml"
GOOD = ("trait: sycophantic\nlayer: 1\nn_questions: 2\nmax_new_tokens: 4\n"
        "expectations:\n  - {kind: baseline_ceiling, max: 100}\n")
TAIL = "expectations:\n  - {kind: baseline_ceiling, max: 3}\n"
BAD: dict[str, tuple[bytes, str]] = {
    "latin1.yaml": (b"trait: evil\n# caf\xe9\n" + TAIL.encode(), "latin1.yaml:2: not valid UTF-8"),
    "pyname.yaml": (b"trait: !!python/name:os.system\n" + TAIL.encode(),
                    "pyname.yaml:1: field 'trait': unsupported YAML tag"),
    "tag.yaml": (b"trait: !secret x\n" + TAIL.encode(), "tag.yaml:1: field 'trait': unsupported"),
    "complex.yaml": (b"trait: evil\n? {a: 1}\n: 1\n" + TAIL.encode(),
                     "complex.yaml:2: a mapping key must be a plain string"),
    "deep.yaml": (b"trait: evil\nx: " + b"[" * 3000 + b"]" * 3000 + b"\n",
                  "deep.yaml:2: nesting deeper than 64 levels"),
    "lol.yaml": (billion_laughs(9).encode(), "lol.yaml:5: the document expands to more than"),
    "inf.yaml": (b"trait: evil\ncoefficients: [-4, 0, 4, .inf]\n" + TAIL.encode(),
                 "inf.yaml:2: field 'coefficients[3]': must be a finite number"),
    "big.yaml": (b"trait: evil\n" + TAIL.encode() + b"#" * (1 << 20),
                 "big.yaml:1: suite is larger than 1048576 bytes"),
    "xss_name.yaml": (("trait: evil\nexpectations:\n  - kind: baseline_ceiling\n    max: 3\n"
                       f"    name: '{IMG.replace(chr(39), chr(39) * 2)}'\n").encode(),
                      "xss_name.yaml:5: field 'expectations[0].name': expectation id"),
    SVG_FILE: (("trait: evil\n" + TAIL).encode(), "suite file name"),
}


@pytest.fixture(scope="module")
def judge_server() -> Iterator[JudgeServer]:
    with JudgeServer(default_score=10) as srv:
        yield srv


def _jsonblob(page: str) -> dict[str, Any]:
    match = re.search(r'data-jsonblob="([^"]*)"', page)
    assert match, "no pytest-html data blob"
    data: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return data


def test_bad_suites_fail_alone_and_ids_are_escaped(pytester: pytest.Pytester,
                                                   judge_server: JudgeServer) -> None:
    pytest.importorskip("pytest_html")
    pytester.makefile(".ini", pytest=f"""
        [pytest]
        persona_model = tiny-random-qwen2
        persona_judge = openai:scripted
        persona_judge_base_url = {judge_server.base_url}
        persona_cache = {pytester.path / '.persona_cache'}
    """)
    suites = pytester.path / "trait_suites"
    suites.mkdir()
    (suites / "good.yaml").write_text(GOOD)
    for name, (content, _) in BAD.items():
        (suites / name).write_bytes(content)
    pytester.makepyfile(test_ids=f"""
        import pytest

        @pytest.mark.parametrize("x", [1], ids=[{IMG!r}])
        def test_param(x):
            assert x == 1
    """)
    res = pytester.runpytest_subprocess("trait_suites", "test_ids.py", "-p", "no:cacheprovider",
                                        "--html=report.html", "--self-contained-html",
                                        timeout=300)
    out = res.stdout.str()
    for _, needle in BAD.values():
        assert needle in out, needle
    assert "Traceback" not in out and "Interrupted" not in out and "INTERNALERROR" not in out
    res.assert_outcomes(passed=2, failed=len(BAD))

    page = (pytester.path / "report.html").read_text(encoding="utf-8")
    rows = [cell for tests in _jsonblob(page)["tests"].values() for t in tests
            for cell in t["resultsTableRow"]]
    id_cells = [c for c in rows if 'class="col-testId"' in c]
    assert len(id_cells) == len(BAD) + 2
    assert all("<img" not in c and "<svg" not in c for c in rows), rows
    assert any(html.escape(SVG_FILE, quote=True) in c for c in id_cells)
    assert any(html.escape(IMG, quote=True) in c for c in id_cells)


def test_row_hook_escapes_only_the_id_cell() -> None:
    report = SimpleNamespace(nodeid=f"trait_suites/{SVG_FILE}::suite", when="setup")
    cells = ['<td class="col-result">Error</td>', f'<td class="col-testId">{report.nodeid}</td>',
             '<td class="col-duration">5 ms</td>', '<td class="col-links"></td>']
    HtmlRows().pytest_html_results_table_row(report, cells)
    assert cells[1] == ('<td class="col-testId">trait_suites/s&#x27;&gt;&lt;svg onload=alert(1)'
                        '&gt;.yaml::suite::setup</td>')
    assert cells[0] == '<td class="col-result">Error</td>' and len(cells) == 4
    assert row_id(SimpleNamespace(nodeid="a::b", when="call")) == "a::b"
    assert escaped_cell("c", "sk-" + "a" * 20) == '<td class="c">[REDACTED]</td>'


def test_registered_only_with_pytest_html(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_html")
    with_html = pytester.parseconfigure("-p", "no:cacheprovider")
    assert with_html.pluginmanager.has_plugin("persona-html-rows")
    without = pytester.parseconfigure("-p", "no:cacheprovider", "-p", "no:html")
    assert not without.pluginmanager.has_plugin("persona-html-rows")
