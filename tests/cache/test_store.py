"""The on-disk cache survives corruption: torn JSONL lines, broken vector entries."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from pytest_persona.cache.store import CacheWarning, PersonaCache
from pytest_persona.core.vectors import TraitVectors


def test_torn_line_is_compacted_and_warns_once(tmp_path: Path) -> None:
    """Regression (issue 13.13): a torn line warned on every run and was never removed."""
    store = PersonaCache(tmp_path).responses("m")
    store.put_many({"a": "first", "b": "second"})
    with open(store.path, "ab") as handle:
        handle.write(b'{"k": "c", "t": "tor')  # the process died mid-line
    with pytest.warns(CacheWarning, match="1 corrupted line"):
        assert PersonaCache(tmp_path).responses("m").get_many(["a", "b", "c"]) == {
            "a": "first", "b": "second"}
    lines = store.path.read_text().splitlines()
    assert [json.loads(line)["k"] for line in lines] == ["a", "b"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the next run is silent
        fresh = PersonaCache(tmp_path).responses("m")
        assert fresh.get_many(["a", "b"]) == {"a": "first", "b": "second"}
        fresh.put_many({"c": "third"})
    assert len(store.path.read_text().splitlines()) == 3


def test_garbage_line_in_the_middle_is_dropped(tmp_path: Path) -> None:
    store = PersonaCache(tmp_path).responses("m")
    store.put_many({"a": "x"})
    with open(store.path, "ab") as handle:
        handle.write(b'{"k": "b", "t": "y", "c": "0000000000000000"}\nnot json\n')
    other = PersonaCache(tmp_path).responses("m")
    with pytest.warns(CacheWarning, match="2 corrupted line"):
        other.put_many({"d": "z"})
    assert other.get_many(["a", "b", "d"]) == {"a": "x", "d": "z"}
    # the first process notices the file was replaced and re-reads it
    assert store.get_many(["a", "d"]) == {"a": "x", "d": "z"}


def _vectors(n_layers: int = 3, d_model: int = 4) -> TraitVectors:
    return TraitVectors(torch.randn(n_layers, d_model), {"trait": "t"})


def _break_sidecar(cache: PersonaCache, key: str) -> None:
    cache.vector_path(key).with_suffix(".json").write_text("[1, 2, 3]")


def _int8(cache: PersonaCache, key: str) -> None:
    meta = {"format": "pytest-persona", "format_version": "1",
            "metadata_json": json.dumps({"n_layers": 3, "d_model": 4})}
    save_file({"response_avg": torch.ones(3, 4, dtype=torch.int8)},
              str(cache.vector_path(key)), metadata=meta)


def _wrong_shape(cache: PersonaCache, key: str) -> None:
    meta = {"format": "pytest-persona", "format_version": "1",
            "metadata_json": json.dumps({"n_layers": 3, "d_model": 4})}
    save_file({"response_avg": torch.ones(12)}, str(cache.vector_path(key)), metadata=meta)


def _directory(cache: PersonaCache, key: str) -> None:
    path = cache.vector_path(key)
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("x")


def _nan(cache: PersonaCache, key: str) -> None:
    vectors = _vectors()
    vectors.vectors[1, 2] = float("nan")
    vectors.save(cache.vector_path(key))


def _missing_sidecar(cache: PersonaCache, key: str) -> None:
    cache.vector_path(key).with_suffix(".json").unlink()


@pytest.mark.parametrize("corrupt", [_break_sidecar, _int8, _wrong_shape, _directory, _nan,
                                     _missing_sidecar])
def test_corrupt_vector_entries_warn_and_recompute(tmp_path: Path, corrupt) -> None:
    """Regression (issue 13.8): these were loaded as valid, or crashed, or blocked the save."""
    cache = PersonaCache(tmp_path)
    cache.save_vectors("k", _vectors(), {"trait": "t"})
    assert cache.load_vectors("k") is not None
    corrupt(cache, "k")
    with pytest.warns(CacheWarning, match="corrupt vector cache entry"):
        assert cache.load_vectors("k") is None
    assert cache.vector_misses == 1 and cache.vector_hits == 1
    good = _vectors()
    cache.save_vectors("k", good, {"trait": "t"})  # recompute and store over it
    again = cache.load_vectors("k")
    assert again is not None and torch.equal(again.vectors, good.vectors)
    assert any(p.name.startswith("k.safetensors.corrupt-") or p.name.startswith("k.json.corrupt-")
               for p in cache.vector_path("k").parent.iterdir())


def test_load_checked_warns_and_reads_a_rejected_entry_as_absent(tmp_path: Path) -> None:
    cache = PersonaCache(tmp_path)
    cache.save_record("dose", "k1", {"mean": 2.0})

    def check(d: dict[str, Any]) -> float:
        if not isinstance(d.get("mean"), float) or d["mean"] < 0:
            raise ValueError("mean must be a non-negative float")
        return float(d["mean"])

    assert cache.load_checked("dose", "k1", check, "dose") == 2.0
    assert cache.load_checked("dose", "absent", check, "dose") is None
    cache.save_record("dose", "k2", {"mean": -1.0})
    with pytest.warns(CacheWarning, match=r"k2\.json: corrupt dose cache entry \(mean must"):
        assert cache.load_checked("dose", "k2", check, "dose") is None
