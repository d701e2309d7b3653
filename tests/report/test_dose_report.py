"""Dose, steering damage and judge agreement in the terminal summary, the HTML and the plots."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from pytest_persona.report import plots
from pytest_persona.report.html import render_report
from pytest_persona.report.summary import format_summary_table, trait_notes
from pytest_persona.results.document import validate_results

XSS = "<script>window.__pwned=1</script>"


def _trait() -> dict[str, Any]:
    sweep = [{"coeff": c, "dose": abs(c) / 4, "n": 10, "mean": 20 + 10 * c, "ci": [10, 30],
              "coherence_mean": 80.0, "coherence_ci": [70, 90], "missing": 0,
              "examples": [{"question": "q", "answer": "a", "score": 1.0, "coherence": 2.0}]}
             for c in (-2.0, 0.0, 2.0)]
    return {
        "layer": 1, "positions": "response", "coefficients": [-2.0, 0.0, 2.0],
        "dose": {"vector_norm": 2.0, "mean_norm": 8.0, "n_tokens": 40, "layer": 1,
                 "given": "doses", "procedure": "p", "coefficients": [-2.0, 0.0, 2.0],
                 "doses": [0.5, 0.0, 0.5]},
        "sweep": sweep,
        "damage": [{"coeff": c, "dose": abs(c) / 4, "kl": 0.1 * abs(c), "ci": [0.0, 0.3],
                    "n": 50} for c in (-2.0, 0.0, 2.0)],
        "judge_agreement": {f"labels{XSS}.jsonl": {"metric": "auc", "value": 0.875,
                                                   "ci": [0.7, 0.95], "n": 44,
                                                   "judge": "offline"}},
        "metrics": {},
    }


def _results() -> dict[str, Any]:
    return {"schema_version": 2, "model": {"name": "m"}, "traits": {"evil": _trait()},
            "expectations": []}


def test_results_with_dose_damage_agreement_validate() -> None:
    validate_results(_results())


def test_summary_lists_doses_damage_and_agreement() -> None:
    lines = trait_notes("evil", _trait())
    assert lines[0].startswith("evil: coeff = dose at layer 1: -2 = 0.5, 0 = 0, 2 = 0.5 "
                               "(suite gave doses)")
    assert "mean over 50 benign prompts" in lines[1] and "2 (dose 0.5): 0.2 [0, 0.3]" in lines[1]
    assert lines[2].endswith("AUC 0.875 (95% CI 0.70-0.95, n=44)")
    table = format_summary_table(_results())
    assert "coeff = dose at layer 1" in table and "judge agreement" in table


def test_html_shows_dose_column_note_damage_plot_and_agreement() -> None:
    page = render_report(_results())
    assert XSS not in page and "&lt;script&gt;" in page
    assert "given as doses 0.500, 0.000, 0.500" in page
    assert "mean ||h|| = 8.0" in page and "over 40 tokens" in page
    assert 'class="pp-plot pp-damage"' in page and "pp-pt-kl" in page
    assert "AUC 0.875 (95% CI 0.70-0.95, n=44" in page
    assert "measured agreement with labels" in page
    assert "<th class=\"pp-num\">dose</th>" in page or ">dose</th>" in page


def test_dose_response_plot_labels_doses() -> None:
    svg = plots.dose_response_svg(_trait()["sweep"])
    root = ET.fromstring(svg)
    ticks = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")
             if (t.get("class") or "") == "pp-dose-tick"]
    assert ticks == ["d 0.5", "d 0", "d 0.5"]
    assert "relative dose below" in svg
    no_dose = plots.dose_response_svg([{k: v for k, v in r.items() if k != "dose"}
                                       for r in _trait()["sweep"]])
    assert "pp-dose-tick" not in no_dose


def test_damage_plot_places_kl_by_signed_dose() -> None:
    t = _trait()
    svg = plots.damage_svg(t["damage"], t["sweep"])
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    kl = [c for c in root.iter(ns + "circle") if c.get("class") == "pp-pt-kl"]
    score = [c for c in root.iter(ns + "circle") if c.get("class") == "pp-pt-score"]
    assert len(kl) == 3 and len(score) == 3
    xs = [float(c.attrib["cx"]) for c in kl]
    assert xs[0] < xs[1] < xs[2]  # doses -0.5, 0, +0.5 (signed by the coefficient)
    ys = [float(c.attrib["cy"]) for c in kl]
    assert ys[1] > ys[0] == ys[2]  # KL 0 at dose 0 sits lowest
    assert "n=50 prompts" in svg
    assert "no steering damage" in plots.damage_svg([])


def test_flip_fraction_in_summary_and_html() -> None:
    from pytest_persona.report.summary import flip_summary

    res = _results()
    res["traits"]["evil"]["sweep"][0]["judge_spread"] = {"k": 3, "mean": 7.5, "max": 20.0,
                                                         "n": 2, "per_answer": [20.0, None]}
    res["expectations"] = [
        {"nodeid": "a", "outcome": "passed", "figures": {"judge_repeats": 3,
                                                         "verdict_flips": True,
                                                         "pass_k": False}},
        {"nodeid": "b", "outcome": "passed", "figures": {"judge_repeats": 3,
                                                         "verdict_flips": False,
                                                         "pass_k": True}},
        {"nodeid": "c", "outcome": "passed", "figures": {"judge_repeats": 3,
                                                         "verdict_flips": False,
                                                         "pass_k": True}},
        {"nodeid": "d", "outcome": "passed", "figures": {"coeff": 1}},
    ]
    validate_results(res)
    s = flip_summary(res)
    assert s == {"n": 3, "flips": 1, "pass_k": 2, "flip_fraction": 1 / 3, "k": [3]}
    want = ("judge repeats (k=3): 1 of 3 judge-based verdicts flip across repeats (33.3%); "
            "2 pass in every repeat (pass^k)")
    assert want in format_summary_table(res)
    page = render_report(res)
    assert want in page and ">judge spread</th>" in page
    assert flip_summary(_results()) is None
