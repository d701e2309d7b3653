from __future__ import annotations

import re
from typing import Any

import pytest

from pytest_persona.report.html import (
    render_comparison,
    render_comparison_report,
    render_persona_section,
    render_report,
)
from pytest_persona.results.compare import compare_results
from tests.report.synthetic import make_results

ESCAPED = ["&lt;script&gt;window.__pwned=1;alert(1)&lt;/script&gt;",
           "&quot;&gt;&lt;img src=x onerror=&quot;window.__pwned=1;alert(1)&quot;&gt;",
           "&lt;script&gt;alert(1)&lt;/script&gt;"]


def _pages() -> dict[str, str]:
    r = make_results(("sycophantic", "evil", "hallucinating"), payload=True)
    b = make_results(("sycophantic", "evil"), payload=True, shift=13, seed=3)
    r["comparison"] = compare_results(r, b, ["baseline_score:+5"]).to_dict()
    return {
        "section": render_persona_section(r),
        "report": render_report(r),
        "comparison": render_comparison_report(r, b, ["baseline_score:+5"]),
    }


@pytest.mark.parametrize("which", ["section", "report", "comparison"])
def test_payloads_are_escaped(which):
    html = _pages()[which]
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "onerror=\"" not in html and "onerror=alert" not in html
    for esc in ESCAPED[:2]:
        assert esc in html, esc


@pytest.mark.parametrize("which", ["section", "report", "comparison"])
def test_no_external_resources(which):
    html = _pages()[which]
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", html, re.I)
    assert "@import" not in html and "url(" not in html
    assert "<link" not in html.lower()


def test_report_content():
    r = make_results(("sycophantic", "evil", "hallucinating"))
    html = render_report(r, title="My run")
    assert html.startswith("<!DOCTYPE html>") and "<title>My run</title>" in html
    assert "Content-Security-Policy" in html and "script-src" not in html  # default-src 'none'
    assert 'id="pp-offline-warning"' in html and "WARNING: offline judge" in html
    assert r["model"]["fingerprint"] in html  # full fingerprint kept in the title attribute
    assert html.count('class="pp-plot pp-dose"') == 2
    assert html.count('class="pp-plot pp-heatmap"') == 1
    assert "Failures (3)" in html
    assert "is above the ceiling 10" in html
    assert "trait_suites/evil.yaml::baseline_ceiling[max=10]" in html
    assert html.count("<tr") > 40


def test_where_each_vector_came_from_reads_as_a_sentence():
    """Regression: the trait header said "vector from extracted"."""
    r = make_results(("sycophantic", "evil"))
    r["traits"]["evil"]["vector"]["source"] = "cache"
    html = render_report(r)
    assert "vector extracted in this run" in html and "vector from the cache" in html
    assert "vector from extracted" not in html


def test_section_is_scoped_fragment():
    html = render_persona_section(make_results())
    assert html.startswith('<div class="persona-report"') and html.endswith("</div>")
    assert "<html" not in html and "<body" not in html
    style = html[html.index("<style>") + 7:html.index("</style>")]
    selectors = [s.strip() for s in re.findall(r"(?:^|})\s*([^{}@]+)\{", style)]
    assert selectors and all(s.startswith(".persona-report") or s.startswith("@")
                             for sel in selectors for s in sel.split(","))


def test_online_judge_has_no_warning_and_shows_cost():
    r = make_results(offline=False)
    html = render_persona_section(r)
    assert "pp-offline-warning" not in html
    assert "$0.0412" in html


def test_minimal_results_render():
    r = {"schema_version": 1, "model": {"name": "m"}, "traits": {"t": {}, "u": {"metrics": {
        "baseline_score": 3.0}}}, "expectations": []}
    for html in (render_persona_section(r), render_report(r), render_comparison_report(r, r)):
        for name in ("t", "u"):  # one section per trait, headed by its name
            assert re.search(rf'<section class="pp-trait" id="pp-trait-{name}"><h3 class="pp-h3">'
                             rf'{name}\b', html), name
        assert "3.0" in html  # u's only metric is shown
    assert "no expectations recorded" in render_persona_section(r)


def test_failing_expectation_shows_figures_and_baseline():
    base = make_results(("sycophantic", "evil"))
    cur = make_results(("sycophantic", "evil"), shift=13, seed=1)
    cur["comparison"] = compare_results(cur, base, ["baseline_score:+5"],
                                        baseline_path="reports/base.json").to_dict()
    html = render_persona_section(cur)
    fail = html[html.index('id="pp-failures"'):html.index('id="pp-comparison"')]
    assert "threshold" in fail and "ci_high" in fail
    assert "Against baseline reports/base.json" in fail
    assert "beyond rule baseline_score:+5" in fail


def test_comparison_highlights():
    a = make_results(("sycophantic", "evil"))
    b = make_results(("sycophantic", "evil"), shift=13, seed=1)
    html = render_comparison_report(b, a, ["baseline_score:+5"])
    assert html.count('class="pp-num pp-flag"') == 2
    assert "pp-large" in html
    assert "2 regression(s)" in html
    assert render_comparison_report(a, a, ["baseline_score:+5"]).count('class="pp-num pp-flag"') == 0


def test_fragment_inside_pytest_html(pytester):
    """The fragment goes into pytest-html's summary (via pytest_html_results_summary) intact."""
    pytest.importorskip("pytest_html")
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    pytester.makeconftest(
        f"""
        import sys
        sys.path.insert(0, {str(repo)!r})
        from tests.report.synthetic import make_results
        from pytest_persona.report import render_persona_section

        def pytest_html_results_summary(prefix, summary, postfix):
            prefix.append(render_persona_section(make_results(payload=True)))
        """
    )
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess("--html=out.html", "--self-contained-html",
                                           "-p", "no:cacheprovider", "-p", "no:persona")
    result.assert_outcomes(passed=1)
    html = (pytester.path / "out.html").read_text(encoding="utf-8")
    assert 'id="persona-report"' in html and "pp-offline-warning" in html
    assert "&lt;script&gt;window.__pwned=1" in html
    assert "<script>window.__pwned" not in html


def _sides() -> tuple[dict[str, Any], dict[str, Any]]:
    base = make_results(("sycophantic", "evil"), seed=3)
    cur = make_results(("sycophantic", "evil"), shift=13)
    base["model"]["name"], cur["model"]["name"] = "base-model", "current-model"
    return cur, base


def test_render_comparison_report_takes_sides_in_compare_results_order():
    cur, base = _sides()
    rules = ["baseline_score:+5"]
    page = render_comparison_report(cur, base, rules)
    assert "Persona comparison: base-model vs current-model" in page
    assert re.search(r"<td>model</td><td>base-model</td><td>current-model</td>", page)
    n = len(compare_results(cur, base, rules).regressions)
    assert n > 0 and f"{n} regression(s) beyond rules baseline_score:+5" in page
    swapped = render_comparison_report(base, cur, rules)  # the score fell: no regression
    assert "regression(s)" not in swapped and "No regressions" in swapped


def test_render_comparison_warns_and_maps_its_sides():
    from pytest_persona.report import render_comparison_report as exported

    cur, base = _sides()
    with pytest.warns(DeprecationWarning, match=r"render_comparison_report\(current, baseline\)"):
        old = render_comparison(base, cur, ["baseline_score:+5"], labels=("x", "y"))
    assert old == render_comparison_report(cur, base, ["baseline_score:+5"], labels=("x", "y"))
    assert exported is render_comparison_report


def test_comparison_labels_are_escaped():
    cur, base = _sides()
    del cur["traits"]["evil"]
    page = render_comparison_report(cur, base, labels=("<i>old</i>", "new"))
    assert "<i>" not in page and "only in &lt;i&gt;old&lt;/i&gt;" in page


@pytest.mark.parametrize(("module", "name", "sheet"), [
    ("html", "STYLE", ".persona-report{"), ("html", "PAGE_STYLE", "main.pp-page{"),
    ("screen_html", "CSS", ".pp-text{"), ("timeline", "CSS", ".pp-stop{")])
def test_old_stylesheet_constants_warn_and_give_the_resource(module, name, sheet):
    import importlib

    mod = importlib.import_module(f"pytest_persona.report.{module}")
    with pytest.warns(DeprecationWarning, match="stylesheet"):
        assert sheet in getattr(mod, name)
    with pytest.raises(AttributeError):
        mod.NOT_A_NAME  # noqa: B018
