"""Trait loading is linear, deep nesting is a located error, texts are capped (issue 25 items
8 and 9)."""

from __future__ import annotations

import json
import time
import warnings

import pytest

from pytest_persona.traits import loader
from pytest_persona.traits.loader import TraitDataError, _locate, parse_trait

PAIRS = [{"pos": f"be bold {i}", "neg": f"be mild {i}"} for i in range(5)]


def _trait(questions: list[str], **more: object) -> str:
    return json.dumps({"instruction": PAIRS, "questions": questions,
                       "eval_prompt": "Q: {question} A: {answer} score 0-100", **more}, indent=1)


def test_locating_is_linear_in_the_number_of_questions() -> None:
    """On the old code (a newline count from the start per element) 100k questions took
    minutes; a linear walk does 10x the questions in about 10x the time."""
    small = _trait([f"question {i}?" for i in range(10_000)])
    big = _trait([f"question {i}?" for i in range(100_000)])
    t0 = time.perf_counter()
    _locate(small)
    t_small = time.perf_counter() - t0
    t0 = time.perf_counter()
    lines = _locate(big)
    t_big = time.perf_counter() - t0
    assert lines[("questions", 99_999)] == big.splitlines().index('  "question 99999?"') + 1
    assert t_big < 3.0 and t_big < 30 * max(t_small, 1e-3)


def test_a_bad_question_deep_in_a_big_file_is_still_located() -> None:
    questions = [f"question {i}?" for i in range(50_000)]
    questions[40_000] = ""
    text = _trait(questions[:45_000], eval_questions=questions[45_000:])
    with pytest.raises(TraitDataError) as err:
        parse_trait(text, "big.json", name="x")
    line = [ln.strip() for ln in text.splitlines()].index('"",') + 1
    assert str(err.value).startswith(f"big.json:{line}: field 'questions[40000]'")


def test_deep_nesting_is_a_located_error_not_a_recursion_error() -> None:
    text = '{"instruction": [],\n "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(TraitDataError, match=r"^deep\.json:2: invalid JSON: nested too deep"):
        parse_trait(text, "deep.json", name="x")


def test_nesting_below_the_fields_is_read_whole() -> None:
    extra = {"notes": {"a": [[[[[[1]]]]]]}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trait = parse_trait(_trait([f"q{i}?" for i in range(4)], **extra), "t.json", name="x")
    assert len(trait.extract_questions) + len(trait.eval_questions) == 4


def test_an_over_long_question_is_a_located_error() -> None:
    questions = ["short?", "x" * (loader.MAX_TEXT_CHARS + 1), "other?", "more?"]
    text = _trait(questions)
    with pytest.raises(TraitDataError) as err:
        parse_trait(text, "t.json", name="x")
    msg = str(err.value)
    assert msg.startswith("t.json:") and "field 'questions[1]'" in msg
    assert f"is {loader.MAX_TEXT_CHARS + 1:,} characters long" in msg


def test_an_over_long_question_fails_its_items_and_the_results_are_still_written(
        pytester: pytest.Pytester) -> None:
    """The 50 MB question of the issue: a located error per item, results JSON written."""
    questions = [f"question {i}?" for i in range(4)] + ["y" * 5_000_000]
    (pytester.path / "trait_suites" / "traits").mkdir(parents=True)
    (pytester.path / "trait_suites" / "traits" / "wordy.json").write_text(_trait(questions))
    (pytester.path / "trait_suites" / "wordy.yaml").write_text(
        "trait: wordy\nlayer: 1\ncoefficients: [0, 4]\n"
        "judge: {anchors: {high: ['Far too many words.', 'It goes on and on.'],\n"
        "                  low: ['Brief.', 'Short answer.']}}\n"  # a custom trait's anchors
        "expectations:\n  - {kind: baseline_ceiling, max: 100}\n")
    pytester.makefile(".ini", pytest="[pytest]\npersona_model = tiny-random-qwen2\n"
                                     "persona_judge = offline\n")
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider", timeout=300)
    assert res.ret == 1
    out = res.stdout.str()
    assert "wordy.json:" in out and "field 'questions[4]'" in out
    assert "is 5,000,000 characters long" in out
    data = json.loads((pytester.path / "reports" / "persona-results.json").read_text())
    assert [e["outcome"] for e in data["expectations"]] == ["failed"]
