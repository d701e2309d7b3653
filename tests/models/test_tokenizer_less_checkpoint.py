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


def test_the_plugin_defaults_to_the_reference_models_tokenizer(tmp_path: Path) -> None:
    from pytest_persona.models.loading import tokenizer_for
    from pytest_persona.suites.session import PersonaOptions, PersonaSession

    ckpt = _weights_only(tmp_path)
    assert tokenizer_for(str(ckpt), None, "tiny-random-qwen2") == "tiny-random-qwen2"
    assert tokenizer_for(str(ckpt), "x", "tiny-random-qwen2") == "x"
    assert tokenizer_for("tiny-random-qwen2", None, "tiny-random-llama") is None
    ps = PersonaSession(PersonaOptions(model=str(ckpt), reference_model="tiny-random-qwen2",
                                       judge="offline", cache_dir=tmp_path / "cache"))
    assert ps.model.tokenizer("hi")["input_ids"]  # loads: the reference's tokenizer
    assert ps.model.fingerprint.endswith("+tokenizer:tiny-random-qwen2")
    ps.close()


def test_persona_tokenizer_option_reaches_the_session(pytester: pytest.Pytester,
                                                      tmp_path: Path) -> None:
    ckpt = _weights_only(tmp_path)
    pytester.makeconftest(
        "def test_tok(persona_model):\n"
        "    assert persona_model.fingerprint.endswith('+tokenizer:tiny-random-qwen2')\n")
    pytester.makepyfile(test_a="from conftest import test_tok as test_t\n")
    res = pytester.runpytest_subprocess("--model", str(ckpt), "--persona-tokenizer",
                                        "tiny-random-qwen2", "-p", "no:cacheprovider",
                                        timeout=300)
    assert res.ret == 0, res.stdout.str()[-2000:]
