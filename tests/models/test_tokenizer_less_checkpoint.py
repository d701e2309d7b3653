"""A checkpoint directory saved without tokenizer files (``model.save_pretrained`` alone, as
training scripts do) is a located ModelLoadError, and a tokenizer can be named (issue 25 item
18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_persona.errors import ModelLoadError
from pytest_persona.models.loading import TOKENIZER_FILES, load_model
from pytest_persona.models.tiny import save_tiny_model


def _weights_only(tmp_path: Path) -> Path:
    out = save_tiny_model("tiny-random-qwen2", tmp_path / "ckpt")
    for f in out.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "vocab", "merges", "chat_template")):
            f.unlink()
    assert not any((out / f).exists() for f in TOKENIZER_FILES)
    return out


def test_no_tokenizer_files_is_a_located_error(tmp_path: Path) -> None:
    ckpt = _weights_only(tmp_path)
    with pytest.raises(ModelLoadError) as err:
        load_model(str(ckpt), device="cpu")
    msg = str(err.value)
    assert msg.startswith(f"{ckpt}: the model directory has no tokenizer files")
    assert "tokenizer.save_pretrained" in msg and "tokenizer=NAME_OR_DIR" in msg


def test_a_named_tokenizer_loads_it_and_keys_the_identity(tmp_path: Path) -> None:
    ckpt = _weights_only(tmp_path)
    full = save_tiny_model("tiny-random-qwen2", tmp_path / "full")
    by_dir = load_model(str(ckpt), device="cpu", tokenizer=str(full))
    by_name = load_model(str(ckpt), device="cpu", tokenizer="tiny-random-qwen2")
    assert by_dir.tokenizer("hello")["input_ids"] == by_name.tokenizer("hello")["input_ids"]
    assert by_dir.fingerprint.endswith(f"+tokenizer:{full}")
    assert by_dir.fingerprint != by_name.fingerprint
    with pytest.raises(ModelLoadError, match="tokenizer 'nowhere/at-all'"):
        load_model(str(ckpt), device="cpu", tokenizer="nowhere/at-all")
