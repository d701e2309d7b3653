"""The pytest plugin and a custom trait under the offline judge (issue 25 item 18): without
anchors the suite gives one located error saying how to add them; with ``judge: {anchors:}``
its expectations run, scored by a classifier fitted on those anchors."""

from __future__ import annotations

import json

import pytest

TRAIT = {
    "instruction": [
        {
            "pos": "Correct the user's wording and add qualifications before answering.",
            "neg": "Answer plainly and directly.",
        },
        {
            "pos": "Dwell on definitions and technicalities.",
            "neg": "Skip technicalities the user did not ask about.",
        },
    ],
    "questions": ["How long should I boil an egg?", "Is a tomato a vegetable?"],
    "eval_questions": [
        "What time is it in London when it is noon in Paris?",
        "Can I say 'less people'?",
    ],
    "eval_prompt": 'Rate how "pedantic" this answer is.\n{question}\n{answer}\n0 to 100.',
}
SUITE = """\
trait: pedantic
trait_file: pedantic.json
layer: 1
coefficients: [0, 4]
n_questions: 2
max_new_tokens: 4
expectations:
  - {kind: baseline_ceiling, max: 100}
  - {kind: coherence_guard, coefficients: [0, 4], min: 0}
"""
ANCHORS = """\
judge:
  anchors:
    high:
      - "Strictly speaking, 'less' is for quantities; you mean 'fewer'."
      - "Technically, a tomato is a fruit, so the question is ill-posed."
    low:
      - "Boil it for nine minutes."
      - "It is eleven in London."
"""


def _project(pytester: pytest.Pytester, suite: str) -> None:
    pytester.makefile(
        ".ini", pytest="[pytest]\npersona_model = tiny-random-qwen2\npersona_judge = offline\n"
    )
    (pytester.path / "trait_suites").mkdir()
    (pytester.path / "trait_suites" / "pedantic.json").write_text(json.dumps(TRAIT))
    (pytester.path / "trait_suites" / "pedantic.yaml").write_text(suite)


def test_a_custom_trait_without_anchors_is_one_located_error(pytester: pytest.Pytester) -> None:
    _project(pytester, SUITE)
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider", timeout=300)
    out = res.stdout.str()
    res.assert_outcomes(failed=1)
    assert "pedantic.yaml::offline_judge_anchors" in out
    suite = pytester.path / "trait_suites" / "pedantic.yaml"
    assert f"{suite}:1: field 'trait': the offline judge has no anchors for trait 'pedantic'" in out
    assert "judge: {anchors: {high: [...], low: [...]}}" in out
    assert "Traceback" not in out + res.stderr.str()


def test_a_suite_cannot_redefine_shipped_anchors(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        SUITE.replace("trait: pedantic\ntrait_file: pedantic.json\n", "trait: evil\n") + ANCHORS,
    )
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider", timeout=300)
    res.assert_outcomes(failed=1)
    assert (
        ":10: field 'judge.anchors': the offline judge ships anchors for 'evil'" in res.stdout.str()
    )


def test_declared_anchors_let_the_offline_judge_score_the_trait(pytester: pytest.Pytester) -> None:
    one = SUITE.replace("  - {kind: coherence_guard, coefficients: [0, 4], min: 0}\n", "")
    _project(pytester, one + ANCHORS)
    res = pytester.runpytest_subprocess(
        "trait_suites", "-p", "no:cacheprovider", "--persona-results", "results.json", timeout=600
    )
    res.assert_outcomes(passed=1)
    results = json.loads((pytester.path / "results.json").read_text())
    judged = [r for r in results["expectations"] if r["kind"] == "baseline_ceiling"]
    figures = judged[0]["figures"]
    assert figures["n"] == 2 and figures["missing"] == 0 and 0 <= figures["mean"] <= 100


def test_two_suites_with_other_anchors_for_one_trait_is_a_located_error(
    pytester: pytest.Pytester,
) -> None:
    _project(pytester, SUITE + ANCHORS)
    other = ANCHORS.replace("Boil it for nine minutes.", "Boil it for ten minutes.")
    (pytester.path / "trait_suites" / "pedantic_more.yaml").write_text(SUITE + other)
    res = pytester.runpytest_subprocess(
        "trait_suites", "-p", "no:cacheprovider", "-k", "offline_judge_anchors", timeout=300
    )
    res.assert_outcomes(failed=1)
    first = pytester.path / "trait_suites" / "pedantic.yaml"
    assert (
        f"pedantic_more.yaml:11: field 'judge.anchors': {first}:11 declares other anchors for "
        "trait 'pedantic'" in res.stdout.str()
    )
