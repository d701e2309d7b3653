"""The pytest gate refuses, before anything runs, a rule on judge scores against a baseline
that another judge scored (the offline judge with other anchors), naming both (issue 25
item 12)."""

from __future__ import annotations

import json

import pytest

from pytest_persona.judges.offline import OFFLINE_ID
from tests.plugin.test_compare_identity_gate import _project
from tests.report.synthetic import make_results

CEILING = """\
trait: sycophantic
layer: 1
coefficients: [0, 4]
n_questions: 2
max_new_tokens: 4
expectations:
  - {kind: baseline_ceiling, max: 100}
"""
OTHER = f"{OFFLINE_ID}+anchors:sycophantic:0123456789abcdef"


def test_a_baseline_scored_by_another_judge_is_a_usage_error(pytester: pytest.Pytester) -> None:
    _project(pytester)
    base = make_results(("sycophantic",))
    base["model"].update(name="tiny-random-qwen2", architecture="qwen2", n_layers=4, d_model=64)
    base["traits"]["sycophantic"].update(
        layer=1, judge_identity=OTHER, coherence_judge_identity=OFFLINE_ID
    )
    (pytester.path / "base.json").write_text(json.dumps(base))
    res = pytester.runpytest_subprocess(
        "trait_suites",
        "-p",
        "no:cacheprovider",
        "--persona-compare",
        "base.json",
        "--persona-compare-fail",
        "baseline_score:+5",
        timeout=300,
    )
    assert res.ret == 4
    err = res.stderr.str()
    assert "--persona-compare: base.json cannot be compared with this run" in err
    assert (
        f"sycophantic: rule(s) baseline_score:+5 compare scores of another judge: "
        f"baseline '{OTHER}', this run '{OFFLINE_ID}'"
    ) in err
    assert not (pytester.path / ".persona_cache" / "vectors").exists()  # nothing ran


def test_a_run_records_its_judges_per_trait_and_compares_them(pytester: pytest.Pytester) -> None:
    _project(pytester)
    (pytester.path / "trait_suites" / "syc.yaml").write_text(CEILING)
    args = ("trait_suites", "-p", "no:cacheprovider")
    first = pytester.runpytest_subprocess(*args, "--persona-save", "base.json", timeout=600)
    assert first.ret == 0, first.stdout.str()[-3000:]
    syc = json.loads((pytester.path / "base.json").read_text())["traits"]["sycophantic"]
    assert syc["judge_identity"] == OFFLINE_ID == syc["coherence_judge_identity"]
    again = pytester.runpytest_subprocess(
        *args,
        "--persona-compare",
        "base.json",
        "--persona-compare-fail",
        "baseline_score:+100",
        timeout=600,
    )
    assert again.ret == 0, again.stdout.str()[-3000:]
    comp = json.loads((pytester.path / "reports" / "persona-results.json").read_text())[
        "comparison"
    ]
    assert (
        f"sycophantic: scored by the same judge '{OFFLINE_ID}' and coherence judge '{OFFLINE_ID}'"
    ) in comp["compared"]
    assert [c["verdict"] for c in comp["checks"]] == ["pass"]
    for key in ("judge_identity", "coherence_judge_identity"):  # a file from before them
        del syc[key]
    old = json.loads((pytester.path / "base.json").read_text())
    old["traits"]["sycophantic"] = syc
    (pytester.path / "old.json").write_text(json.dumps(old))
    warned = pytester.runpytest_subprocess(
        *args,
        "--persona-compare",
        "old.json",
        "--persona-compare-fail",
        "baseline_score:+100",
        timeout=600,
    )
    assert warned.ret == 0, warned.stdout.str()[-3000:]
    assert (
        "warning: sycophantic: the baseline does not record which judge scored it"
        in warned.stdout.str()
    )
