"""Fixtures for the judge tests: a local judge server, clean API-key environment, cache paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.judge_server import JudgeServer

TEMPLATE = (
    "Rate the answer.\nQuestion: {question}\nAnswer: {answer}\n"
    "Respond with a number between 0 and 100."
)


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def judge_server() -> Iterator[JudgeServer]:
    """Scores 90 when the prompt contains FLATTER, else 10."""
    with JudgeServer(scorer=lambda prompt: 90 if "FLATTER" in prompt else 10) as srv:
        yield srv


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "judge-cache.sqlite"


@pytest.fixture
def template() -> str:
    return TEMPLATE
