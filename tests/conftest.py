"""Shared test configuration: offline mode, no keys from the environment leak into tests."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = ["pytester"]


from typing import TYPE_CHECKING  # noqa: E402

import pytest  # noqa: E402

if TYPE_CHECKING:
    from pytest_persona.models.loading import LoadedModel


@pytest.fixture(scope="session")
def smol() -> LoadedModel:
    """The embedded SmolLM2-135M-Instruct, loaded once per test session (CPU, float32)."""
    from pytest_persona.models.loading import load_model

    return load_model("smollm2-135m", device="cpu", dtype="float32")
