"""The wheel: package data in, test and bench tooling out; installed alone, the plugin works."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SUITE = """\
trait: evil
layer: 1
positions: all
coefficients: [-2, 0, 2]
n_questions: 2
max_new_tokens: 4
extraction: {n_questions: 2, n_instructions: 2, max_new_tokens: 4, trait_threshold: 0,
             coherence_threshold: 0, min_pairs: 1}
expectations:
  - kind: coeff_zero_matches_baseline
    n_prompts: 2
    max_new_tokens: 4
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(out)], check=True,
                   capture_output=True, text=True)
    (found,) = out.glob("pytest_persona-*.whl")
    return found


def test_wheel_ships_data_and_no_tooling(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"pytest_persona/data/traits/{t}.json" for t in ("evil", "sycophantic")} <= set(names)
    assert "pytest_persona/data/judge/anchors.json" in names
    resources = {"page.html.jinja2", "report.jinja2", "comparison.html.jinja2", "style.css"}
    assert {f"pytest_persona/report/resources/{r}" for r in resources} <= set(names)
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/"))
                or "localserver" in n or n.endswith(("bench.py", "demo.py"))]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "persona = pytest_persona.plugin.hooks" in zipfile.ZipFile(wheel).read(
        entry_points).decode()


RENDER = """\
import pytest_persona
from pytest_persona.report.html import render_report
from pytest_persona.report.templates import environment
page = render_report({"model": {"name": "<m>"}, "traits": {}, "expectations": []})
assert page.startswith("<!DOCTYPE html>") and "&lt;m&gt;" in page and ".persona-report{" in page
print(pytest_persona.__file__, environment().get_template("report.jinja2").filename)
"""


def test_installed_wheel_renders_from_its_own_templates(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PYTHONPATH": str(site)}
    ran = subprocess.run([sys.executable, "-c", RENDER], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-2000:]
    package, template = ran.stdout.split()
    assert package.startswith(str(site)) and template.startswith(str(site))


def test_installed_wheel_runs_help_and_a_tiny_suite(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], check=True, capture_output=True,
                               text=True).stdout.strip())
    zipfile.ZipFile(wheel).extractall(site)  # a pure-Python wheel installs by unpacking
    # dependencies (torch, transformers, ...) come from this environment, after the wheel
    (site / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    project = tmp_path / "project"
    (project / "trait_suites").mkdir(parents=True)
    (project / "trait_suites" / "evil.yaml").write_text(SUITE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(py), "-c", "import pytest_persona; print(pytest_persona.__file__)"],
                           cwd=project, env=env, capture_output=True, text=True)
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr[-2000:]
    helped = subprocess.run([str(py), "-m", "pytest", "--help"], cwd=project, env=env,
                            capture_output=True, text=True)
    assert helped.returncode == 0 and "--persona-model" in helped.stdout, helped.stderr[-2000:]
    ran = subprocess.run([str(py), "-m", "pytest", "trait_suites", "-p", "no:cacheprovider", "-q",
                          "--persona-model", "tiny-random-qwen2", "--persona-judge", "offline",
                          "--persona-results", str(tmp_path / "results.json")],
                         cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0 and "1 passed" in ran.stdout, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert (tmp_path / "results.json").exists()
