"""persona timeline: the page is self-contained, escaped, and marks the interval and stop."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.cli import main
from pytest_persona.errors import ResultsError
from pytest_persona.report.timeline import render_timeline, trait_plot, validate_timeline

HOSTILE = '<script>alert("x")</script>&evil'
QUOTE = "a\" onload=\"alert(1)"


def doc(stop: bool = True) -> dict[str, Any]:
    def check(step: int, shift: float) -> dict[str, Any]:
        return {"step": step, "epoch": step / 10, "trigger": "every_steps", "seconds": 0.5,
                "traits": {HOSTILE: {"shift": shift, "ci_low": shift - 0.1,
                                     "ci_high": shift + 0.1, "n": 20},
                           QUOTE: {"shift": -shift, "ci_low": -shift - 0.2,
                                   "ci_high": -shift + 0.2, "n": 20}}}
    return {"format": "pytest-persona-timeline", "version": 1, "layer": 3,
            "model": "<img src=x onerror=alert(1)>", "measure": "paired <b>shift</b>",
            "reference": {"kind": "start", "fingerprint": "weights-sha256:abc", "step": 0},
            "cost": {"forward_passes_per_check": 40, "batch_size": 16},
            "traits": {HOSTILE: {"stop_if": 0.5}, QUOTE: {"stop_if": None}},
            "checks": [check(0, 0.0), check(10, 0.3), check(20, 0.8)],
            "stop": ({"step": 20, "trait": HOSTILE, "ci_low": 0.7, "bound": 0.5,
                      "message": "stopping <now> because " + HOSTILE} if stop else None)}


def test_hostile_names_are_escaped_everywhere():
    page = render_timeline(validate_timeline(doc()))
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;evil" in page
    assert 'onload="' not in page and "onload=&quot;alert(1)" in page
    assert "stopping &lt;now&gt;" in page
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        ET.fromstring(svg)  # well-formed XML: no name broke out of an attribute or element
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no fetches


def test_plot_has_a_band_a_point_per_check_the_bound_and_the_stop():
    svg = trait_plot(doc(), HOSTILE)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}circle")) == 3
    band = root.find(f"{ns}polygon")
    assert band is not None and band.get("class") == "pp-ci-band"
    lines = {el.get("class") for el in root.findall(f"{ns}line")}
    assert {"pp-bound", "pp-stop", "pp-zero"} <= lines
    assert "stopped at step 20" in svg and "stop_if 0.5" in svg
    other = trait_plot(doc(), QUOTE)  # the stop belongs to the other trait
    assert "pp-stop" not in other and "pp-bound" not in other
    assert "95% CI -1.0000 to -0.6000, n=20" in other  # each point says its interval and n


def test_no_stop_no_stop_mark():
    page = render_timeline(validate_timeline(doc(stop=False)))
    assert 'class="pp-stop"' not in page and "stopped at step" not in page


def test_cli_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    src = tmp_path / "t.json"
    src.write_text(json.dumps(doc()))
    assert main(["timeline", str(src), "-o", str(tmp_path / "t.html")]) == 0
    assert (tmp_path / "t.html").read_text().startswith("<!DOCTYPE html>")
    assert "timeline written to" in capsys.readouterr().out


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.update(format="other"), "not a pytest-persona timeline"),
    (lambda d: d.update(version=9), "'version'"),
    (lambda d: d["checks"][1].update(step="ten"), "'checks[1].step'"),
    (lambda d: d["checks"][2]["traits"][HOSTILE].update(shift="big"),
     "checks[2].traits."),
    (lambda d: d.update(stop="yes"), "'stop'"),
])
def test_bad_files_name_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  mutate: Any, field: str):
    d = doc()
    mutate(d)
    with pytest.raises(ResultsError, match=re.escape(field)):
        validate_timeline(d, "t.json")
    src = tmp_path / "t.json"
    src.write_text(json.dumps(d))
    assert main(["timeline", str(src), "-o", str(tmp_path / "t.html")]) == 2
    assert str(src) in capsys.readouterr().err and not (tmp_path / "t.html").exists()
