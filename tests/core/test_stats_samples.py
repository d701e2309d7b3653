"""summarize's samples per question on empty and all-missing samples, and describe()'s switch
to the per-question wording from two samples up."""

from __future__ import annotations

import math

from pytest_persona.core.stats import Summary, summarize


def test_empty_sample_has_one_sample_per_question() -> None:
    s = summarize([])
    assert s.n == 0 and math.isnan(s.mean) and s.samples_per_question == 1


def test_all_missing_keeps_the_samples_per_question() -> None:
    s = summarize([None, None, None, None], clusters=["a", "a", "b", "b"])
    assert (s.n, s.missing, s.n_questions, s.samples_per_question) == (0, 4, 0, 2)


def test_two_samples_per_question_are_described_per_question() -> None:
    two = Summary(4, 50.0, 40.0, 60.0, 0, 2, 2)
    assert "n=2 questions x 2 samples = 4" in two.describe()
    one = Summary(4, 50.0, 40.0, 60.0, 0, 4, 1)
    assert one.describe().endswith(", n=4)")
