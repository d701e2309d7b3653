"""Smaller user gaps of issue 25 item 18: ``persona extract --coherence-threshold`` (its error
advises lowering it), and an hf judge that cannot load does not talk about ``--model``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_persona.cli import main, parser
from pytest_persona.errors import ModelLoadError
from pytest_persona.judges.hf_judge import HFJudge


def test_extract_takes_a_coherence_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    from pytest_persona.pipeline import extraction

    args = parser().parse_args(["extract", "--model", "m", "--trait", "evil"])
    assert args.coherence_threshold == 50.0
    seen = []

    def capture(loaded, trait, judge, coh, config, *a, **k):
        seen.append(config)
        raise extraction.ExtractionError("stop here")

    monkeypatch.setattr(extraction, "extract_vectors", capture)
    assert main(["extract", "--model", "tiny-random-qwen2", "--trait", "evil", "--judge",
                 "offline", "--coherence-threshold", "10", "--cache",
                 str(tmp_path / "c"), "--out", str(tmp_path / "v")]) == 2
    assert seen[0].coherence_threshold == 10.0


def test_hf_judge_load_error_names_the_judge_not_model() -> None:
    def loader(name: str) -> None:
        raise ModelLoadError(f"model {name!r} is not available offline: Fix: pass a local "
                             "directory with --model /path/to/model, or use the embedded "
                             "--model smollm2-135m.")

    with pytest.raises(ModelLoadError) as err:
        HFJudge("nonexistent/model", model_loader=loader)
    msg = str(err.value)
    assert msg.startswith("the hf judge model 'nonexistent/model' cannot be loaded")
    assert "--model" not in msg and "--judge hf:/path/to/model" in msg
