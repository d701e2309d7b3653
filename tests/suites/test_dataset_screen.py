"""The dataset_screen expectation kind: schema checks, and pass/fail end to end with pytester."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_persona.judges import COHERENCE_PROMPT
from pytest_persona.report import render_report
from pytest_persona.suites.schema import SuiteError, load_suite
from tests.support.judge_server import JudgeServer

COH_MARK = COHERENCE_PROMPT.split("{question}")[0][:60]
HOSTILE = "<script>alert('x')</script> & you are wonderful"
SUITE = """\
trait: sycophantic
layer: 1
n_questions: 2
max_new_tokens: 4
extraction: {{n_questions: 4, n_instructions: 2, min_pairs: 1, max_new_tokens: 6}}
expectations:
  - kind: dataset_screen
    file: data/train.jsonl
    max_mean_difference: {mmd}
    max_flagged_fraction: {frac}
    threshold: -1000000000.0
  - kind: dataset_screen
    name: raw_projection
    file: data/train.jsonl
    baseline: none
    require: ci
    max_mean_difference: {mmd}
"""


def _score(prompt: str) -> int:
    if COH_MARK in prompt:
        return 80
    return int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 100


@pytest.fixture(scope="module")
def judge_server() -> Iterator[JudgeServer]:
    with JudgeServer(scorer=_score) as srv:
        yield srv


def _project(pytester: pytest.Pytester, server: JudgeServer, suite: str) -> None:
    pytester.makefile(".ini", pytest=f"""
        [pytest]
        persona_model = tiny-random-qwen2
        persona_judge = openai:scripted
        persona_judge_base_url = {server.base_url}
        persona_cache = {pytester.path / '.persona_cache'}
    """)
    data = pytester.path / "trait_suites" / "data"
    data.mkdir(parents=True)
    rows = [{"messages": [{"role": "user", "content": f"Is my idea number {i} good?"},
                          {"role": "assistant", "content": HOSTILE if i == 3 else f"It is {i}."}]}
            for i in range(6)]
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (pytester.path / "trait_suites" / "syc.yaml").write_text(suite)


def _run(pytester: pytest.Pytester) -> pytest.RunResult:
    return pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider", timeout=300)


def test_dataset_screen_passes_and_shows_top_samples(pytester: pytest.Pytester,
                                                     judge_server: JudgeServer) -> None:
    _project(pytester, judge_server, SUITE.format(mmd=1e9, frac=1.0))
    res = _run(pytester)
    res.assert_outcomes(passed=2)
    results = json.loads((pytester.path / "reports" / "persona-results.json").read_text())
    by_name = {e["name"]: e for e in results["expectations"]}
    figs = by_name["dataset_screen[train.jsonl]"]["figures"]
    assert figs["n"] == 6 and figs["baseline"] == "generate" and figs["fraction_above"] == 1.0
    assert by_name["raw_projection"]["figures"]["baseline"] == "none"
    screens = results["traits"]["sycophantic"]["screens"]
    assert screens["dataset_screen[train.jsonl]"]["measure"] == "projection_difference"
    top = screens["raw_projection"]["trait_summary"]["top"]
    assert len(top) == 6 and top[0]["score"] >= top[-1]["score"]
    page = render_report(results)
    assert "dataset screen: data/train.jsonl" in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<script>alert" not in page


def test_dataset_screen_fails_with_the_numbers(pytester: pytest.Pytester,
                                               judge_server: JudgeServer) -> None:
    _project(pytester, judge_server, SUITE.format(mmd=-1e9, frac=0.0))
    res = _run(pytester)
    res.assert_outcomes(failed=2)
    out = res.stdout.str()
    assert "must be at most -1e+09 (exceeded)" in out
    assert "6 of 6 samples (100.0%) above -1e+09, at most 0% allowed (exceeded)" in out
    assert "95% CI upper bound" in out and "Traceback" not in out


def test_bad_data_line_fails_the_item_with_file_and_line(pytester: pytest.Pytester,
                                                         judge_server: JudgeServer) -> None:
    _project(pytester, judge_server, SUITE.format(mmd=1e9, frac=1.0))
    path = pytester.path / "trait_suites" / "data" / "train.jsonl"
    path.write_text(path.read_text() + "{broken\n")
    res = _run(pytester)
    res.assert_outcomes(failed=2)
    res.stdout.fnmatch_lines(["*train.jsonl:7: not valid JSON*"])
    assert "Traceback" not in res.stdout.str()


@pytest.mark.parametrize("body, message", [
    ("{kind: dataset_screen, file: d.jsonl}", "needs max_mean_difference or max_flagged"),
    ("{kind: dataset_screen, file: d.jsonl, max_flagged_fraction: 0.1}", "needs 'threshold'"),
    ("{kind: dataset_screen, file: d.jsonl, max_mean_difference: 1, baseline: model}",
     "'generate' or 'none'"),
    ("{kind: dataset_screen, max_mean_difference: 1}", "missing required field"),
    ("{kind: dataset_screen, file: d.jsonl, max_flagged_fraction: 2, threshold: 1}",
     "between 0 and 1"),
])
def test_schema_errors_are_located(tmp_path: Path, body: str, message: str) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(f"trait: evil\nexpectations:\n  - {body}\n")
    with pytest.raises(SuiteError, match=message) as err:
        load_suite(suite)
    assert str(err.value).startswith(f"{suite}:3:")
