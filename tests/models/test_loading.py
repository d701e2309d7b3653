from __future__ import annotations

from pathlib import Path

import pytest

from pytest_persona.models.fingerprint import directory_fingerprint
from pytest_persona.models.loading import (
    ALIASES,
    LoadedModel,
    ModelLoadError,
    embedded_gguf_path,
    load_model,
    parse_dtype,
    resolve_model,
)
from pytest_persona.models.tiny import save_tiny_model


def test_aliases_resolve() -> None:
    for alias in ("qwen2.5-7b", "llama-3.1-8b", "mistral-7b", "gemma-2-9b", "qwen2.5-72b"):
        spec = resolve_model(alias)
        assert spec.kind == "hub" and spec.source == ALIASES[alias]
    assert resolve_model("tiny-random-gpt2").kind == "tiny"
    assert resolve_model("smollm2-135m").kind == "embedded"
    assert resolve_model("org/some-model").kind == "hub"


def test_local_directory_and_missing_paths(tmp_path: Path) -> None:
    path = save_tiny_model("tiny-random-llama", tmp_path / "m")
    assert resolve_model(str(path)).kind == "dir"
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    assert resolve_model(str(tmp_path / "adapter")).kind == "peft"
    with pytest.raises(ModelLoadError, match="model path not found"):
        resolve_model(str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match="GGUF file not found"):
        resolve_model(str(tmp_path / "x.gguf"))


def test_offline_hub_model_gets_one_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as info:
        load_model("qwen2.5-7b", device="cpu")
    msg = str(info.value)
    assert "Qwen/Qwen2.5-7B-Instruct" in msg and "not available offline" in msg
    assert "--model /path/to/model" in msg and "HF_HOME" in msg


def test_directory_load_and_fingerprint_changes_with_weights(tmp_path: Path) -> None:
    path = save_tiny_model("tiny-random-llama", tmp_path / "m")
    loaded = load_model(str(path), device="cpu")
    assert loaded.n_layers == 4 and loaded.d_model == 64
    fp1 = loaded.fingerprint
    assert fp1 == directory_fingerprint(path)
    save_tiny_model("tiny-random-llama", path, seed=1)  # same config, other weights
    assert directory_fingerprint(path) != fp1


def test_dtype_parsing() -> None:
    import torch

    assert parse_dtype("auto", "cpu") == torch.float32
    assert parse_dtype("auto", "cuda") == torch.bfloat16
    assert parse_dtype("bf16", "cpu") == torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype"):
        parse_dtype("int3", "cpu")


@pytest.mark.slow
def test_embedded_model_loads_with_gguf_fingerprint(smol: LoadedModel) -> None:
    assert embedded_gguf_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert smol.fingerprint.startswith("gguf-sha256:")
    assert smol.n_layers == 30 and smol.d_model == 576
    assert smol.describe()["fingerprint"] == smol.fingerprint


def test_lazy_model_knows_its_identity_without_loading(tmp_path: Path) -> None:
    from pytest_persona.models.loading import LazyLoadedModel

    lazy = LazyLoadedModel("tiny-random-gemma2", device="cpu")
    assert not lazy.is_loaded
    assert (lazy.n_layers, lazy.d_model) == (4, 64)
    assert lazy.fingerprint == "tiny:tiny-random-gemma2:seed0"
    assert lazy.model is not None and lazy.is_loaded
    path = save_tiny_model("tiny-random-gpt2", tmp_path / "g")
    lazy_dir = LazyLoadedModel(str(path), device="cpu")
    assert lazy_dir.fingerprint == load_model(str(path), device="cpu").fingerprint
    assert not lazy_dir.is_loaded and lazy_dir.describe()["n_layers"] == 4


@pytest.mark.slow
def test_lazy_embedded_identity_matches_loaded(smol: LoadedModel) -> None:
    from pytest_persona.models.loading import LazyLoadedModel

    lazy = LazyLoadedModel("smollm2-135m", device="cpu")
    assert not lazy.is_loaded
    assert lazy.fingerprint == smol.fingerprint and lazy.model_id == smol.model_id
    assert (lazy.n_layers, lazy.d_model) == (30, 576)
