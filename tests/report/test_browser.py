"""Open rendered reports in headless Chromium and check that they actually render.

Skipped when chromium/chromedriver or selenium are missing, unless PERSONA_REQUIRE_BROWSER=1.
Set PERSONA_SAVE_SCREENSHOT=1 to keep a copy under reports/screenshot-report-test.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.report.html import render_comparison, render_persona_section, render_report
from tests.report.synthetic import make_results

CHROMIUM = os.environ.get("PERSONA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PERSONA_CHROMEDRIVER", "/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[2]


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for p in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            return f"{p} not found (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    why = _missing()
    if why:
        if os.environ.get("PERSONA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"PERSONA_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1360,1800",
                f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver, path: Path) -> None:
    driver.get(path.as_uri())
    assert driver.execute_script("return document.readyState") == "complete"


def _visible_svgs(driver, selector: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = driver.execute_script(
        """return Array.from(document.querySelectorAll(arguments[0])).map(e => {
             const r = e.getBoundingClientRect();
             return {w: r.width, h: r.height, cls: e.getAttribute('class')};
           });""",
        selector,
    )
    return found


def test_standalone_report_renders(browser, tmp_path):
    results = make_results(("sycophantic", "evil", "hallucinating"), payload=True)
    page = tmp_path / "report.html"
    page.write_text(render_report(results), encoding="utf-8")
    _open(browser, page)

    # plots: dose + projection + norms for the two full traits, projection for the third,
    # and one heatmap
    svgs = _visible_svgs(browser, "svg.pp-plot")
    kinds = [s["cls"].split()[1] for s in svgs]
    assert kinds.count("pp-dose") == 2
    assert kinds.count("pp-proj") == 3
    assert kinds.count("pp-norms") == 2
    assert kinds.count("pp-heatmap") == 1
    assert all(s["w"] > 100 and s["h"] > 80 for s in svgs), svgs
    n_points = browser.execute_script(
        "return document.querySelectorAll('svg.pp-dose circle.pp-pt-score').length")
    assert n_points == 2 * 6
    # marks have real size (drawn, not collapsed)
    bars = browser.execute_script(
        """return Array.from(document.querySelectorAll('svg.pp-proj rect.pp-bar'))
             .map(e => e.getBoundingClientRect().height);""")
    assert len(bars) == 9 and all(h > 0 for h in bars)

    # tables have rows
    for cls, at_least in (("pp-overview", 3), ("pp-sweep", 6), ("pp-examples", 12),
                          ("pp-expectations", 12), ("pp-figures", 3)):
        rows = browser.execute_script(
            f"return document.querySelectorAll('table.{cls} tbody tr').length")
        assert rows >= at_least, (cls, rows)

    # the offline-judge warning is visible
    warn = browser.find_element("id", "pp-offline-warning")
    assert warn.is_displayed()
    assert "offline judge" in warn.text.lower()
    assert warn.size["height"] > 10

    # the injected payloads show as text and did not run
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    body = browser.find_element("tag name", "body").text
    assert "<script>window.__pwned=1;alert(1)</script>" in body
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0

    shot = tmp_path / "report.png"
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1360, min(max(int(height) + 40, 900), 12000))
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("PERSONA_SAVE_SCREENSHOT"):
        dest = REPO / "reports" / "screenshot-report-test.png"
        dest.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, dest)
    browser.set_window_size(1360, 1800)


def test_fragment_without_csp_does_not_run_payloads(browser, tmp_path):
    """The pytest-html fragment has no CSP of its own: escaping alone must hold."""
    results = make_results(("sycophantic", "evil"), payload=True)
    page = tmp_path / "fragment.html"
    page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                    + render_persona_section(results) + "</body></html>", encoding="utf-8")
    _open(browser, page)
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0
    assert browser.find_element("id", "pp-offline-warning").is_displayed()
    assert len(_visible_svgs(browser, "svg.pp-plot")) == 2 * 3 + 1


def test_comparison_page_renders(browser, tmp_path):
    a = make_results(("sycophantic", "evil"), seed=0)
    b = make_results(("sycophantic", "evil"), seed=1, shift=13)
    page = tmp_path / "compare.html"
    page.write_text(render_comparison(a, b, ["baseline_score:+5"]), encoding="utf-8")
    _open(browser, page)
    flagged = browser.execute_script("return document.querySelectorAll('td.pp-flag').length")
    assert flagged >= 2
    svgs = _visible_svgs(browser, "svg.pp-dose")
    assert len(svgs) == 4 and all(s["w"] > 100 for s in svgs)
    assert "beyond rule baseline_score:+5" in browser.find_element("tag name", "body").text
    if os.environ.get("PERSONA_SAVE_SCREENSHOT"):
        browser.save_screenshot(str(REPO / "reports" / "screenshot-compare-test.png"))
