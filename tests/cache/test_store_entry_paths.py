"""Issue 25 item 10: a dangling ``responses/*.jsonl`` symlink is not appended through (nothing
is written outside the cache), and a cache path that is a regular file is reported as such at
start, not blamed on the judge."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from pytest_persona.cache.store import CacheWarning, PersonaCache
from pytest_persona.errors import CacheIOError
from pytest_persona.judges.cache import JudgeCache

FP = "tiny:tiny-random-qwen2:seed0|float32|cpu"


@pytest.mark.parametrize("dangling", [True, False])
def test_responses_symlink_is_not_followed(tmp_path: Path, dangling: bool) -> None:
    cache = PersonaCache(tmp_path / "cache")
    store = cache.responses(FP)
    outside = tmp_path / "outside" / "planted.jsonl"
    outside.parent.mkdir()
    if not dangling:
        PersonaCache(tmp_path / "other").responses(FP).put_many({"k0": "planted text"})
        outside.write_bytes(next((tmp_path / "other" / "responses").glob("*.jsonl")).read_bytes())
    before = outside.read_bytes() if outside.exists() else None
    store.path.parent.mkdir(parents=True)
    store.path.symlink_to(outside)
    with pytest.warns(CacheWarning, match="symlink"):
        assert store.get_many(["k0"]) == {}  # a planted file is not read through the link
        store.put_many({"k1": "generated"})
    assert (outside.read_bytes() if outside.exists() else None) == before  # untouched
    assert store.path.is_file() and not store.path.is_symlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert PersonaCache(tmp_path / "cache").responses(FP).get_many(["k1"]) == \
            {"k1": "generated"}


def test_responses_lock_symlink_is_not_followed(tmp_path: Path) -> None:
    store = PersonaCache(tmp_path / "cache").responses(FP)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    store.path.parent.mkdir(parents=True)
    Path(str(store.path) + ".lock").symlink_to(victim)
    with pytest.warns(CacheWarning, match="symlink"):
        store.put_many({"k1": "generated"})
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize("sub", ["", "nested/deeper"])
def test_cache_path_that_is_a_file_is_a_cache_error(tmp_path: Path, sub: str) -> None:
    afile = tmp_path / "cachefile"
    afile.write_text("x")
    root = afile / sub if sub else afile
    with pytest.raises(CacheIOError, match="cachefile.* is a regular file; the persona cache"):
        PersonaCache(root)
    with pytest.raises(CacheIOError, match="cache folder"):
        JudgeCache(root / "judge.sqlite")


def test_plugin_reports_a_file_cache_path_at_start(pytester: pytest.Pytester) -> None:
    """Regression: the run went on and the judge was blamed ("the judge cannot be used")."""
    pytester.makefile(".txt", cachefile="not a folder")
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--persona-cache", "cachefile.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "--persona-cache" in err and "cachefile.txt is a regular file" in err
    assert "judge" not in err
