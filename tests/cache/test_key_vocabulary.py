"""#24 finding 5 in the cache: ``ProjectionKey.pooling`` (was ``kind``) and
``PersonaCache.*_record(folder, ...)`` (was ``kind``). Persisted keys and paths do not change."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest

from pytest_persona.cache.keys import ProjectionKey, field_names
from pytest_persona.cache.store import PersonaCache, stable_hash

FIELDS = dict(model="fp|float32|cpu", prompts=["p1"], answers=["a1"], vector="v", layer=3)
# digests computed with the code before the rename (commit e3cc87d), where the field was `kind`
BEFORE = {
    "response_avg": "030978552218282223acae6018d0c2b9",
    "prompt_last": "2e40bbd4b51b1865edaa4174d0daeb3a",
}


@pytest.mark.parametrize("pooling", sorted(BEFORE))
def test_projection_key_digest_is_unchanged_by_the_rename(pooling: str) -> None:
    key = ProjectionKey(**FIELDS, pooling=pooling)  # type: ignore[arg-type]
    assert key.digest() == BEFORE[pooling]
    old_layout = {**FIELDS, "kind": pooling, "v": 1}  # what the old code hashed: asdict(key)
    assert key.digest() == stable_hash(old_layout)


def test_projection_key_default_pooling_is_response_avg() -> None:
    key = ProjectionKey(**FIELDS)  # type: ignore[arg-type]
    assert key.pooling == "response_avg" and key.digest() == BEFORE["response_avg"]
    assert "pooling" in field_names(ProjectionKey) and "kind" not in field_names(ProjectionKey)


def test_projection_key_old_keyword_and_attribute_warn_and_agree() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = ProjectionKey(**FIELDS, pooling="prompt_last")  # type: ignore[arg-type]
        assert dataclasses.replace(new, pooling="response_avg").digest() == BEFORE["response_avg"]
    with pytest.warns(DeprecationWarning, match=r"ProjectionKey\(kind=\) is now pooling="):
        old = ProjectionKey(**FIELDS, kind="prompt_last")  # type: ignore[arg-type, call-arg]
    assert old == new and old.digest() == new.digest()
    with pytest.warns(DeprecationWarning, match=r"ProjectionKey\.kind is now .*\.pooling"):
        assert new.kind == "prompt_last"


def test_record_folder_keyword_is_silent_and_paths_are_unchanged(tmp_path: Path) -> None:
    cache = PersonaCache(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = cache.save_record(folder="checks", key="k1", payload={"result": 1})
        assert path == tmp_path / "checks" / "k1.json" == cache.record_path("checks", "k1")
        assert cache.load_record(folder="checks", key="k1") == {"result": 1}
        assert cache.load_checked(folder="checks", key="k1", check=dict, what="x") == {"result": 1}


def test_record_kind_keyword_warns_and_reaches_the_same_file(tmp_path: Path) -> None:
    cache = PersonaCache(tmp_path)
    with pytest.warns(DeprecationWarning, match=r"PersonaCache\.save_record\(kind=\) is now"):
        path = cache.save_record(kind="dose", key="k", payload={"m": 2.0})  # type: ignore[call-arg]
    with pytest.warns(DeprecationWarning, match=r"PersonaCache\.record_path\(kind=\) is now"):
        assert cache.record_path(kind="dose", key="k") == path  # type: ignore[call-arg]
    with pytest.warns(DeprecationWarning, match=r"PersonaCache\.load_record\(kind=\) is now"):
        assert cache.load_record(kind="dose", key="k") == {"m": 2.0}  # type: ignore[call-arg]
    with pytest.warns(DeprecationWarning, match=r"PersonaCache\.load_checked\(kind=\) is now"):
        found = cache.load_checked(kind="dose", key="k", check=dict, what="dose")  # type: ignore[call-arg]
    assert found == {"m": 2.0}
