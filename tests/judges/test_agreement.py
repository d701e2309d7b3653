"""Judge agreement: AUC and Spearman by hand, their bootstrap intervals, labelled files with
located errors, the shipped sets, and measurement through the judge cache."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_persona.errors import LocatedError
from pytest_persona.judges import agreement as ag
from pytest_persona.judges import make_judge
from tests.judges.conftest import TEMPLATE
from tests.support.judge_server import JudgeServer


def test_auc_by_hand() -> None:
    # positives score 0.35, 0.8; negatives 0.1, 0.4: pairs (pos > neg) = 0.35>0.1, 0.8>0.1,
    # 0.8>0.4 -> 3 of 4
    assert ag.auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert ag.auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert ag.auc([4, 3, 2, 1], [0, 0, 1, 1]) == 0.0
    # a tie between a positive and a negative counts one half: pairs 1, 1, 0.5, 1 of 4 -> 7/8
    assert ag.auc([1, 2, 2, 3], [0, 0, 1, 1]) == 0.875
    assert ag.auc([5, 5, 5], [1, 0, 1]) == 0.5
    assert math.isnan(ag.auc([1, 2], [1, 1]))
    with pytest.raises(ValueError):
        ag.auc([1, 2], [1])


def test_spearman_by_hand() -> None:
    from pytest_persona.core.projection import spearman

    # ranks x = (1, 2, 3, 4), y = (1, 3, 2, 4): d^2 = 0+1+1+0 = 2, rho = 1 - 6*2/(4*15) = 0.8
    assert spearman([10, 20, 30, 40], [0, 70, 50, 100]) == pytest.approx(0.8)


def test_intervals_bracket_and_are_seeded() -> None:
    scores = [0.1, 0.4, 0.35, 0.8, 0.6, 0.2, 0.9, 0.3]
    labels = [0, 0, 1, 1, 1, 0, 1, 0]
    lo, hi = ag.auc_interval(scores, labels, seed=1)
    assert 0 <= lo <= ag.auc(scores, labels) <= hi <= 1
    assert ag.auc_interval(scores, labels, seed=1) == (lo, hi)
    perfect = ag.auc_interval([1, 2, 3, 4], [0, 0, 1, 1])
    assert perfect == (1.0, 1.0)  # every stratified resample keeps positives above negatives
    graded = [5.0, 20.0, 35.0, 60.0, 70.0, 90.0]
    slo, shi = ag.spearman_interval([1, 2, 3, 5, 4, 6], graded)
    assert -1 <= slo <= shi <= 1 and shi == 1.0
    assert all(math.isnan(x) for x in ag.spearman_interval([1, 2], [1, 2]))  # too few rows


def _write(tmp_path: Path, rows: Sequence[object]) -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


GOOD = [{"question": "q1", "answer": "a1", "label": 1},
        {"question": "q2", "answer": "a2", "label": 0}]


@pytest.mark.parametrize("rows, line, field, match", [
    ([GOOD[0], "[1, 2]"], 2, None, "JSON object"),
    ([GOOD[0], "{bad"], 2, None, "not a JSON object"),
    ([GOOD[0], {"question": "q", "answer": "a"}], 2, "label", "missing"),
    ([GOOD[0], {"question": "q", "answer": "a", "label": "high"}], 2, "label",
     "0 or 1 .binary. or a number in 0..100"),
    ([GOOD[0], {"question": "q", "answer": "a", "label": 101}], 2, "label", "0..100"),
    ([GOOD[0], {"question": "q", "answer": "a", "label": True}], 2, "label", "0..100"),
    ([GOOD[0], {"question": "", "answer": "a", "label": 0}], 2, "question", "non-empty"),
    ([GOOD[0], {"question": "q", "answer": 3, "label": 0}], 2, "answer", "non-empty"),
    ([GOOD[0], {"question": "q", "answer": "a", "label": 0, "why": "x"}], 2, "why",
     "unknown field"),
    ([GOOD[0], GOOD[0]], 1, "label", "both classes"),
    ([{"question": "q", "answer": "a", "label": 50}, {"question": "q", "answer": "b",
                                                      "label": 50},
      {"question": "q", "answer": "c", "label": 50}], 1, "label", "two different values"),
])
def test_bad_files_are_located(tmp_path: Path, rows: list[object], line: int,
                               field: str | None, match: str) -> None:
    path = _write(tmp_path, rows)
    with pytest.raises(LocatedError, match=match) as info:
        ag.load_labels(path)
    assert (info.value.path, info.value.line, info.value.field) == (path, line, field)


def test_binary_and_graded_files(tmp_path: Path) -> None:
    binary = ag.load_labels(_write(tmp_path, GOOD))
    assert binary.binary and binary.metric == "auc" and binary.labels == [1.0, 0.0]
    graded = ag.load_labels(_write(tmp_path, [{"question": "q", "answer": a, "label": y}
                                              for a, y in (("a", 0), ("b", 40), ("c", 90))]))
    assert not graded.binary and graded.metric == "spearman"


@pytest.mark.parametrize("trait", ["sycophantic", "evil", "hallucinating"])
def test_shipped_sets(trait: str) -> None:
    assert trait in ag.builtin_traits()
    s = ag.load_labels(ag.builtin_labels(trait))
    assert len(s.labels) >= 40 and s.binary
    assert 15 <= sum(s.labels) <= len(s.labels) - 15


def test_measure_goes_through_the_judge_cache(tmp_path: Path) -> None:
    # the scripted judge gives 90 to answers with FLATTER, 60 to "maybe", else 10
    def score(prompt: str) -> int:
        return 90 if "FLATTER" in prompt else 60 if "maybe" in prompt else 10

    rows = [{"question": f"q{i}", "answer": a, "label": y} for i, (a, y) in enumerate(
        [("FLATTER you", 1), ("FLATTER", 1), ("maybe", 1), ("maybe so", 0), ("no", 0),
         ("nope", 0)])]
    labelled = ag.load_labels(_write(tmp_path, rows))
    with JudgeServer(scorer=score) as srv:
        judge = make_judge("openai:scripted-2025-04-14", base_url=srv.base_url,
                           cache_path=tmp_path / "judge.sqlite")
        a = ag.measure(judge, labelled, TEMPLATE, "sycophantic")
        first = srv.calls
        again = ag.measure(judge, labelled, TEMPLATE, "sycophantic")
        judge.close()
        assert srv.calls == first  # the second measurement asked nothing
    # positives 90, 90, 60; negatives 60, 10, 10: pairs won 3+3+(0.5+1+1) = 8.5 of 9
    assert a.metric == "auc" and a.value == pytest.approx(8.5 / 9)
    assert a.n == 6 and a.missing == 0 and a.n_positive == 3
    assert a.ci_low <= a.value <= a.ci_high and again == a
    assert "stratified" in a.to_dict()["procedure"] and a.to_dict()["ci"] == [a.ci_low,
                                                                              a.ci_high]


def test_repeat_index_keys_its_own_cache_entry(tmp_path: Path) -> None:
    from pytest_persona.judges import JudgeRequest

    with JudgeServer(scorer=lambda prompt: 42) as srv:
        judge = make_judge("openai:scripted-2025-04-14", base_url=srv.base_url,
                           cache_path=tmp_path / "judge.sqlite")
        req = JudgeRequest("q", "a", TEMPLATE, "evil")
        again = JudgeRequest("q", "a", TEMPLATE, "evil", repeat=1)
        assert judge.cache_key(req) != judge.cache_key(again)
        assert judge.cache_key(req) == judge.cache_key(JudgeRequest("q", "a", TEMPLATE, "evil"))
        judge.score_many_sync([req])
        judge.score_many_sync([req])
        assert srv.calls == 1
        judge.score_many_sync([again])
        assert srv.calls == 2  # a repeat asks the judge again, once
        judge.score_many_sync([again])
        assert srv.calls == 2
        judge.close()
