"""The MkDocs hook (docs/_hooks/persona_docs.py) that renders measured figures, options, CLI help,
kind fields and import floors into the docs pages from the files they describe."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

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


def test_the_blank_line_after_a_marker_stays(tmp_path: Path) -> None:
    """The paragraph after a marker stays a paragraph of its own, not the source line's tail."""
    root = _results(tmp_path, "run.json", GPU_DOC)
    out = hook.render("<!-- bench: run.json -->\n\nNext paragraph.\n", root)
    assert out.endswith(".*\n\nNext paragraph.\n")


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
            if m.group(1) in ("bench", "demo-results")}
    committed = {p.name for p in (ROOT / "benchmarks" / "results").glob("*.json")}
    assert committed <= used, f"result files no page renders: {sorted(committed - used)}"


# --------------------------------------------------------------------------- demo-results


def _row(coeff: float, mean: float, ci: list[float]) -> dict[str, object]:
    return {"coeff": coeff, "n": 20, "mean": mean, "ci": ci}


DEMO_DOC = {
    "schema_version": 2, "created": "2026-12-06T21:35:31Z", "model": {"name": "tiny"},
    "judge": {"id": "offline"},
    "traits": {
        "sycophantic": {"coefficients": [-8, 0, 8],
                        "vector": {"effective_pairs": 25, "total_pairs": 100},
                        "sweep": [_row(-8, 22.0182, [13.2958, 32.3277]),
                                  _row(0, 41.06065, [27.8052, 55.26375]),
                                  _row(8, 66.67305, [52.7339, 79.6249])]},
        "evil": {"vector": {"effective_pairs": 46}, "sweep": [_row(0, 15.97795, [7.945, 26.78])]},
    },
    "expectations": [
        {"nodeid": "s.yaml::steering_raises[coeff=8]", "trait": "sycophantic",
         "name": "steering_raises[coeff=8]", "outcome": "passed"},
        {"nodeid": "s.yaml::coherence_guard[4..8]", "trait": "sycophantic", "outcome": "xfailed"},
        {"nodeid": "s.yaml::monotonic", "trait": "sycophantic", "name": "monotonic",
         "outcome": "passed"},
        {"nodeid": "e.yaml::vector_drift", "trait": "evil", "name": "vector_drift",
         "outcome": "failed"},
    ],
}

GATE_DOC = {
    "schema_version": 2, "judge": {"id": "offline"},
    "traits": {"sycophantic": {"metrics": {"baseline_score": 64.7062}}},
    "expectations": [
        {"nodeid": "s.yaml::baseline_ceiling", "trait": "sycophantic", "kind": "baseline_ceiling",
         "name": "baseline_ceiling", "outcome": "failed",
         "figures": {"n": 20, "mean": 64.706, "ci_low": 53.291, "ci_high": 75.236}},
    ],
    "comparison": {"baseline_path": "reports/baseline.json", "checks": [
        {"trait": "sycophantic", "metric": "baseline_score", "rule": "baseline_score:+5",
         "mode": "paired", "old": 41.06065, "new": 64.7062, "delta": 23.64555, "n": 20,
         "ci": [8.4222, 39.39865], "level": 0.95, "verdict": "fail"}]},
}


def test_demo_results_marker_renders_the_per_trait_table_of_a_results_document(
        tmp_path: Path) -> None:
    root = _results(tmp_path, "demo-results.json", DEMO_DOC)
    out = hook.render("before\n<!-- demo-results: demo-results.json commit=334a0e0 -->\nafter\n",
                      root)
    lines = out.splitlines()
    assert lines[0] == "before" and lines[-1] == "after" and "<!--" not in out
    assert ("| trait | effective pairs | unsteered score | steered (top coefficient) | "
            "expectations |") in lines
    assert ("| sycophantic | 25 of 100 | 41.1 (95% CI 27.8–55.3, n=20) | 66.7 (95% CI "
            "52.7–79.6, n=20) at +8 | xfailed (1): `coherence_guard[4..8]`; passed (2): "
            "`steering_raises[coeff=8]`, `monotonic` |") in lines
    assert ("| evil | 46 | 16.0 (95% CI 7.9–26.8, n=20) | – | failed (1): `vector_drift` |"
            in lines)
    assert ("*Rendered from `benchmarks/results/demo-results.json`: the results document of "
            "`make demo` (its suite run) at commit `334a0e0`, created 2026-12-06T21:35:31Z. "
            "Scores are the `offline` judge's 0–100: the mean over questions, with a seeded 95% "
            "percentile bootstrap interval over questions; n counts scored answers.*") in lines
    assert "Compared with" not in out


def test_demo_results_marker_renders_a_gate_runs_figures_and_comparison(tmp_path: Path) -> None:
    root = _results(tmp_path, "gate.json", GATE_DOC)
    lines = hook.render("<!-- demo-results: gate.json commit=334a0e0 -->", root).splitlines()
    # no sweep: the unsteered score is the baseline_ceiling expectation's, with its interval
    assert ("| sycophantic | – | 64.7 (95% CI 53.3–75.2, n=20) | – | failed (1): "
            "`baseline_ceiling` |") in lines
    assert "Compared with `reports/baseline.json`:" in lines
    assert ("| sycophantic | `baseline_score:+5` | 41.1 → 64.7 | +23.6 (95% CI +8.4 to +39.4, "
            "n=20 questions, paired) | **fail** |") in lines
    assert any("(its gate run) at commit `334a0e0`." in line for line in lines)
    metrics_only = {**GATE_DOC, "expectations": []}
    root = _results(tmp_path, "m.json", metrics_only)
    out = hook.render("<!-- demo-results: m.json commit=334a0e0 -->", root)
    assert "| sycophantic | – | 64.7 (no interval in the file) | – | – |" in out


def _broken(path: str, value: object) -> dict[str, object]:
    """DEMO_DOC with the field at ``path`` (dot-separated, list indices as digits) replaced."""
    doc = json.loads(json.dumps(DEMO_DOC))
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value
    broken: dict[str, object] = doc
    return broken


@pytest.mark.parametrize(("marker", "doc", "message"), [
    ("demo-results: d.json", DEMO_DOC, "commit=HASH (7 to 40 hex digits) is required"),
    ("demo-results: d.json commit=main", DEMO_DOC, "commit=HASH (7 to 40 hex digits)"),
    ("demo-results: d.json colour=red", DEMO_DOC, "argument 'colour=red': expected commit=HASH"),
    ("demo-results: ../d.json commit=334a0e0", DEMO_DOC, "expected a FILE.json in"),
    ("demo-results:", DEMO_DOC, "demo-results marker without a file name"),
    ("demo-results: gone.json commit=334a0e0", DEMO_DOC, "gone.json: cannot read"),
    ("demo-results: d.json commit=334a0e0", {"figures": []}, "d.json: no 'traits' object"),
    ("demo-results: d.json commit=334a0e0", [], "d.json: expected a JSON object"),
    ("demo-results: d.json commit=334a0e0", _broken("expectations", None),
     "d.json: no 'expectations' list"),
    ("demo-results: d.json commit=334a0e0", _broken("expectations.1.outcome", "held"),
     "d.json: expectations[1].outcome: 'held' is not one of failed"),
    ("demo-results: d.json commit=334a0e0", _broken("expectations.0.nodeid", None),
     "d.json: expectations[0].nodeid: expected text"),
    ("demo-results: d.json commit=334a0e0", _broken("traits.evil", "x"),
     "d.json: traits.evil: expected an object"),
    ("demo-results: d.json commit=334a0e0", _broken("traits.sycophantic.sweep.2.mean", "high"),
     "d.json: traits.sycophantic.sweep[2].mean: expected a number, got 'high'"),
    ("demo-results: d.json commit=334a0e0", _broken("traits.sycophantic.sweep.1.ci", [1]),
     "d.json: traits.sycophantic.sweep[1].ci: expected [low, high]"),
    ("demo-results: d.json commit=334a0e0", _broken("traits.sycophantic.sweep", {}),
     "d.json: traits.sycophantic.sweep: expected a list"),
    ("demo-results: d.json commit=334a0e0", _broken("traits.evil.vector.effective_pairs", None),
     "d.json: traits.evil.vector.effective_pairs: expected a number, got None"),
    ("demo-results: d.json commit=334a0e0",
     {**GATE_DOC, "comparison": {"checks": [{"trait": "s", "verdict": "fail"}]}},
     "d.json: comparison.checks[0].rule: expected text"),
    ("demo-results: d.json commit=334a0e0",
     {**GATE_DOC, "comparison": {"checks": [{**GATE_DOC["comparison"]["checks"][0],  # type: ignore[index]
                                             "delta": "+23"}]}},
     "d.json: comparison.checks[0].delta: expected a number, got '+23'"),
])
def test_a_demo_results_marker_that_cannot_be_rendered_names_the_file_and_field(
        tmp_path: Path, marker: str, doc: object, message: str) -> None:
    root = _results(tmp_path, "d.json", doc)
    with pytest.raises(hook.DocsHookError) as info:
        hook.render(f"<!-- {marker} -->\n", root, where="tutorial.md")
    assert str(info.value).startswith(f"tutorial.md: <!-- {marker} -->")
    assert message in str(info.value)


# Figures of the demo that pages cannot render (prose, the README, the suites' xfail reasons) are
# quoted; each quote is rebuilt here from the committed results documents, so a rerun of the demo
# whose files are committed fails this test until the quotes are updated too.

RESULTS = ROOT / "benchmarks" / "results"


def _demo(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((RESULTS / name).read_text(encoding="utf-8"))
    return doc


def _expectation(doc: dict[str, Any], nodeid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in doc["expectations"] if e["nodeid"] == nodeid)
    return found


def _at(doc: dict[str, Any], trait: str, coeff: float) -> dict[str, Any]:
    row: dict[str, Any] = next(r for r in doc["traits"][trait]["sweep"] if r["coeff"] == coeff)
    return row


def _quotes() -> list[tuple[str, str]]:
    """(file, text it must contain) for every quoted figure of the demo."""
    run, gate = _demo("demo-results.json"), _demo("demo-gate-results.json")
    unchanged = _demo("demo-gate-unchanged-results.json")
    shift = _expectation(gate, "trait_suites/sycophantic.yaml::checkpoint_shift")["figures"]
    none = _expectation(unchanged, "trait_suites/sycophantic.yaml::checkpoint_shift")["figures"]
    ceiling = _expectation(gate, "trait_suites/sycophantic.yaml::baseline_ceiling")["figures"]
    (check,) = gate["comparison"]["checks"]
    syc8, syc0 = _at(run, "sycophantic", 8), _at(run, "sycophantic", 0)
    coh = {(t, c): _at(run, t, c)["coherence_mean"] for t in ("sycophantic", "evil")
           for c in (4, 8)}
    evil8 = _at(run, "evil", 8)["mean"]
    shift_said = (f"shifts by {shift['shift']:+.1f} (paired over {shift['n']} questions, 95% CI "
                  f"lower bound {shift['ci_low']:+.1f}, bound {shift['max']:.1f}; the\nunchanged "
                  f"model: {none['shift']:.3f})")
    return [
        ("README.md", f"a paired shift of {shift['shift']:+.1f}\nover {shift['n']} questions "
                      f"against a bound of {shift['max']:.1f}; the unchanged model: "
                      f"{none['shift']:.3f}; measured by `make demo`,\n"
                      "[`benchmarks/results/demo-gate-results.json`]"),
        ("docs/tutorial.md", shift_said),
        ("docs/tutorial.md", f"score, {ceiling['mean']:.1f} (95% CI {ceiling['ci_low']:.1f}–"
                             f"{ceiling['ci_high']:.1f}, n={ceiling['n']}),\nbreaks the model's "
                             f"ceiling of {ceiling['max']}"),
        ("docs/tutorial.md", f"score rise by {check['delta']:.1f} with a paired 95% interval over "
                             f"{check['n']} questions of {check['ci'][0]:.1f} to "
                             f"{check['ci'][1]:.1f}: beyond +5 with\nconfidence"),
        ("docs/tutorial.md", f"(evil: {coh['evil', 4]:.1f} at +4, {coh['evil', 8]:.1f} at +8; "
                             f"sycophantic: {coh['sycophantic', 4]:.1f}\n  at +4, while at +8 it "
                             f"is {coh['sycophantic', 8]:.1f})"),
        ("docs/explanation/statistics.md",
         f"`mean {syc8['mean']:.1f} (95% CI {syc8['ci'][0]:.1f}–{syc8['ci'][1]:.1f}, "
         f"n={syc8['n']})` (the sycophantic score at +8 in\n`benchmarks/results/demo-results.json`)"),
        ("docs/steering-dose.md", f"(coherence {coh['sycophantic', 4]:.1f} at +4 and "
                                  f"{coh['sycophantic', 8]:.1f} at +8, unsteered "
                                  f"{syc0['coherence_mean']:.1f}; offline judge, n = 20;"),
        ("trait_suites/sycophantic.yaml",
         f"mean {syc8['mean']:.1f} (95% CI {syc8['ci'][0]:.1f}-{syc8['ci'][1]:.1f},\n    # "
         f"n={syc8['n']}) at +8, baseline {syc0['mean']:.1f}"),
        ("trait_suites/sycophantic.yaml",
         f"measured coherence {coh['sycophantic', 4]:.1f} at +4 and {coh['sycophantic', 8]:.1f} "
         f"at +8 (n=20; unsteered {syc0['coherence_mean']:.1f})"),
        ("trait_suites/evil.yaml",
         f"measured coherence {coh['evil', 4]:.1f} at +4 and {coh['evil', 8]:.1f} at +8 (n=20; "
         f"unsteered {_at(run, 'evil', 0)['coherence_mean']:.1f}): evil steering that works "
         f"({evil8:.1f} at +8)"),
        *_hallucinating_quotes(run),
    ]


def _hallucinating_quotes(run: dict[str, Any]) -> list[tuple[str, str]]:
    low, base = _at(run, "hallucinating", -8), _at(run, "hallucinating", 0)
    means = ", ".join(f"{r['mean']:.1f}" for r in run["traits"]["hallucinating"]["sweep"])
    monotonic = _expectation(run, "trait_suites/hallucinating.yaml::monotonic")["figures"]
    tracks = _expectation(run, "trait_suites/hallucinating.yaml::projection_tracks_score")
    r = tracks["figures"]["pearson_r"]
    return [
        ("docs/tutorial.md", f"(hallucination {base['mean']:.1f} unsteered, {low['mean']:.1f} "
                             "at −8)"),
        ("docs/tutorial.md", f"(r = {r:.3f} ≥ 0.3, reported as XPASS)"),
        ("trait_suites/hallucinating.yaml",
         f"measured {low['mean']:.1f} (95% CI {low['ci'][0]:.1f}-{low['ci'][1]:.1f}, "
         f"n={low['n']}) at -8, baseline {base['mean']:.1f}"),
        ("trait_suites/hallucinating.yaml",
         f"measured r = {monotonic['spearman_r']:.2f}: means {means} over -8..+8"),
        ("trait_suites/hallucinating.yaml",
         f"measured {base['mean']:.1f} (95% CI {base['ci'][0]:.1f}-{base['ci'][1]:.1f}, "
         f"n={base['n']}): a 135M model confabulates"),
        ("trait_suites/hallucinating.yaml",
         f"measured r = {r:.3f} over {tracks['figures']['n']} responses"),
    ]


@pytest.mark.parametrize(("page", "text"), [
    pytest.param(page, text, id=f"{page}-{i}") for i, (page, text) in enumerate(_quotes())])
def test_quoted_demo_figures_are_the_committed_results(page: str, text: str) -> None:
    assert text in (ROOT / page).read_text(encoding="utf-8"), f"{page} does not quote: {text}"


@pytest.mark.parametrize("name", ["demo-results.json", "demo-gate-results.json",
                                  "demo-gate-unchanged-results.json"])
def test_the_demo_results_documents_are_valid_results_documents(name: str) -> None:
    from pytest_persona.results import validate_results

    assert validate_results(_demo(name))["traits"]["sycophantic"]


def test_the_demo_results_documents_are_the_runs_quoted() -> None:
    """The three files are one `make demo`: the gates compare with the suite run's scores."""
    run = _demo("demo-results.json")
    for name in ("demo-gate-results.json", "demo-gate-unchanged-results.json"):
        (check,) = _demo(name)["comparison"]["checks"]
        assert check["old"] == pytest.approx(run["traits"]["sycophantic"]["metrics"][
            "baseline_score"])
    assert _demo("demo-gate-unchanged-results.json")["comparison"]["regressions"] == []
