"""--persona-engine / --persona-tensor-parallel / --persona-deterministic: checked at configure
time (exit 4 naming the option), and the run's header says which engine generates and why."""

from __future__ import annotations

import pytest

from pytest_persona.engines import vllm_importable

SUITE = "trait: sycophantic\nexpectations:\n  - kind: vector_norm\n    min: 0\n"


def _project(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest="[pytest]\npersona_model = tiny-random-llama\n")
    (pytester.path / "trait_suites").mkdir()
    (pytester.path / "trait_suites" / "syc.yaml").write_text(SUITE)


def _collect(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("trait_suites", "--collect-only", "-q",
                                         "-p", "no:cacheprovider", *args)


def test_header_names_the_engine_and_why(pytester: pytest.Pytester) -> None:
    _project(pytester)
    res = pytester.runpytest_subprocess("trait_suites", "--collect-only",
                                        "-p", "no:cacheprovider", "--persona-device", "cpu")
    assert res.ret == 0, res.stdout.str()
    expected = ("engine hf (auto: vllm is not installed)" if not vllm_importable()
                else "engine hf (auto: no GPU")
    assert any(expected in line for line in res.outlines), res.stdout.str()


def test_explicit_hf_is_named_as_the_option(pytester: pytest.Pytester) -> None:
    _project(pytester)
    res = pytester.runpytest_subprocess("trait_suites", "--collect-only", "-p",
                                        "no:cacheprovider", "--persona-engine", "hf")
    assert res.ret == 0
    assert "pytest-persona: engine hf (--persona-engine hf)" in res.stdout.str()


def test_unknown_engine_is_a_usage_error(pytester: pytest.Pytester) -> None:
    _project(pytester)
    res = _collect(pytester, "--persona-engine", "sglang")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = res.stderr.str()
    assert "--persona-engine" in err and "expected hf, vllm or auto" in err
    assert "Traceback" not in err


def test_ini_engine_value_is_checked_too(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest="[pytest]\npersona_engine = trt\n")
    (pytester.path / "trait_suites").mkdir()
    res = _collect(pytester)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "ini value persona_engine" in res.stderr.str()


@pytest.mark.skipif(vllm_importable(), reason="vllm is installed in this venv")
def test_vllm_without_vllm_is_a_usage_error_not_a_fallback(pytester: pytest.Pytester) -> None:
    _project(pytester)
    res = _collect(pytester, "--persona-engine", "vllm")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = res.stderr.str()
    assert "needs vLLM" in err and "pip install -e '.[vllm]'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("args, needle", [
    (("--persona-tensor-parallel", "2"), "--persona-tensor-parallel 2 needs the vllm engine"),
    (("--persona-deterministic",), "--persona-deterministic needs the vllm engine"),
    (("--persona-tensor-parallel", "0"), "expected a positive integer"),
    (("--persona-vllm-steering", "graph"), "--persona-vllm-steering graph needs the vllm"),
    (("--persona-vllm-steering", "cuda-graph"), "expected hook or graph"),
])
def test_engine_settings_hf_cannot_honour(pytester: pytest.Pytester, args: tuple[str, ...],
                                          needle: str) -> None:
    _project(pytester)
    res = _collect(pytester, "--persona-engine", "hf", *args)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert needle in res.stderr.str()
