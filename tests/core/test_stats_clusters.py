"""Several samples per question: means per question, bootstrap over questions."""

from __future__ import annotations

import math
import random

import pytest

from pytest_persona.core.stats import bootstrap_ci, cluster_means, summarize


def _hand_cluster_ci(question_means: list[float], seed: int, resamples: int = 2000
                     ) -> tuple[float, float]:
    """The same seeded resamples, by hand: draw question indices, average their means."""
    rng = random.Random(seed)
    n = len(question_means)
    boot = []
    for _ in range(resamples):
        picks = [math.floor(rng.random() * n) for _ in range(n)]
        boot.append(sum(question_means[i] for i in picks) / n)
    boot.sort()
    return boot[math.floor(0.025 * (resamples - 1))], boot[math.ceil(0.975 * (resamples - 1))]


def test_interval_resamples_questions_not_answers() -> None:
    # 5 questions x 4 samples; samples of one question agree, questions differ
    scores: list[list[float | None]] = [[10, 12, 11, None], [80, 82, 79, 81], [40, 41, 39, 40], [95, 90, 93, 92],
              [5, 6, 4, 5]]
    values = [s for q in scores for s in q]
    labels = [q for q, row in enumerate(scores) for _ in row]
    s = summarize(values, seed=3, clusters=labels)
    qmeans = [sum(x for x in row if x is not None) / sum(x is not None for x in row)
              for row in scores]
    assert cluster_means(values, labels) == pytest.approx(qmeans)
    assert s.mean == pytest.approx(sum(qmeans) / 5)
    assert (s.ci_low, s.ci_high) == pytest.approx(_hand_cluster_ci(qmeans, seed=3))
    assert (s.n, s.n_questions, s.samples_per_question, s.missing) == (19, 5, 4, 1)
    assert "n=5 questions x 4 samples = 19" in s.describe()
    # resampling single answers would treat 19 answers as independent: a narrower interval
    flat = bootstrap_ci([float(v) for v in values if v is not None], seed=3)
    assert (flat[1] - flat[0]) < 0.8 * (s.ci_high - s.ci_low)


def test_one_sample_per_question_is_the_plain_bootstrap() -> None:
    values = [10.0, 35.0, None, 80.0, 55.0]
    plain = summarize(values, seed=1)
    clustered = summarize(values, seed=1, clusters=[0, 1, 2, 3, 4])
    assert plain == clustered
    assert (plain.ci_low, plain.ci_high) == bootstrap_ci([10.0, 35.0, 80.0, 55.0], seed=1)
    assert plain.samples_per_question == 1 and plain.n_questions == 4
    assert plain.describe().endswith("n=4)")


def test_question_with_every_sample_missing_is_dropped() -> None:
    s = summarize([None, None, 20.0, 40.0], clusters=["a", "a", "b", "b"])
    assert (s.n, s.n_questions, s.missing, s.mean) == (2, 1, 2, 30.0)
    assert summarize([None, None], clusters=[0, 0]).n_questions == 0
    with pytest.raises(ValueError, match="cluster labels"):
        summarize([1.0], clusters=[0, 1])
