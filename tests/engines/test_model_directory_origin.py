"""The vLLM engine picks a model directory by ``ModelSpec.origin`` (#24 finding 5: was ``kind``),
without touching the deprecated name and without vLLM installed."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_persona.engines.vllm import model_directory
from pytest_persona.errors import EngineError
from pytest_persona.models.loading import ModelSpec


def test_a_local_directory_is_used_as_it_is(tmp_path: Path) -> None:
    loaded = SimpleNamespace(spec=ModelSpec("m", origin="dir", source=str(tmp_path)), name="m")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model_directory(loaded) == tmp_path


@pytest.mark.parametrize("origin", ["tiny", "peft"])
def test_an_origin_vllm_cannot_load_is_named(origin: str) -> None:
    loaded = SimpleNamespace(spec=ModelSpec("m", origin=origin, source="x"), name="m")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(EngineError, match=f"cannot load a {origin} model"):
            model_directory(loaded)
