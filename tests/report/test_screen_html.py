"""The persona screen page and its block in the suite report: escaped, one block per trait."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_persona.report.screen_html import render_screen, report_block

HOSTILE = '<script>alert("x")</script>'


def _trait(threshold: float | None) -> dict[str, Any]:
    top = [
        {
            "line": 3,
            "id": "a" + HOSTILE,
            "score": 1.5,
            "projection": 2.0,
            "prompt": [{"role": "user", "content": "hi " + HOSTILE}],
            "response": HOSTILE,
            "own_projection": 0.5,
            "own_response": "own " + HOSTILE,
        },
        {
            "line": 9,
            "id": "b",
            "score": 0.2,
            "projection": 0.1,
            "prompt": "plain",
            "response": "ok",
            "own_projection": 0.0,
            "own_response": "ok",
        },
    ]
    return {
        "n": 40,
        "mean": 0.42,
        "ci": [0.1, 0.7],
        "threshold": threshold,
        "above": 3 if threshold is not None else None,
        "fraction_above": 0.075 if threshold is not None else None,
        "top": top,
    }


def _result(baseline: str) -> dict[str, Any]:
    return {
        "data": "d" + HOSTILE,
        "data_sha256": "ab" * 32,
        "baseline": baseline,
        "measure": "projection_difference" if baseline == "generate" else "projection",
        "n_samples": 40,
        "skipped_lines": 1,
        "skipped_examples": ["line 7: " + HOSTILE],
        "model": HOSTILE,
        "layer": 3,
        "generation": {"max_new_tokens": 8},
        "interval": "95% interval",
        "traits": {"evil": _trait(1.0), HOSTILE: _trait(None)},
        "histograms": {"evil": {"edges": [0.0, 1.0, 2.0], "counts": [30, 10]}},
    }


@pytest.mark.parametrize("baseline", ["generate", "none"])
def test_page_escapes_everything_and_has_a_block_per_trait(baseline: str) -> None:
    page = render_screen(_result(baseline))
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert "<script" not in page and page.count("&lt;script&gt;") >= 8
    assert page.count('<section class="pp-screen"') == 2
    assert "<code>abababababababab</code>" in page
    assert "3 of 40 samples (7.5%) above the threshold 1.000" in page
    assert "; no threshold given" in page
    assert '<td class="num pp-flag">1.500</td>' in page and '<td class="num">0.200</td>' in page
    own = "model&#x27;s own response"
    assert (own in page) == (baseline == "generate")
    assert ("max_new_tokens=8" in page) == (baseline == "generate")


def test_report_block_is_a_fragment_with_an_h4() -> None:
    block = report_block(
        {
            "data": "x.jsonl",
            "trait_summary": _trait(1.0),
            "baseline": "none",
            "histogram": {"edges": [0.0, 1.0], "counts": [2]},
        },
        top_limit=1,
    )
    assert block.startswith('<section class="pp-screen" id="pp-screen-dataset-screen-x-jsonl">')
    assert "<h4>dataset screen: x.jsonl</h4>" in block and "Top 1 samples by score" in block
    assert "<html" not in block and "<script" not in block


def test_the_own_answer_mode_is_read_under_its_new_name_and_its_old_one() -> None:
    old = _result("none")
    new = {**{k: v for k, v in old.items() if k != "baseline"}, "own": "none"}
    assert render_screen(new) == render_screen(old)
    assert "model&#x27;s own response" not in render_screen(new)
