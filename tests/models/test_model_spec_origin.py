"""#24 finding 5: ``ModelSpec.origin`` (tiny, embedded, gguf, dir, hub, peft) was ``kind``; the
old attribute and keyword warn and give the same value. ``source`` keeps its meaning (repo id,
directory or file), so it could not take the new name."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest

from pytest_persona.models.loading import ALIASES, ModelSpec, resolve_model


def _resolve_silently(name: str) -> ModelSpec:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # resolving never touches the deprecated name
        return resolve_model(name)


@pytest.mark.parametrize(
    "name,origin",
    [("qwen2.5-7b", "hub"), ("org/some-model", "hub"), ("tiny-random-gpt2", "tiny")],
)
def test_resolve_model_sets_origin(name: str, origin: str) -> None:
    spec = _resolve_silently(name)
    assert spec.origin == origin
    with pytest.warns(DeprecationWarning, match=r"ModelSpec\.kind is now ModelSpec\.origin"):
        assert spec.kind == origin


def test_local_origins_and_source_keeps_its_meaning(tmp_path: Path) -> None:
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    (tmp_path / "plain").mkdir()
    peft, plain = (
        _resolve_silently(str(tmp_path / "adapter")),
        _resolve_silently(str(tmp_path / "plain")),
    )
    assert (peft.origin, plain.origin) == ("peft", "dir")
    assert plain.source == str((tmp_path / "plain").resolve())
    assert _resolve_silently("qwen2.5-7b").source == ALIASES["qwen2.5-7b"]


def test_constructor_kind_keyword_warns_and_builds_the_same_spec() -> None:
    with pytest.warns(DeprecationWarning, match=r"ModelSpec\(kind=\) is now origin="):
        old = ModelSpec(name="m", kind="hub", source="org/m")  # type: ignore[call-arg]
    new = ModelSpec(name="m", origin="hub", source="org/m")
    assert old == new and hash(old) == hash(new)
    assert dataclasses.replace(new, origin="dir").origin == "dir"
    with pytest.raises(TypeError, match="both kind= and its new name origin="):
        ModelSpec(name="m", kind="hub", origin="hub", source="org/m")  # type: ignore[call-arg]
