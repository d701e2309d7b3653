"""#24 finding 5: screen's own-answer mode is ``own`` (was ``baseline``, a word that also names
the coefficient-0 run and the saved results file). The old keyword, constants and attribute
warn and give the same result; the persisted batch keys and the JSON field stay."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.cache.store import PersonaCache, stable_hash
from pytest_persona.core.generation import Messages
from pytest_persona.pipeline import screen as screen_module
from pytest_persona.pipeline.screen import (
    OWN_MODES,
    SCREEN_VERSION,
    ScreenResult,
    ScreenRow,
    screen,
)


class LengthProjector:
    """Projects a response onto its length; answers every prompt with "ok"."""

    traits: tuple[str, ...] = ("evil",)

    def __init__(self) -> None:
        self.respond_calls = 0

    def key(self) -> dict[str, Any]:
        return {"model": "fake", "layer": 0, "vectors": {"evil": "v"}, "generation": {"n": 4}}

    def project(self, prompts: Sequence[Messages], responses: Sequence[str]) -> list[list[float]]:
        return [[float(len(r))] for r in responses]

    def respond(self, prompts: Sequence[Messages]) -> list[str]:
        self.respond_calls += 1
        return ["ok"] * len(prompts)


def _data(tmp_path: Path, n: int = 6) -> Path:
    path = tmp_path / "d.jsonl"
    rows = [{"prompt": f"q{i}", "response": "x" * (i + 1)} for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_own_modes_and_the_deprecated_constants() -> None:
    assert OWN_MODES == ("generate", "none")
    with pytest.warns(DeprecationWarning, match=r"screen\.BASELINES is now .*\.OWN_MODES"):
        assert screen_module.BASELINES is OWN_MODES
    with pytest.warns(DeprecationWarning, match=r"screen\.Baseline is now .*\.OwnMode"):
        assert screen_module.Baseline is screen_module.OwnMode


@pytest.mark.parametrize("own", OWN_MODES)
def test_own_keyword_is_silent_and_baseline_warns_with_the_same_result(
    tmp_path: Path, own: str
) -> None:
    data = _data(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = screen(data, LengthProjector(), own=own, batch_size=4, threshold=2.0)
        assert new.own == own
    with pytest.warns(DeprecationWarning, match=r"screen\(baseline=\) is now own="):
        old = screen(data, LengthProjector(), baseline=own, batch_size=4, threshold=2.0)
    assert old.to_dict() == new.to_dict()
    with pytest.warns(DeprecationWarning, match=r"ScreenResult\.baseline is now .*\.own"):
        assert new.baseline == own
    want = "projection_difference" if own == "generate" else "projection"
    assert new.measure == want


def test_own_none_generates_nothing_and_reports_raw_projections(tmp_path: Path) -> None:
    projector = LengthProjector()
    rows: list[ScreenRow] = []
    screen(_data(tmp_path), projector, own="none", batch_size=4, sink=rows.extend)
    assert projector.respond_calls == 0
    assert [r.score("evil") for r in rows] == [float(i + 1) for i in range(6)]
    assert all(r.own is None and r.difference is None for r in rows)


def test_screen_result_takes_the_old_keyword_with_a_warning(tmp_path: Path) -> None:
    new = screen(_data(tmp_path), LengthProjector(), own="none")
    rest: dict[str, Any] = {f.name: getattr(new, f.name) for f in fields(new) if f.name != "own"}
    with pytest.warns(DeprecationWarning, match=r"ScreenResult\(baseline=\) is now own="):
        old = ScreenResult(baseline="none", **rest)  # type: ignore[call-arg]
    assert old.to_dict() == new.to_dict()


def test_conflicting_old_and_new_keywords_are_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="own='none' and its old name baseline='generate'"):
        screen(_data(tmp_path), LengthProjector(), own="none", baseline="generate")


def test_an_unknown_mode_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="own must be one of generate, none, got 'mine'"):
        screen(_data(tmp_path), LengthProjector(), own="mine")


def test_json_document_carries_both_names(tmp_path: Path) -> None:
    doc = screen(_data(tmp_path), LengthProjector(), own="none").to_dict()
    assert doc["own"] == doc["baseline"] == "none" and doc["measure"] == "projection"


@pytest.mark.parametrize("own", OWN_MODES)
def test_persisted_batch_keys_are_unchanged(tmp_path: Path, own: str) -> None:
    cache = PersonaCache(tmp_path / "cache")
    rows: list[ScreenRow] = []
    projector = LengthProjector()
    screen(_data(tmp_path, 3), projector, own=own, batch_size=3, cache=cache, sink=rows.extend)
    # the key as the code before the rename built it: the mode under the name "baseline"
    old_base = {**projector.key(), "baseline": own, "v": SCREEN_VERSION}
    if own == "none":
        old_base.pop("generation")
    key = stable_hash({**old_base, "lines": [r.digest for r in rows]}, 40)
    assert (cache.root / "screen" / key[:2] / f"{key}.json").is_file()
    assert [p.stem for p in (cache.root / "screen").rglob("*.json")] == [key]
    again = screen(_data(tmp_path, 3), LengthProjector(), own=own, batch_size=3, cache=cache)
    assert (again.batches_cached, again.batches_computed) == (1, 0)
