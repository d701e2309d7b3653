"""The screen bounds what it reads and runs (issue 25 items 8, 9, 10): deep nesting, huge
lines and over-long samples are located bad lines that ``--on-bad-line skip`` skips and
counts; an empty file is a clear error, not a TypeError."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
import torch

from pytest_persona.cli import main
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.models.loading import LoadedModel, load_model
from pytest_persona.models.tiny_names import D_MODEL, N_LAYERS
from pytest_persona.pipeline import screen as screen_mod
from pytest_persona.pipeline.screen import (
    ModelProjector,
    ScreenInputError,
    count_lines,
    parse_sample,
    read_samples,
    screen,
)
from tests.pipeline.test_screen import CountingProjector


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model("tiny-random-qwen2", device="cpu")


def _ok(i: int) -> str:
    return json.dumps({"prompt": f"q{i}", "response": f"answer {i}"})


DEEP = '{"prompt": "q", "response": "a", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"


def test_deep_nesting_is_a_located_error() -> None:
    with pytest.raises(ScreenInputError, match=r"^d\.jsonl:3: not valid JSON: nested too deep"):
        parse_sample(DEEP, "d.jsonl", 3)


def test_skip_skips_a_deep_line_instead_of_aborting(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join([_ok(0), DEEP, _ok(2)]) + "\n")
    with pytest.raises(ScreenInputError, match=r"d\.jsonl:2: .*nested too deep"):
        screen(data, CountingProjector(), baseline="none")
    result = screen(data, CountingProjector(), baseline="none", on_bad_line="skip")
    assert result.n_samples == 2 and result.skipped.count == 1
    assert "d.jsonl:2:" in result.skipped.examples[0]


def test_a_huge_line_is_never_held_whole(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(screen_mod, "MAX_LINE_BYTES", 64 * 1024)
    data = tmp_path / "d.jsonl"
    huge = json.dumps({"prompt": "q", "response": "x" * 20_000_000})
    data.write_text("\n".join([_ok(0), huge, _ok(2)]) + "\n")
    tracemalloc.start()
    try:
        with pytest.raises(ScreenInputError, match=r"d\.jsonl:2: line longer than 65,536 bytes"):
            list(read_samples(data))
        import hashlib

        digest = hashlib.sha256()
        samples = list(read_samples(data, "skip", None, digest))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [s.line for s in samples] == [1, 3]
    assert digest.hexdigest() == hashlib.sha256(data.read_bytes()).hexdigest()  # every byte
    assert peak < 2_000_000  # the 20 MB line was read in chunks
    assert count_lines(data) == 3


def test_count_lines_in_chunks(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_bytes(b"a\n\n  \nb" + b"c" * (3 << 20) + b"\n\nlast")
    assert count_lines(data) == 3


def test_over_long_samples_are_located_bad_lines_counted_when_skipped(
        tmp_path: Path, loaded: LoadedModel) -> None:
    vec = {"evil": torch.ones(loaded.d_model)}
    projector = ModelProjector(loaded, vec, 1, None, max_new_tokens=4, batch_size=2,
                               max_tokens=200)
    data = tmp_path / "d.jsonl"
    long = json.dumps({"prompt": "q", "response": "word " * 2000})
    data.write_text("\n".join([_ok(0), long, _ok(2)]) + "\n")
    with pytest.raises(ScreenInputError) as err:
        screen(data, projector, baseline="none")
    assert str(err.value).startswith(f"{data}:2: ")
    assert "over the cap of 200 tokens per sample (--max-tokens)" in str(err.value)
    result = screen(data, projector, baseline="none", on_bad_line="skip")
    assert result.n_samples == 2 and result.skipped.count == 1
    assert result.to_dict()["skipped_lines"] == 1


def _vectors(tmp_path: Path) -> None:
    TraitVectors(torch.ones(N_LAYERS, D_MODEL), {"trait": "evil"}).save(
        tmp_path / "vecs" / "evil.safetensors")


def _args(data: Path, tmp_path: Path, *more: str) -> list[str]:
    return ["screen", str(data), "--model", "tiny-random-qwen2", "--trait", "evil",
            "--vectors", str(tmp_path / "vecs"), "--layer", "1", "--out", str(tmp_path / "out"),
            "--cache", str(tmp_path / "cache"), "--baseline", "none", *more]


def test_cli_empty_file_is_an_error_after_the_outputs(tmp_path: Path, capsys) -> None:
    _vectors(tmp_path)
    data = tmp_path / "empty.jsonl"
    data.write_text("\n\n")
    assert main(_args(data, tmp_path)) == 2
    err = capsys.readouterr().err
    assert f"{data}: no sample to screen (0 bad line(s) skipped)" in err
    assert json.loads((tmp_path / "out" / "screen.json").read_text())["n_samples"] == 0


def test_cli_max_tokens_and_skip(tmp_path: Path, capsys) -> None:
    _vectors(tmp_path)
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join([_ok(0), json.dumps({"prompt": "q", "response": "w " * 500}),
                               DEEP, _ok(3)]) + "\n")
    assert main(_args(data, tmp_path, "--max-tokens", "100", "--on-bad-line", "skip")) == 0
    out = capsys.readouterr().out
    assert "screened 2 samples" in out and "skipped 2 bad line(s)" in out
