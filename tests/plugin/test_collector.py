"""The results collector as a CI gate: fail closed on rules it cannot evaluate (issue 13.1),
paired per-question comparisons end to end (issue 12), and result writing that survives
non-finite values (issue 13.2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugin.test_plugin import _hash_score
from tests.report.synthetic import make_results
from tests.support.judge_server import JudgeServer


@pytest.fixture(scope="module")
def judge_server() -> Iterator[JudgeServer]:
    with JudgeServer(scorer=_hash_score) as srv:
        yield srv


def _baseline(tmp: Path, mutate=None) -> Path:
    d = make_results(("sycophantic", "evil"))
    if mutate:
        mutate(d)
    p = tmp / "baseline.json"
    p.write_text(json.dumps(d))
    return p


@pytest.mark.parametrize("args, needle", [
    (["--persona-compare-fail", "baseline_score:+5"],
     "--persona-compare-fail baseline_score:+5 needs --persona-compare"),
    (["--persona-compare", "{base}", "--persona-compare-fail", "baseline_scroe:+5"],
     "rule baseline_scroe:+5: unknown metric 'baseline_scroe'; known metrics: *baseline_score"),
    (["--persona-compare", "{base}", "--persona-compare-fail", "sycophantc.baseline_score:+5"],
     "*unknown trait 'sycophantc'; traits in the baseline or this run: evil, sycophantic"),
    (["--persona-compare", "{empty}", "--persona-compare-fail", "baseline_score:+5"],
     "*has no traits*"),
    (["--persona-compare", "{odd}", "--persona-compare-fail", "label:+1"],
     "*rule label:+1: metric 'label' is not a number*"),
    (["--persona-compare", "{deep}"], "*nested too deeply*"),
    (["--persona-compare", "{base}", "--persona-compare-correction", "sidak"],
     "*--persona-compare-correction: expected holm, bonferroni or none, got 'sidak'"),
])
def test_rules_that_cannot_be_evaluated_exit_4(pytester: pytest.Pytester, args, needle) -> None:
    """Each of these exited 0 ("no regressions") before: the gate passed open."""
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    (pytester.path / "e").mkdir()
    (pytester.path / "o").mkdir()
    paths = {
        "base": _baseline(pytester.path),
        "empty": _baseline(pytester.path / "e", lambda d: d.update(traits={})),
        "odd": _baseline(pytester.path / "o", lambda d: d["traits"]["evil"]["metrics"].update(
            label="high")),
        "deep": pytester.path / "deep.json",
    }
    paths["deep"].write_text('{"schema_version": 2, "traits": ' + "[" * 100000 + "]" * 100000
                             + "}")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                        *[a.format(**paths) for a in args])
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines([f"*{needle}*"])
    assert "INTERNALERROR" not in res.stdout.str() + res.stderr.str()


SUITE = """\
trait: sycophantic
layer: 1
coefficients: [-4, 0, 4]
n_questions: 4
max_new_tokens: 6
expectations:
  - {kind: baseline_ceiling, max: 100}
"""


def _project(pytester: pytest.Pytester, server: JudgeServer) -> None:
    pytester.makefile(".ini", pytest=f"""
        [pytest]
        persona_model = tiny-random-qwen2
        persona_judge = openai:scripted
        persona_judge_base_url = {server.base_url}
        persona_cache = {pytester.path / '.persona_cache'}
    """)
    (pytester.path / "trait_suites").mkdir(exist_ok=True)
    (pytester.path / "trait_suites" / "syc.yaml").write_text(SUITE)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider", *args,
                                         timeout=300)


def test_paired_gate_end_to_end(pytester: pytest.Pytester, judge_server: JudgeServer) -> None:
    _project(pytester, judge_server)
    res = _run(pytester, "--persona-save", "base.json")
    assert res.ret == 0
    base = json.loads((pytester.path / "base.json").read_text())
    assert base["schema_version"] == 2
    pq = base["traits"]["sycophantic"]["per_question"]
    assert len(pq["questions"]) == 4
    assert set(pq["metrics"]) >= {"baseline_score", "baseline_coherence"}
    assert len(pq["metrics"]["baseline_score"]) == 4
    # the same model against its own baseline: paired difference 0, the gate passes
    res = _run(pytester, "--persona-compare", "base.json", "--persona-compare-fail",
               "baseline_score:+5")
    assert res.ret == 0
    comp = json.loads((pytester.path / "reports" / "persona-results.json").read_text())[
        "comparison"]
    [check] = comp["checks"]
    assert check["mode"] == "paired" and check["n"] == 4 and check["delta"] == 0
    assert check["verdict"] == "pass" and "not beyond +5 with confidence" in check["message"]
    # a metric present only in the baseline fails the gate, with the reason
    base["traits"]["sycophantic"]["metrics"]["steered_score"] = 50.0
    (pytester.path / "base.json").write_text(json.dumps(base))
    res = _run(pytester, "--persona-compare", "base.json", "--persona-compare-fail",
               "steered_score:+5")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    res.stdout.fnmatch_lines(["*REGRESSION sycophantic: steered_score missing (or not a finite "
                              "number) in the current run: rule steered_score:+5 fails closed*"])


NAN_CONFTEST = """
from pytest_persona.suites import expectations as E


def _fake(ps, rs, exp, t):
    section = ps.section(t.name)
    section.update(layer=1, coefficients=[-4.0, 0.0, float("inf")])
    section["vector"] = {"effective_pairs": 3, "norms": [1.0, float("nan"), 2.0]}
    section["metrics"]["baseline_score"] = float("nan")
    section["sweep"] = [{"coeff": float("nan"), "n": 1, "mean": float("inf"), "ci": [0, 1]}]
    return E.Outcome(True, "held", {"mean": float("nan")})


def pytest_persona_register_kinds(registry):
    old = registry["baseline_ceiling"]
    registry.register("baseline_ceiling", _fake, old.fields, replace=True)
"""


def test_non_finite_values_never_cost_the_results(pytester: pytest.Pytester,
                                                  judge_server: JudgeServer) -> None:
    """Before: INTERNALERROR at session finish, and neither results nor report written."""
    _project(pytester, judge_server)
    pytester.makeconftest(NAN_CONFTEST)
    res = _run(pytester, "--html", "report.html", "--self-contained-html")
    assert res.ret == 0, res.stdout.str()[-2000:]
    assert "INTERNALERROR" not in res.stdout.str()
    data = json.loads((pytester.path / "reports" / "persona-results.json").read_text())
    t = data["traits"]["sycophantic"]
    assert t["coefficients"] == [-4.0, 0.0, None]
    assert "traits.sycophantic.coefficients[2]: inf" in data["non_finite"]
    assert "traits.sycophantic.vector.norms[1]: nan" in data["non_finite"]
    html = (pytester.path / "report.html").read_text()
    assert "traits.sycophantic.coefficients[2]: inf" in html


def test_ini_rules_are_defaults_for_runs_that_compare(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest="[pytest]\npersona_compare_fail = baseline_scroe:+5\n")
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    assert pytester.runpytest_subprocess("-p", "no:cacheprovider").ret == 0
    # ... and checked as soon as a baseline is given
    base = _baseline(pytester.path)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--persona-compare", str(base))
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*unknown metric 'baseline_scroe'*"])


def test_compare_fail_auto_is_accepted_like_persona_compare(pytester: pytest.Pytester) -> None:
    """Issue 25 item 11: ``auto`` was parsed as a rule before expansion and always exit 4."""
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    cal = {"figures": {"evil": {"baseline_score": {"bound": 3.0, "direction": "+"}}}}
    base = _baseline(pytester.path, lambda d: d.update(calibration=cal))
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--persona-compare", str(base),
                                        "--persona-compare-fail", "auto")
    assert res.ret == 0, res.stderr.str()
    # an uncalibrated baseline still fails closed, with the way out
    (pytester.path / "u").mkdir()
    plain = _baseline(pytester.path / "u")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--persona-compare", str(plain),
                                        "--persona-compare-fail", "AUTO")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*needs a calibrated baseline*persona calibrate*"])
