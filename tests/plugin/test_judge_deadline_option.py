"""--persona-judge-deadline reaches the API judges through the session (issue 25 item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_persona.suites.session import PersonaOptions, PersonaSession


@pytest.mark.parametrize("spec", ["openai:judge-model", "anthropic:judge-model"])
def test_session_passes_the_deadline_to_the_judge(tmp_path: Path, spec: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.delenv("PERSONA_JUDGE_DEADLINE", raising=False)
    session = PersonaSession(PersonaOptions(judge=spec, judge_base_url="http://127.0.0.1:9/v1",
                                            judge_deadline=7, cache_dir=tmp_path))
    try:
        assert session.judge.deadline == 7  # type: ignore[attr-defined]
    finally:
        session.close()
    default = PersonaSession(PersonaOptions(judge=spec, judge_base_url="http://127.0.0.1:9/v1",
                                            cache_dir=tmp_path / "b"))
    try:
        assert default.judge.deadline == 90  # type: ignore[attr-defined]  # 3 x 30 s SDK timeout
    finally:
        default.close()


def test_bad_deadline_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "trait_suites").mkdir()
    res = pytester.runpytest_subprocess("trait_suites", "--collect-only", "-p",
                                        "no:cacheprovider", "--persona-judge-deadline", "0")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "--persona-judge-deadline" in res.stderr.str()
