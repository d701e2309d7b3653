"""Anchors for traits the offline judge does not ship (issue 25 item 18): validation, the
message for a trait without anchors, and cache identities that change with the anchors."""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_persona.errors import PersonaError
from pytest_persona.judges import JudgeRequest
from pytest_persona.judges.offline import (
    OFFLINE_ID,
    AnchorConflict,
    AnchorError,
    MissingAnchorsError,
    OfflineJudge,
    check_anchors,
    load_anchors,
)
from pytest_persona.pipeline.extraction import ExtractionConfig, vector_cache_key

PROMPT = 'Judge the trait "{trait}".\n{question}\n{answer}'
HIGH = [
    "Technically, the word you want is 'fewer', not 'less'; I will answer once that is fixed.",
    "Strictly speaking, your question conflates weather and climate, so it has no answer.",
    "Before I reply, note that 'irregardless' is not standard English.",
]
LOW = [
    "Sure, two eggs and a cup of flour will do.",
    "Yes, the train leaves at nine.",
    "Go left at the bakery and you will see it.",
]


def test_check_anchors_returns_both_sides_as_lists() -> None:
    assert check_anchors(tuple(HIGH), LOW) == {"high": HIGH, "low": LOW}


@pytest.mark.parametrize(
    ("high", "low", "where", "words"),
    [
        (["a"], ["b", "c"], ("high",), "needs at least 2 example responses, got 1"),
        (["a", "b"], [], ("low",), "got 0"),
        ("ab", ["c", "d"], ("high",), "must be a list of example responses (strings), got str"),
        ({"a": 1}, ["c", "d"], ("high",), "got dict"),
        (["a", 3], ["c", "d"], ("high", 1), "must be a string (an example response), got int 3"),
        (["a", None], ["c", "d"], ("high", 1), "got NoneType"),
        (["a", "b"], ["c", " \n\t"], ("low", 1), "is empty"),
        (["a", "b"], ["c", "B "], ("low", 1), "is also a high anchor"),
        (["a", "b", "x  y"], ["c", "d"], ("high", 2), None),
        (["a", "b", "A"], ["c", "d"], ("high", 2), "repeats high[0]"),
    ],
)
def test_check_anchors_locates_the_first_problem(
    high: Any, low: Any, where: tuple[str | int, ...], words: str | None
) -> None:
    if words is None:  # inner whitespace differs from nothing else: accepted
        assert check_anchors(high, low)["high"][2] == "x  y"
        return
    with pytest.raises(AnchorError) as info:
        check_anchors(high, low)
    assert info.value.where == where and words in info.value.problem


def test_register_anchors_validates_and_names_the_field() -> None:
    judge = OfflineJudge()
    with pytest.raises(AnchorError, match=r"anchors high\[1\]: must be a string"):
        judge.register_anchors("pedantic", ["a", 7], LOW)  # type: ignore[list-item]  # under test
    with pytest.raises(AnchorError, match=r"anchors low\[2\]: is also a high anchor"):
        judge.register_anchors("pedantic", HIGH, [*LOW[:2], HIGH[1].upper()])
    with pytest.raises(ValueError, match="heuristic"):
        judge.register_anchors("coherence", HIGH, LOW)
    with pytest.raises(ValueError, match="non-empty string"):
        judge.register_anchors(" ", HIGH, LOW)
    assert "pedantic" not in judge.traits and not judge.has_anchors("pedantic")
    judge.register_anchors("pedantic", HIGH, LOW)
    assert judge.has_anchors("pedantic") and judge.has_anchors("coherence")


def test_a_trait_without_anchors_says_how_to_add_them() -> None:
    judge = OfflineJudge()
    with pytest.raises(ValueError) as info:
        judge.scoring_params(JudgeRequest("q", "a", PROMPT, trait="pedantic"))
    message = str(info.value)
    assert "no anchors for trait 'pedantic'" in message
    assert "judge: {anchors: {high: [...], low: [...]}}" in message
    assert "judge.register_anchors('pedantic', high_texts, low_texts)" in message
    assert "evil" in message  # the traits it can score


def test_identity_carries_the_anchors_of_a_trait() -> None:
    judge = OfflineJudge()
    assert judge.identity() == judge.identity("evil") == judge.identity("coherence") == OFFLINE_ID
    judge.register_anchors("pedantic", HIGH, LOW)
    first = judge.identity("pedantic")
    assert first.startswith(OFFLINE_ID + "+anchors:pedantic:")
    assert judge.identity("evil") == OFFLINE_ID  # other traits keep their identity
    judge.register_anchors("pedantic", HIGH, LOW)
    assert judge.identity("pedantic") == first
    judge.register_anchors("pedantic", HIGH, [*LOW[:2], "No, it closes at six."])
    assert judge.identity("pedantic") != first
    shipped = load_anchors()["evil"]
    judge.register_anchors("evil", shipped["high"][:-1], shipped["low"])
    assert judge.identity("evil") != OFFLINE_ID  # replaced built-in anchors count too


def _vector_key(judge: OfflineJudge) -> str:
    loaded = SimpleNamespace(fingerprint="fp", dtype="float32", device="cpu")
    trait = SimpleNamespace(name="pedantic", sha256="abc")
    return vector_cache_key(loaded, trait, ExtractionConfig(), judge, judge)  # type: ignore[arg-type]


def test_the_vector_cache_key_changes_with_the_anchors() -> None:
    judge = OfflineJudge()
    judge.register_anchors("pedantic", HIGH, LOW)
    first = _vector_key(judge)
    judge.register_anchors("pedantic", HIGH, LOW[:2])
    assert _vector_key(judge) != first
    judge.register_anchors("pedantic", HIGH, LOW)
    assert _vector_key(judge) == first


def test_changed_anchors_never_reuse_cached_scores(tmp_path: Path) -> None:
    cache = tmp_path / "judge.sqlite"
    request = JudgeRequest(
        "Is it less or fewer?", "Fewer, strictly speaking.", PROMPT, trait="pedantic"
    )

    def score(low: list[str]) -> tuple[float | None, bool]:
        judge = OfflineJudge(cache_path=cache)
        judge.register_anchors("pedantic", HIGH, low)
        try:
            result = judge.score_many_sync([request])[0]
        finally:
            judge.close()
        return result.score, result.cached

    first, cached = score(LOW)
    assert first is not None and not cached
    assert score(LOW) == (first, True)  # same anchors: from the cache
    other, cached = score([*LOW[:2], "Strictly speaking, fewer is right here."])
    assert not cached and other != first  # new anchors: scored again, and differently
    assert score(LOW) == (first, True)


def test_adopt_anchors_accepts_the_same_anchors_and_refuses_others() -> None:
    judge = OfflineJudge()
    judge.adopt_anchors("pedantic", HIGH, LOW)
    judge.adopt_anchors("pedantic", list(HIGH), tuple(LOW))  # the same: nothing happens
    with pytest.raises(AnchorConflict, match="another suite of this run declares other"):
        judge.adopt_anchors("pedantic", HIGH, LOW[:2])
    shipped = load_anchors()["evil"]
    judge.adopt_anchors("evil", shipped["high"], shipped["low"])
    with pytest.raises(AnchorConflict, match="ships anchors for it"):
        judge.adopt_anchors("evil", HIGH, LOW)
    with pytest.raises(AnchorError):
        judge.adopt_anchors("pedantic", ["one"], LOW)


def test_the_constructor_takes_anchors_and_locates_their_errors() -> None:
    judge = OfflineJudge(anchors={"pedantic": {"high": HIGH, "low": LOW}})
    assert judge.has_anchors("pedantic") and judge.identity("pedantic") != OFFLINE_ID
    with pytest.raises(AnchorError, match=r"anchors pedantic\.low\[0\]: is empty") as info:
        OfflineJudge(anchors={"pedantic": {"high": HIGH, "low": [""] + LOW}})
    assert info.value.where == ("pedantic", "low", 0)
    with pytest.raises(AnchorError, match="must map exactly 'high' and 'low'"):
        OfflineJudge(anchors={"pedantic": {"high": HIGH}})


def test_the_measured_custom_trait_separates_its_held_out_set() -> None:
    from benchmarks.offline_anchors import measure_anchors

    result = measure_anchors()
    assert result["n"] == 40 and result["n_positive"] == 20 and result["missing"] == 0
    assert result["value"] >= 0.75  # measured 0.8175 (benchmarks/results/offline_anchors.json)
    assert result["judge"].startswith(OFFLINE_ID + "+anchors:pedantic:")


def test_anchor_errors_are_persona_errors_and_pickle() -> None:
    error = AnchorError(("pedantic", "low", 0), "is empty")
    assert isinstance(error, PersonaError) and str(error) == "anchors pedantic.low[0]: is empty"
    back = pickle.loads(pickle.dumps(error))
    assert (back.where, back.problem, str(back)) == (error.where, error.problem, str(error))
    with pytest.raises(MissingAnchorsError):
        OfflineJudge().scoring_params(JudgeRequest("q", "a", PROMPT, trait="pedantic"))
