"""A PEFT adapter directory without the optional ``peft`` package: one clear error."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.models.loading import ModelLoadError, load_model


def test_missing_peft_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_peft(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "peft" or name.startswith("peft."):
            raise ImportError("No module named 'peft'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_peft)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "x"}))
    with pytest.raises(ModelLoadError, match=r"pip install 'pytest-persona\[peft\]'"):
        load_model(str(adapter), device="cpu")
