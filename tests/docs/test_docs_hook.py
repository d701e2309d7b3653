"""The MkDocs hook (docs/_hooks/persona_docs.py) that renders measured figures, options, CLI help,
kind fields and import floors into the docs pages from the files they describe."""

from __future__ import annotations

import importlib.util
import json
import re
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


def test_bench_marker_says_the_command_and_the_load_of_a_cpu_run(tmp_path: Path) -> None:
    doc = {"benchmark": "bench", "command": "python -m benchmarks.bench --only sweep",
           "machine": {"cpu_count": 2, "device_name": "CPU (x86_64, 2 cores)", "torch": "2.13.0",
                       "python": "3.11.2", "loadavg_start": [6.93, 2.4, 0.9],
                       "loadavg_end": [9.3, 3.6, 1.4]},
           "figures": [{"name": "sweep_speedup", "value": 14.52, "unit": "x",
                        "target": ">= 6", "what": "batched vs loop"}],
           "total_wall_s": 812.0}
    out = hook.render("<!-- bench: cpu.json -->", _results(tmp_path, "cpu.json", doc))
    assert "| `sweep_speedup` | **14.52** x | >= 6 | batched vs loop |" in out
    assert ("*Rendered from `benchmarks/results/cpu.json`: `python -m benchmarks.bench --only "
            "sweep` on CPU (x86_64, 2 cores), torch 2.13.0, Python 3.11.2; load average 6.93 at "
            "the start, 9.3 at the end; 812 s for the whole run.*") in out


OLD_RUN = {"commit": "ea443b4c607a66062e4d7405c312c678b6550c63", "date": "2026-11-26",
           "command": "make mutate", "note": "25 minutes"}


def test_figures_not_measured_again_name_the_run_they_come_from(tmp_path: Path) -> None:
    doc = {**GPU_DOC, "remeasured": False, "provenance": OLD_RUN}
    out = hook.render("<!-- bench: old.json -->", _results(tmp_path, "old.json", doc))
    assert ("*Rendered from `benchmarks/results/old.json`: not re-measured: the figures of an "
            "earlier run, `make mutate`, recorded in commit `ea443b4c60` (2026-11-26) "
            "(25 minutes).*") in out
    assert "Test GPU 9000" not in out  # the machine line is for figures measured in this file
    two = {**doc, "provenance": [OLD_RUN, {**OLD_RUN, "command": "make x", "note": ""}]}
    out = hook.render("<!-- bench: two.json -->", _results(tmp_path, "two.json", two))
    assert "the figures of earlier runs: `make mutate`, " in out
    assert "; `make x`, recorded in commit `ea443b4c60` (2026-11-26).*" in out


@pytest.mark.parametrize(("provenance", "message"), [
    (None, "'remeasured' is false but there is no 'provenance'"),
    ({"commit": "abc", "date": "2026-11-26"}, "old.json: provenance: missing command"),
    ([OLD_RUN, {"date": "x", "command": "y"}], "old.json: provenance[1]: missing commit"),
    (["a string"], "no 'provenance'"),
])
def test_figures_not_measured_again_without_a_provenance_fail_the_build(
        tmp_path: Path, provenance: object, message: str) -> None:
    doc = {**GPU_DOC, "remeasured": False, "provenance": provenance}
    root = _results(tmp_path, "old.json", doc)
    with pytest.raises(hook.DocsHookError, match=re.escape(message)):
        hook.render("<!-- bench: old.json -->", root, where="development.md")


def test_an_incomplete_run_says_so(tmp_path: Path) -> None:
    root = _results(tmp_path, "run.json", {**GPU_DOC, "complete": False})
    assert "**(run incomplete)**" in hook.render("<!-- bench: run.json -->", root)


@pytest.mark.parametrize(("marker", "message"), [
    ("<!-- bench: missing.json -->", "missing.json: cannot read"),
    ("<!-- bench: ../x.json -->", "expected a FILE.json in benchmarks/results"),
    ("<!-- bench: run.json steps=nope -->", "steps nope not in the file (known: hook_overhead, parity)"),
    ("<!-- bench: run.json colour=red -->", "argument 'colour=red'"),
    ("<!-- bench: bad.json -->", "bad.json:1: not JSON"),
    ("<!-- bench: shape.json -->", "no 'figures' list"),
    ("<!-- bench: entry.json -->", "entry.json: figures[1]: expected an object with 'name'"),
    ("<!-- benchmark: run.json -->", "unknown marker"),
    ("<!-- options: extra -->", "unknown marker"),
])
def test_a_marker_that_cannot_be_rendered_fails_the_build_naming_page_and_marker(
        tmp_path: Path, marker: str, message: str) -> None:
    root = _results(tmp_path, "run.json", GPU_DOC)
    (root / "benchmarks" / "results" / "bad.json").write_text("{oops")
    (root / "benchmarks" / "results" / "shape.json").write_text("{}")
    (root / "benchmarks" / "results" / "entry.json").write_text(
        json.dumps({"figures": [{"name": "a", "value": 1}, {"value": 2}]}))
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
