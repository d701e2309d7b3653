"""The MkDocs hook (docs/_hooks/persona_docs.py) that renders measured figures, options, CLI help,
kind fields and import floors into the docs pages from the files they describe."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "docs" / "_hooks" / "persona_docs.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("persona_docs_hook", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


hook = _load()

GPU_DOC = {
    "machine": {"device": "cuda", "device_name": "Test GPU 9000", "torch": "9.9",
                "transformers": "8.8", "python": "3.99"},
    "figures": [
        {"name": "hook_ratio_all", "value": 1.0371, "unit": "ratio", "target": ">= 0.97",
         "what": "steered | unsteered", "step": "hook_overhead"},
        {"name": "coeff0_bit_identical", "value": True, "unit": "bool", "target": None,
         "what": "zero coefficients", "step": "parity"},
        {"name": "weights_mib", "value": 14568.0, "unit": "MiB", "target": None,
         "what": "weights", "step": "parity"},
    ],
    "total_wall_s": 371.1,
    "complete": True,
}


def _results(tmp_path: Path, name: str, doc: object) -> Path:
    folder = tmp_path / "benchmarks" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(doc))
    return tmp_path


def test_bench_marker_becomes_a_table_of_the_files_figures(tmp_path: Path) -> None:
    root = _results(tmp_path, "run.json", GPU_DOC)
    out = hook.render("before\n<!-- bench: run.json -->\nafter\n", root)
    lines = out.splitlines()
    assert lines[0] == "before" and lines[-1] == "after"
    assert "| figure | measured | target | what |" in lines
    assert "| `hook_ratio_all` | **1.037** ratio | >= 0.97 | steered \\| unsteered |" in lines
    assert "| `coeff0_bit_identical` | **True** | – | zero coefficients |" in lines
    assert "| `weights_mib` | **14,568** MiB | – | weights |" in lines
    assert ("*Rendered from `benchmarks/results/run.json`: Test GPU 9000, torch 9.9, "
            "transformers 8.8, Python 3.99; 371.1 s for the whole run.*") in lines
    assert "<!--" not in out


def test_bench_marker_filters_by_step_and_name(tmp_path: Path) -> None:
    root = _results(tmp_path, "run.json", GPU_DOC)
    parity = hook.render("<!-- bench: run.json steps=parity -->", root)
    assert "coeff0_bit_identical" in parity and "weights_mib" in parity
    assert "hook_ratio_all" not in parity
    one = hook.render("<!-- bench: run.json names=weights_mib -->", root)
    assert "weights_mib" in one and "coeff0_bit_identical" not in one


def test_bench_marker_reads_the_cpu_bench_shape(tmp_path: Path) -> None:
    doc = {"machine": {"cpu_count": 2, "torch": "2.13.0", "python": "3.11.2"},
           "metrics": {"sweep_speedup": 14.52, "judge_warm_calls": 0},
           "details": {"run": {"total_wall_s": 812.0,
                               "targets": {"sweep_speedup": ">= 6", "judge_warm_calls": "== 0"}}}}
    out = hook.render("<!-- bench: cpu.json -->", _results(tmp_path, "cpu.json", doc))
    assert "| `sweep_speedup` | **14.52** | >= 6 | – |" in out
    assert "| `judge_warm_calls` | **0** | == 0 | – |" in out
    assert "2 CPU cores, torch 2.13.0, Python 3.11.2; 812 s for the whole run" in out


def test_an_incomplete_run_says_so(tmp_path: Path) -> None:
    root = _results(tmp_path, "run.json", {**GPU_DOC, "complete": False})
    assert "**(run incomplete)**" in hook.render("<!-- bench: run.json -->", root)


@pytest.mark.parametrize(("marker", "message"), [
    ("<!-- bench: missing.json -->", "missing.json: cannot read"),
    ("<!-- bench: ../x.json -->", "expected a FILE.json in benchmarks/results"),
    ("<!-- bench: run.json steps=nope -->", "steps nope not in the file (known: hook_overhead, parity)"),
    ("<!-- bench: run.json colour=red -->", "argument 'colour=red'"),
    ("<!-- bench: bad.json -->", "bad.json:1: not JSON"),
    ("<!-- bench: shape.json -->", "neither a 'figures' list"),
    ("<!-- benchmark: run.json -->", "unknown marker"),
    ("<!-- options: extra -->", "unknown marker"),
])
def test_a_marker_that_cannot_be_rendered_fails_the_build_naming_page_and_marker(
        tmp_path: Path, marker: str, message: str) -> None:
    root = _results(tmp_path, "run.json", GPU_DOC)
    (root / "benchmarks" / "results" / "bad.json").write_text("{oops")
    (root / "benchmarks" / "results" / "shape.json").write_text("{}")
    with pytest.raises(hook.DocsHookError) as info:
        hook.render(f"text\n{marker}\n", root, where="how-to/x.md")
    assert str(info.value).startswith(f"how-to/x.md: {marker}")
    assert message in str(info.value)


def test_plain_comments_and_inline_markers_are_left_alone(tmp_path: Path) -> None:
    text = "<!-- a comment with words -->\nsee `<!-- bench: x.json -->` here\n"
    assert hook.render(text, tmp_path) == text


def test_options_table_has_every_flag_alias_and_ini_value() -> None:
    from pytest_persona.plugin.options import OPTIONS

    table = hook.render_options()
    for o in OPTIONS:
        row = next(line for line in table.splitlines() if line.startswith(f"| `{o.flag}` |"))
        assert f"`{o.dest}`" in row
        for alias in o.aliases:
            assert f"`{alias}`" in row
        if o.default:
            assert f"`{o.default}`" in row
    for extra in ("--persona-refresh", "--persona-compare-fail", "persona_suite_dirs",
                  "persona_prefixed_options_only"):
        assert f"`{extra}`" in table
    assert "(ini:" not in table


def test_cli_reference_has_every_subcommand() -> None:
    text = hook.render_cli()
    for name in ("extract", "vectors inspect", "report", "compare", "calibrate", "screen",
                 "cache export", "cache import", "results export"):
        assert f"### `persona {name}`\n\n```text\nusage: persona {name}" in text


def test_kind_fields_come_from_the_registry_and_every_kind_must_be_described() -> None:
    from pytest_persona.suites.registry import BUILTIN_KINDS

    described = " ".join(f"`{k.name}`" for k in BUILTIN_KINDS)
    table = hook.render_kind_fields(described)
    assert "| `baseline_ceiling` | `max` (number, required); `require` (require, default " \
           "`mean`) | yes |" in table
    assert len([line for line in table.splitlines() if line.startswith("| `")]) == len(BUILTIN_KINDS)
    with pytest.raises(hook.DocsHookError, match="not described on the page: vector_drift"):
        hook.render_kind_fields(described.replace("`vector_drift`", ""))


def test_floors_table_is_the_layout_tests_floors() -> None:
    from tests.test_layout import FLOORS

    table = hook.render_floors(ROOT)
    for name, floor in FLOORS.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| {floor} |"))
        assert f"`{name}`" in row


def test_every_page_renders_with_the_committed_result_files() -> None:
    """What `make docs` does with the markers, without mkdocs: every marker in every page."""
    pages = sorted((ROOT / "docs").rglob("*.md"))
    assert pages
    rendered = {p: hook.render(p.read_text(), ROOT, where=str(p)) for p in pages}
    assert not [p for p, text in rendered.items() if hook.MARKER.search(text)]
    used = {m.group(2).split()[0] for p in pages for m in hook.MARKER.finditer(p.read_text())
            if m.group(1) == "bench"}
    committed = {p.name for p in (ROOT / "benchmarks" / "results").glob("*.json")}
    assert committed <= used, f"result files no page renders: {sorted(committed - used)}"
