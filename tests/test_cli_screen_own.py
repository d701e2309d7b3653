"""#24 finding 5: ``persona screen --own generate|none`` (was ``--baseline``, a word the other
commands use for the saved results file). The old flag still works, with a message on stderr."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from pytest_persona.cli import _own_mode, main, parser
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.errors import PersonaUsageError
from pytest_persona.models.tiny_names import D_MODEL, N_LAYERS

OLD_FLAG = "--baseline is now --own"


def _ns(own: str | None, baseline: str | None) -> argparse.Namespace:
    return argparse.Namespace(own=own, baseline=baseline)


@pytest.mark.parametrize(
    "own,baseline,mode",
    [
        (None, None, "generate"),
        ("none", None, "none"),
        (None, "none", "none"),
        ("none", "none", "none"),
    ],
)
def test_own_mode_resolution(
    own: str | None, baseline: str | None, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _own_mode(_ns(own, baseline)) == mode
    assert (OLD_FLAG in capsys.readouterr().err) == (baseline is not None)


def test_disagreeing_old_and_new_flags_are_a_usage_error() -> None:
    with pytest.raises(PersonaUsageError, match="--own none and --baseline generate disagree"):
        _own_mode(_ns("none", "generate"))


def test_help_shows_own_and_hides_the_old_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["screen", "--help"])
    text = capsys.readouterr().out
    assert "--own {generate,none}" in text and "--baseline" not in text


def test_old_flag_screens_the_same_as_the_new_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    TraitVectors(torch.ones(N_LAYERS, D_MODEL), {"trait": "evil"}).save(
        tmp_path / "vecs" / "evil.safetensors"
    )
    data = tmp_path / "d.jsonl"
    data.write_text(
        "\n".join(json.dumps({"prompt": f"q{i}", "response": "a " * (i + 1)}) for i in range(3))
        + "\n"
    )

    def run(out: str, *flag: str) -> dict[str, object]:
        args = ["screen", str(data), "--model", "tiny-random-qwen2", "--trait", "evil"]
        args += ["--vectors", str(tmp_path / "vecs"), "--layer", "1", "--out", str(tmp_path / out)]
        assert main([*args, "--cache", str(tmp_path / "cache"), *flag]) == 0
        doc: dict[str, object] = json.loads((tmp_path / out / "screen.json").read_text())
        return doc

    new = run("new", "--own", "none")
    assert OLD_FLAG not in capsys.readouterr().err
    old = run("old", "--baseline", "none")
    captured = capsys.readouterr()
    assert OLD_FLAG in captured.err
    assert "1 batches cached, 0 computed" in captured.out  # same persisted batch key
    assert old["traits"] == new["traits"] and old["own"] == old["baseline"] == "none"
