"""Acceptance check of issue 13: hostile suites, a hostile results file and hostile model-side
text go through the whole plugin (pytest-html report, ``persona report``, ``persona compare``);
the pages open in headless Chromium with no script run, and no secret is in any output.

Skipped without chromium/selenium unless PERSONA_REQUIRE_BROWSER=1 (see tests/report/test_browser).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.results.document import load_results
from tests.plugin.test_plugin import _hash_score
from tests.report.synthetic import XSS_IMG, XSS_SCRIPT, make_results
from tests.report.test_browser import _open, browser  # noqa: F401 (a fixture)
from tests.suites.test_schema_hostile import billion_laughs
from tests.support.judge_server import JudgeServer

REPO = Path(__file__).resolve().parents[1]
ENV_SECRET = "envS3cretValue-0123456789"  # held by a *_API_KEY variable
URL_SECRET = "urlS3cretValue-9876543210"  # in the judge base URL (userinfo and query)
FLAG = "window.__pwned=1;document.title='PWNED'"
PAYLOADS = (f"<script>{FLAG}</script>", f'"><img src=x onerror="{FLAG}">',
            f"'><svg onload=\"{FLAG}\">")
SVG_FILE = "s'><svg onload=alert(1)>.yaml"


@pytest.fixture(scope="module")
def judge_server() -> Iterator[JudgeServer]:
    with JudgeServer(scorer=_hash_score) as srv:
        yield srv


def _hostile_trait(path: Path) -> None:
    data = json.loads((REPO / "pytest_persona/data/traits/sycophantic.json").read_text())
    data["eval_questions"] = [f"Question {i} {p}"
                              for i, p in enumerate(PAYLOADS)] + data["eval_questions"][:2]
    path.write_text(json.dumps(data))


def _hostile_results(path: Path) -> None:
    """A results file as an attacker would hand it over: payloads everywhere, secrets inside."""
    data: dict[str, Any] = make_results(("sycophantic", "evil"), payload=True)
    # the shape of this run's model: a baseline of another width or depth is refused before
    # any work (issue 25 item 12), and this test is about what a comparable one carries
    data["model"].update(n_layers=4, d_model=64)
    data["judge"]["note"] = f"{PAYLOADS[0]} http://u:{URL_SECRET}@h/v1?api_key={URL_SECRET}"
    data["expectations"][0]["message"] = f"{PAYLOADS[1]} {ENV_SECRET}"
    path.write_text(json.dumps(data))


def _persona(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pytest_persona.cli", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


def _no_script_ran(driver: Any, page: Path) -> str:
    _open(driver, page)
    assert driver.execute_script("return typeof window.__pwned") == "undefined", page
    assert driver.title != "PWNED", page
    bad = driver.execute_script(
        "return document.querySelectorAll('img[src=x], svg[onload], [onerror]').length")
    assert bad == 0, page
    return str(driver.find_element("tag name", "body").text)


def test_hostile_inputs_run_no_script_and_leak_no_secret(
        pytester: pytest.Pytester, judge_server: JudgeServer, browser: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pytest_html")
    monkeypatch.setenv("PERSONA_E2E_API_KEY", ENV_SECRET)
    root = pytester.path
    pytester.makefile(".ini", pytest=f"""
        [pytest]
        persona_model = tiny-random-qwen2
        persona_judge = openai:scripted
        persona_cache = {root / '.persona_cache'}
    """)
    suites = root / "trait_suites"
    suites.mkdir()
    _hostile_trait(suites / "hostile_trait.json")
    (suites / "good.yaml").write_text(
        "trait_file: hostile_trait.json\nlayer: 1\nn_questions: 5\nmax_new_tokens: 4\n"
        "coefficients: [0, 4]\n"
        "extraction: {n_questions: 4, n_instructions: 2, min_pairs: 1, max_new_tokens: 6}\n"
        "expectations:\n  - {kind: steering_raises, coeff: 4, threshold: -1}\n")
    (suites / SVG_FILE).write_text("trait: evil\nexpectations:\n  - {kind: baseline_ceiling, "
                                   "max: 3}\n")
    (suites / "xss_name.yaml").write_text(
        "trait: evil\nexpectations:\n  - kind: baseline_ceiling\n    max: 3\n"
        f"    name: {json.dumps(PAYLOADS[1])}\n")
    (suites / "lol.yaml").write_text(billion_laughs(9))
    (suites / "pyname.yaml").write_text("trait: !!python/name:os.system\n")
    (suites / "inf.yaml").write_text("trait: evil\ncoefficients: [0, .inf]\nexpectations:\n"
                                     "  - {kind: baseline_ceiling, max: 3}\n")
    inputs = root / "inputs"
    inputs.mkdir()
    _hostile_results(inputs / "hostile.json")

    url = f"http://judge:{URL_SECRET}@127.0.0.1:{judge_server.port}/v1"
    res = pytester.runpytest_subprocess(
        "trait_suites", "-p", "no:cacheprovider", "-rA", "--judge-base-url", url,
        "--html", "report.html", "--self-contained-html", "--junitxml", "junit.xml",
        "--persona-compare", str(inputs / "hostile.json"), timeout=300)
    terminal = res.stdout.str() + res.stderr.str()
    assert "INTERNALERROR" not in terminal and "Traceback" not in terminal, terminal[-3000:]
    outcomes = res.parseoutcomes()
    assert outcomes.get("passed") == 1 and outcomes.get("failed") == 5, outcomes
    run = load_results(root / "reports" / "persona-results.json")
    sweep = run["traits"]["hostile_trait"]["sweep"]
    assert sweep is not None
    examples = [e for p in sweep for e in p["examples"]]
    # hostile text reached the report
    assert any("<script>" in (e["question"] or "") for e in examples)

    outs = [_persona("report", "reports/persona-results.json", "-o", "out/run.html", cwd=root),
            _persona("report", "inputs/hostile.json", "-o", "out/hostile.html", cwd=root),
            _persona("compare", "inputs/hostile.json", "reports/persona-results.json",
                     "-o", "out/compare.html", cwd=root)]
    assert [o.returncode for o in outs[:2]] == [0, 0], [o.stderr for o in outs]
    assert (root / "out" / "compare.html").is_file(), outs[2].stderr

    body = _no_script_ran(browser, root / "report.html")
    assert browser.execute_script("return document.querySelectorAll("
                                  "'#results-table tbody.results-table-row').length") == 6
    assert "<svg onload=alert(1)>.yaml" in body  # the file name, shown as text
    for name in ("run.html", "hostile.html", "compare.html"):
        body = _no_script_ran(browser, root / "out" / name)
        assert "<script>" in body, name  # payloads are visible as text, not run

    texts = {str(p.relative_to(root)): p.read_bytes().decode("utf-8", "replace")
             for p in root.rglob("*") if p.is_file() and p.parent != inputs
             and p.name not in ("pytest.ini", "hostile_trait.json")}
    assert ".persona_cache/judge.sqlite" in texts or any(".persona_cache" in k for k in texts)
    texts["terminal"] = terminal + "".join(o.stdout + o.stderr for o in outs)
    for secret in (ENV_SECRET, URL_SECRET):
        leaks = [name for name, text in texts.items() if secret in text]
        assert not leaks, (secret, leaks)
    assert XSS_SCRIPT and XSS_IMG  # the synthetic payloads are part of hostile.json
