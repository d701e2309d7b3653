"""A model's identity (device, dtype, shape, fingerprint) without torch or transformers, and
that it agrees with what transformers says (issue 16.3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_persona.models import loading
from pytest_persona.models.loading import (
    LazyLoadedModel,
    _config_shape,
    directory_shape,
    dtype_name,
    json_config_shape,
    parse_dtype,
    provably_cpu_only,
)
from pytest_persona.models.tiny import TINY_CONFIGS, save_tiny_model, tiny_config
from pytest_persona.models.tiny_names import TINY_NAMES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", TINY_NAMES)
def test_config_json_shape_agrees_with_autoconfig(tmp_path: Path, name: str) -> None:
    from transformers import AutoConfig

    config = tiny_config(name)
    config.save_pretrained(tmp_path)
    want = _config_shape(AutoConfig.from_pretrained(str(tmp_path)))
    assert want == (4, 64)
    assert json_config_shape(tmp_path) == want
    assert LazyLoadedModel(name, device="cpu")._n_layers == want[0]  # the tiny constants


def test_tiny_names_list_every_tiny_model() -> None:
    assert tuple(TINY_CONFIGS) == TINY_NAMES


def test_text_config_is_read_first_and_missing_keys_ask_transformers(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "x", "hidden_size": 8, "num_hidden_layers": 2,
         "text_config": {"hidden_size": 32, "num_hidden_layers": 6}}))
    assert json_config_shape(tmp_path) == (6, 32)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert json_config_shape(tmp_path) is None  # llama's defaults live in transformers
    assert directory_shape(tmp_path) == (32, 4096)
    (tmp_path / "config.json").write_text("[1, 2]")
    assert json_config_shape(tmp_path) is None
    assert json_config_shape(tmp_path / "absent") is None


def test_dtype_names_match_torch_dtypes() -> None:
    import torch

    for value in ("auto", None, "float32", "fp32", "bfloat16", "bf16", "float16", "fp16",
                  torch.float16):
        for device in ("cpu", "cuda", "cuda:1"):
            assert dtype_name(value, device) == str(parse_dtype(value, device)).replace(
                "torch.", "")
    assert dtype_name("auto", "cuda:0") == "bfloat16" and dtype_name(None, "cpu") == "float32"
    with pytest.raises(ValueError, match="unknown dtype 'float8'; use one of auto, float32"):
        dtype_name("float8", "cpu")


def test_cpu_is_proven_only_without_gpu_device_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr("pytest_persona.models.loading.sys.platform", "linux")
    monkeypatch.setattr("pytest_persona.models.loading.glob.glob", lambda pattern: [])
    assert provably_cpu_only() and loading.default_device() == "cpu"
    for node in ("/dev/nvidia0", "/dev/kfd", "/dev/dxg"):
        monkeypatch.setattr("pytest_persona.models.loading.glob.glob",
                            lambda pattern, node=node: [node] if pattern[:8] == node[:8] else [])
        assert not provably_cpu_only(), node
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert provably_cpu_only()  # every GPU hidden
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setattr("pytest_persona.models.loading.sys.platform", "win32")
    assert not provably_cpu_only()
    monkeypatch.setattr("pytest_persona.models.loading.sys.platform", "darwin")
    assert provably_cpu_only()


def test_proven_cpu_agrees_with_torch() -> None:
    import torch

    if provably_cpu_only():
        assert not torch.cuda.is_available()


def test_identity_of_tiny_and_directory_models_loads_neither_torch_nor_transformers(
        tmp_path: Path) -> None:
    path = save_tiny_model("tiny-random-llama", tmp_path / "m")
    loaded = loading.load_model(str(path), device="cpu")
    code = (
        "import json, sys\n"
        "from pytest_persona.models.loading import LazyLoadedModel\n"
        f"out = [LazyLoadedModel(n, device=None).describe() for n in "
        f"('tiny-random-gpt2', {str(path)!r})]\n"
        "assert not {'torch', 'transformers'} & set(sys.modules), 'imported'\n"
        "print(json.dumps(out))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False, env={"PYTHONPATH": str(ROOT),
                                                       "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr
    tiny, directory = json.loads(proc.stdout)
    assert tiny["n_layers"] == 4 and tiny["d_model"] == 64 and tiny["dtype"] == "float32"
    assert directory == {**loaded.describe(), "name": str(path)}
