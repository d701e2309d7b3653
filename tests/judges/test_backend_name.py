"""#24 finding 5: the part of a judge spec before the colon is its *backend*
(``pytest_persona.judges.BACKENDS``); an unknown one is named in the error."""

from __future__ import annotations

import pytest

from pytest_persona.judges import (
    BACKENDS,
    DEFAULT_ANTHROPIC_MODEL,
    DEFAULT_OPENAI_MODEL,
    make_judge,
    resolve_judge_spec,
)


def test_backends_are_the_four_judge_families() -> None:
    assert BACKENDS == ("openai", "anthropic", "hf", "offline")


@pytest.mark.parametrize(
    "spec,resolved",
    [
        ("openai", f"openai:{DEFAULT_OPENAI_MODEL}"),
        ("anthropic:", f"anthropic:{DEFAULT_ANTHROPIC_MODEL}"),
        ("hf:org/judge", "hf:org/judge"),
        ("offline", "offline"),
    ],
)
def test_every_backend_resolves(spec: str, resolved: str) -> None:
    assert resolve_judge_spec(spec, {})[0] == resolved
    assert resolved.partition(":")[0] in BACKENDS


@pytest.mark.parametrize("spec,backend", [("gpt4", "gpt4"), ("azure:gpt-4o", "azure")])
def test_an_unknown_backend_is_named(spec: str, backend: str) -> None:
    with pytest.raises(
        ValueError, match=f"unknown judge spec '{spec}': unknown backend '{backend}'"
    ):
        resolve_judge_spec(spec, {})


def test_make_judge_picks_the_class_by_backend() -> None:
    judge = make_judge("openai:m", base_url="http://127.0.0.1:9/v1")
    assert type(judge).__name__ == "OpenAIJudge" and judge.id.startswith("openai:m@")
