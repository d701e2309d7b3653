from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from pytest_persona.report import plots
from tests.report.synthetic import XSS_IMG, XSS_SCRIPT, make_results

NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert float(root.attrib["width"]) > 0 and float(root.attrib["height"]) > 0
    assert "<script" not in svg.lower()
    return root


def _cls(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if cls in (e.get("class") or "").split()]


def test_dose_response_points_and_error_bars():
    sweep = make_results()["traits"]["sycophantic"]["sweep"]
    root = _parse(plots.dose_response_svg(sweep))
    assert len(_cls(root, "pp-pt-score")) == len(sweep) == 6
    assert len(_cls(root, "pp-pt-coherence")) == 6
    texts = " ".join(t.text or "" for t in root.iter(f"{NS}text"))
    assert "steering coefficient" in texts and "judge score" in texts and "coherence" in texts
    # one error bar path per point with a CI, plus two polylines
    paths = list(root.iter(f"{NS}path"))
    assert len(paths) == 12 + 2


def test_dose_response_handles_gaps_and_empty():
    sweep: list[dict[str, Any]] = [{"coeff": 0, "mean": None, "n": 0},
                                   {"coeff": 1, "mean": 40.0, "ci": None},
                                   {"coeff": 2, "mean": 140.0}]
    root = _parse(plots.dose_response_svg(sweep))
    assert len(_cls(root, "pp-pt-score")) == 2
    assert len(_cls(root, "pp-pt-coherence")) == 0
    root = _parse(plots.dose_response_svg([]))
    assert "no sweep data" in "".join(root.itertext())


def test_projection_bars():
    proj = make_results()["traits"]["sycophantic"]["projections"]
    root = _parse(plots.projection_svg(proj))
    bars = _cls(root, "pp-bar")
    assert len(bars) == 3
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert labels.index("baseline") < labels.index("prompted") < labels.index("steered")
    neg = {"baseline": {"mean": -2.0, "ci": [-2.5, -1.5]}, "steered": {"mean": 3.0},
           "broken": {"mean": None}}
    assert len(_cls(_parse(plots.projection_svg(neg)), "pp-bar")) == 2
    _parse(plots.projection_svg({}))


def test_norms_marks_chosen_layer():
    norms = [0.5 + i * 0.1 for i in range(30)]
    root = _parse(plots.norms_svg(norms, 19))
    assert len(_cls(root, "pp-bar")) == 30
    [chosen] = _cls(root, "pp-chosen")
    assert "layer 19" in "".join(chosen.itertext())
    assert "layer 19" in [t.text for t in root.iter(f"{NS}text")]
    _parse(plots.norms_svg([], None))


def test_cosine_heatmap_cells_and_escaping():
    names = ["evil", XSS_SCRIPT, XSS_IMG]
    m: list[list[float | None]] = [[1.0, 0.37, -0.47], [0.37, 1.0, None], [-0.47, None, 1.0]]
    svg = plots.cosine_heatmap_svg(names, m)
    root = _parse(svg)
    assert len(_cls(root, "pp-cell")) == 9
    assert "<script>" not in svg and "<img" not in svg
    assert "0.37" in [t.text for t in root.iter(f"{NS}text")]
    assert "n/a" in [t.text for t in root.iter(f"{NS}text")]


def test_escaped_titles_in_plots():
    svg = plots.dose_response_svg([{"coeff": 1, "mean": 5}], title=XSS_IMG)
    _parse(svg)
    assert "<img" not in svg


def test_paired_strip_plot_marks_each_question_the_interval_and_the_bound():
    svg = plots.paired_strip_svg([1.0, -2.0, 3.5, float("nan"), None], [-1.0, 3.0], 5.0,
                                 title=XSS_SCRIPT)
    root = _parse(svg)
    assert len(_cls(root, "pp-pt-diff")) == 3  # non-finite values are left out
    assert len(_cls(root, "pp-bound")) == 1 and len(_cls(root, "pp-ci")) == 1
    assert "<script>" not in svg
    assert "no per-question values" in plots.paired_strip_svg([], None, None)


def test_report_comparison_block_lists_each_check():
    from pytest_persona.report import render_persona_section
    from pytest_persona.results.compare import compare_results
    from tests.results.test_compare import _noisy_pair

    base, cur = _noisy_pair(shift=12.0, noise=2.0)
    cur["comparison"] = compare_results(cur, base, ["baseline_score:+5"],
                                        baseline_path="b.json").to_dict()
    html = render_persona_section(cur)
    assert "pp-checks" in html and "95% CI" in html and "FAIL" in html
    assert html.count('class="pp-pt-diff"') == 20


def test_comparison_checks_escape_hostile_trait_names():
    from pytest_persona.report.html import render_comparison_report
    from tests.results.test_compare import _pq_results

    name = "evil" + XSS_IMG + XSS_SCRIPT
    base = _pq_results({name: [10.0 + i for i in range(8)]})
    cur = _pq_results({name: [30.0 + i for i in range(8)]})
    html = render_comparison_report(cur, base, ["baseline_score:+5"])
    assert "pp-checks" in html and "pp-strip" in html
    assert XSS_SCRIPT not in html and "<img" not in html
