"""engines.select_engine: which engine a run gets, and loud refusals (no vLLM needed)."""

from __future__ import annotations

import pytest

from pytest_persona import engines
from pytest_persona.engines import HFEngine, select_engine
from pytest_persona.errors import EngineError, PersonaError


def test_auto_without_vllm_picks_hf_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "vllm_importable", lambda: False)
    engine, why = select_engine("auto", "cpu")
    assert isinstance(engine, HFEngine) and why == "engine hf (auto: vllm is not installed)"


def test_auto_with_vllm_on_cpu_still_picks_hf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "vllm_importable", lambda: True)
    engine, why = select_engine("auto", "cpu")
    assert isinstance(engine, HFEngine) and "no GPU" in why


def test_explicit_vllm_without_vllm_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "vllm_importable", lambda: False)
    with pytest.raises(EngineError, match="needs vLLM"):
        select_engine("vllm", "cpu")


@pytest.mark.parametrize("kw,match", [({"tensor_parallel": 2}, "tensor-parallel 2"),
                                      ({"deterministic": True}, "deterministic")])
def test_hf_refuses_what_only_vllm_does(kw: dict[str, object], match: str) -> None:
    with pytest.raises(EngineError, match=match):
        select_engine("hf", "cpu", **kw)  # type: ignore[arg-type]


def test_unknown_engine_is_a_persona_error() -> None:
    with pytest.raises(PersonaError, match="unknown engine 'sglang'"):
        select_engine("sglang", "cpu")


def test_hf_engine_identity_is_todays_cache_identity() -> None:
    from pytest_persona.models.loading import cache_identity, load_model

    loaded = load_model("tiny-random-qwen2", device="cpu")
    assert HFEngine().identity(loaded) == cache_identity(loaded)
