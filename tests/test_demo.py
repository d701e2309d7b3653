"""A reduced `make demo` (fewer questions and tokens) and the report it produces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.report import validate_results

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    reports = tmp_path_factory.mktemp("reports")
    cache = tmp_path_factory.mktemp("cache")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    proc = subprocess.run(
        [sys.executable, "-m", "demo.run", "--reports", str(reports),
         "--cache", str(cache), "--persona-max-questions", "6", "--max-new-tokens", "24"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500,
    )
    return reports, proc


@pytest.mark.slow
def test_reduced_demo_writes_report_and_results(demo_run: tuple[Path, Any]) -> None:
    reports, proc = demo_run
    out = proc.stdout + proc.stderr
    assert (reports / "report.html").exists(), out[-3000:]
    results = json.loads((reports / "persona-results.json").read_text())
    validate_results(results)
    assert results["model"]["name"] == "smollm2-135m"
    assert results["judge"]["offline"] is True
    assert {"sycophantic", "evil", "hallucinating"} <= set(results["traits"])
    kinds = {e["kind"] for e in results["expectations"]}
    assert kinds == {"steering_raises", "steering_lowers", "coeff_zero_matches_baseline",
                     "projection_order", "cross_trait_cosine", "monotonic", "coherence_guard",
                     "baseline_ceiling", "checkpoint_shift", "vector_drift",
                     "projection_tracks_score"}
    html = (reports / "report.html").read_text()
    assert '<h2 class="pp-h2">Persona vectors</h2>' in html  # the persona section is embedded
    for trait in ("sycophantic", "evil", "hallucinating"):
        assert f'id="pp-trait-{trait}"' in html, trait
    assert "<svg" in html and "offline" in html.lower()
    assert "[persona] generate" in out  # progress is visible under pytest
    assert "persona summary" in out
    assert "time per phase:" in out and "trait suites (pytest trait_suites/)" in out
    timings = json.loads((reports / "demo-timings.json").read_text())
    assert {p["name"] for p in timings["phases"]} >= {
        "GGUF conversion of the embedded model", "trait suites (pytest trait_suites/)",
        "checkpoint fold (vector into an MLP bias)", "gate run on the modified checkpoint",
        "gate run on the unchanged model"}
    # wall and CPU seconds for every phase the demo ran itself (the install's CPU is unknown)
    for phase in timings["phases"]:
        assert phase["wall_s"] >= 0, phase
        assert phase["cpu_s"] is not None or phase["name"].startswith("install"), phase
    suite = timings["parts"]["trait suites (pytest trait_suites/)"]
    names = {p["name"] for p in suite}
    for trait in ("sycophantic", "evil", "hallucinating"):
        assert {f"{trait}: extraction", f"{trait}: sweep"} <= names, names
    assert sum(p["cpu_s"] for p in suite) <= next(
        p["cpu_s"] for p in timings["phases"] if p["name"].startswith("trait suites")) + 1
    assert timings["n"] == 1 and "getrusage" in timings["procedure"]
    assert len(timings["machine"]["at_start"]["load_avg_1_5_15"]) == 3
    table = out[out.index("time per phase:"):]
    assert "cpu s" in table and "- evil: extraction" in table


@pytest.mark.slow
def test_reduced_demo_gate_catches_the_modified_checkpoint(demo_run: tuple[Path, Any]) -> None:
    reports, proc = demo_run
    out = proc.stdout + proc.stderr
    gate = json.loads((reports / "gate-results.json").read_text())
    by_kind = {e["kind"]: e for e in gate["expectations"]}
    assert by_kind["checkpoint_shift"]["outcome"] == "failed", out[-3000:]
    assert by_kind["checkpoint_shift"]["figures"]["shift"] > 2.0
    main = json.loads((reports / "persona-results.json").read_text())
    shift = [e for e in main["expectations"] if e["kind"] == "checkpoint_shift"][0]
    assert shift["outcome"] == "passed" and shift["figures"]["shift"] == 0.0
    assert "CAUGHT" in out
    # the same gate on the unchanged model passes: no false alarm
    unchanged = json.loads((reports / "gate-unchanged-results.json").read_text())
    assert {e["outcome"] for e in unchanged["expectations"]} == {"passed"}, out[-3000:]
    assert unchanged["comparison"]["regressions"] == []
    assert "passed (exit 0), as it should" in out


@pytest.mark.slow
def test_demo_report_renders_in_chromium(demo_run: tuple[Path, Any], tmp_path: Path) -> None:
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        if os.environ.get("PERSONA_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium and chromedriver are required (PERSONA_REQUIRE_BROWSER=1)")
        pytest.skip("chromium/chromedriver not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    reports, _ = demo_run
    opts = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'prof'}",
                 "--window-size=1400,2400"):
        opts.add_argument(flag)
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        driver.get((reports / "report.html").resolve().as_uri())
        svgs = [s for s in driver.find_elements(By.CSS_SELECTOR, "svg")
                if s.size["width"] > 50 and s.size["height"] > 50]
        assert len(svgs) >= 4
        rows = driver.find_elements(By.CSS_SELECTOR, "table tr")
        assert len(rows) > 10
        shot = tmp_path / "report.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("PERSONA_SAVE_SCREENSHOT"):
            shutil.copy(shot, ROOT / "reports" / "screenshot.png")
    finally:
        driver.quit()
