"""Measured figures reach the docs only through the hook: no value of a figure in
``benchmarks/results/*.json`` is typed into a page that renders that file, nor into the README
(which GitHub shows as it is, so it links to the pages instead)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.docs.test_docs_hook import ROOT, hook

RESULTS = ROOT / "benchmarks" / "results"

#: the pages whose hand-typed figures became ``bench:`` markers (issue #24)
CONVERTED = [
    "explanation/performance.md",
    "explanation/statistics.md",
    "fine-tuning.md",
    "how-to/screening.md",
    "reference/cache.md",
    "development.md",
    "reference/judges.md",
    "steering-dose.md",
]


def spellings(value: Any) -> set[str]:
    """How a figure's value could be typed: as stored, as the hook prints it, and rounded to
    three significant digits or two decimals. Only spellings with at least three significant
    digits count (a 0, a 1 or a 20 is too common in prose to say anything)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return set()
    v = abs(value)
    out = {str(v), hook._number(v), f"{v:.3g}", f"{v:,}"}
    if isinstance(v, float) and not v.is_integer():
        out |= {f"{v:.2f}", f"{v:.3f}", f"{v:.1f}"}
    return {s for s in out if len(re.sub(r"[^0-9]", "", s).lstrip("0")) >= 3}


def typed_figures(markdown: str, figures: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(figure name, spelling) for every figure value that appears as literal text."""
    hits = []
    for f in figures:
        for text in sorted(spellings(f.get("value"))):
            if re.search(rf"(?<![\w.,]){re.escape(text)}(?![\w]|[.,]\d)", markdown):
                hits.append((str(f.get("name")), text))
    return hits


def _rendered_files(markdown: str) -> list[str]:
    return [m.group(2).split()[0] for m in hook.MARKER.finditer(markdown) if m.group(1) == "bench"]


def _bench_files() -> list[str]:
    """The harness reports in ``benchmarks/results``; the demo's results documents
    (``schema_version``, docs/reference/results.md) have no ``figures``: their quoted values are
    checked in test_docs_hook.py."""
    return [p.name for p in sorted(RESULTS.glob("*.json"))
            if "schema_version" not in json.loads(p.read_text())]


def _figures(name: str) -> list[dict[str, Any]]:
    figures: list[dict[str, Any]] = json.loads((RESULTS / name).read_text())["figures"]
    return figures


def test_a_typed_figure_is_found_and_a_rendered_one_is_not() -> None:
    figures = [
        {"name": "auc_evil", "value": 0.7391},
        {"name": "killed", "value": 2610},
        {"name": "rate", "value": 0.0},
        {"name": "ok", "value": True},
    ]
    assert typed_figures("the AUC was **0.739** here", figures) == [("auc_evil", "0.739")]
    assert typed_figures("killed 2,610 of them", figures) == [("killed", "2,610")]
    assert typed_figures("<!-- bench: x.json -->\nrate 0 and 1, 0.7390001 or 10.739", figures) == []


@pytest.mark.parametrize("page", CONVERTED)
def test_converted_pages_render_their_figures_instead_of_typing_them(page: str) -> None:
    markdown = (ROOT / "docs" / page).read_text(encoding="utf-8")
    files = _rendered_files(markdown)
    assert files, f"{page} renders no result file"
    assert "Figures not yet rendered" not in markdown
    typed = [(name, *hit) for name in files for hit in typed_figures(markdown, _figures(name))]
    assert not typed, f"{page}: measured figures typed by hand (file, figure, text): {typed}"


def test_the_readme_types_no_measured_figure() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    typed = [
        (name, *hit)
        for name in _bench_files()
        for hit in typed_figures(readme, _figures(name))
    ]
    assert not typed, f"README.md: measured figures typed by hand (file, figure, text): {typed}"


def test_every_result_file_has_the_harness_shape_and_says_where_it_comes_from() -> None:
    for name in _bench_files():
        path = RESULTS / name
        doc = json.loads(path.read_text())
        for key in ("benchmark", "machine", "command", "figures"):
            assert key in doc, f"{path.name}: no {key!r}"
        if doc.get("remeasured") is False:
            runs = doc["provenance"] if isinstance(doc["provenance"], list) else [doc["provenance"]]
            for run in runs:
                assert re.fullmatch(r"[0-9a-f]{40}", run["commit"]), path.name
                assert re.fullmatch(r"\d{4}-\d\d-\d\d", run["date"]), path.name
                assert run["command"].startswith(("python -m benchmarks.", "make ")), path.name
