"""Issue 25 item 5: a projection cache entry is checked on every read (type, length,
finiteness) and on import; a bad one warns and is recomputed, never used or crashed on."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest
import torch

from pytest_persona.cache.archive import ArchiveError, import_cache
from pytest_persona.cache.store import CacheWarning, PersonaCache
from pytest_persona.models.loading import load_model
from pytest_persona.pipeline.projections import projections
from tests.cache.test_archive_judge_db import archive_of

N = 3
HOSTILE = {
    "empty list": '{"values": []}',
    "string": '{"values": "1.0, 2.0, 3.0"}',
    "null": '{"values": null}',
    "null entries": '{"values": [null, 1.0, 2.0]}',
    "nested lists": '{"values": [[], [1.0], 2.0]}',
    "NaN": '{"values": [NaN, 1.0, 2.0]}',
    "Infinity": '{"values": [1.0, -Infinity, 2.0]}',
    "booleans": '{"values": [true, false, true]}',
    "too many": '{"values": [1.0, 2.0, 3.0, 4.0]}',
    "not an object": "[1.0, 2.0, 3.0]",
    "no values": '{"mean": 1.0}',
    "not JSON": "\x00\xff garbage",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_entry_warns_and_misses(tmp_path: Path, case: str) -> None:
    cache = PersonaCache(tmp_path)
    path = cache.projection_path("pkey")
    path.parent.mkdir(parents=True)
    path.write_text(HOSTILE[case], encoding="utf-8")
    with pytest.warns(CacheWarning, match="corrupt projection cache entry"):
        assert cache.load_projections("pkey", N) is None
    assert not path.exists()  # moved aside, kept for inspection
    assert any(p.name.startswith("pkey.json.corrupt-") for p in path.parent.iterdir())


def test_valid_entry_round_trips_quietly(tmp_path: Path) -> None:
    cache = PersonaCache(tmp_path)
    cache.save_projections("pkey", [0.5, -1.0, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.load_projections("pkey", N) == [0.5, -1.0, 2.0]


def test_non_finite_values_are_never_cached(tmp_path: Path) -> None:
    cache = PersonaCache(tmp_path)
    with pytest.warns(CacheWarning, match="not cached"):
        assert cache.save_projections("pkey", [1.0, math.nan, 2.0]) is None
    assert not cache.projection_path("pkey").exists()


@pytest.fixture(scope="module")
def tiny() -> object:
    return load_model("tiny-random-qwen2", device="cpu")


@pytest.mark.parametrize("case", ["null entries", "NaN", "nested lists", "string"])
def test_pipeline_recomputes_a_hostile_entry(tmp_path: Path, tiny: object, case: str) -> None:
    """Regression: null/nested entries raised TypeError on every run; NaN was used."""
    cache = PersonaCache(tmp_path)
    d_model = tiny.model.config.hidden_size  # type: ignore[attr-defined]
    vector = torch.linspace(-1.0, 1.0, d_model)
    prompts = ["Tell me about cats.", "What is rain?", "Name a colour."]
    answers = ["Cats sleep a lot.", "Water falling.", "Blue."]
    cold = projections(tiny, prompts, answers, vector, 1, cache)
    [entry] = list((tmp_path / "projections").glob("*.json"))
    entry.write_text(HOSTILE[case])
    with pytest.warns(CacheWarning, match="corrupt projection cache entry"):
        again = projections(tiny, prompts, answers, vector, 1, cache)
    assert again == pytest.approx(cold, rel=1e-5) and all(map(math.isfinite, again))
    assert json.loads(entry.read_text())["values"] == pytest.approx(cold, rel=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten entry is read back quietly
        assert projections(tiny, prompts, answers, vector, 1, cache) == again


@pytest.mark.parametrize("case", ["NaN", "null entries", "string", "not an object"])
def test_import_refuses_a_hostile_projection_entry(tmp_path: Path, case: str) -> None:
    arc = archive_of(tmp_path / "a.tar.gz",
                     {"projections/pkey.json": HOSTILE[case].encode("utf-8")})
    with pytest.raises(ArchiveError, match="projections/pkey.json"):
        import_cache(arc, tmp_path / "dst")
    assert not (tmp_path / "dst").exists()
