"""Judge usage is reported whatever the expectation's outcome (issue 13.11) and names the
model that answered (issue 11.5)."""

from __future__ import annotations

import json

import pytest

from tests.support.judge_server import JudgeServer

SUITE = """\
trait: sycophantic
layer: 1
coefficients: [0, 1]
n_questions: 3
max_new_tokens: 4
expectations:
  - {kind: baseline_ceiling, max: 100}
"""


def _outage(prompt: str) -> int:
    raise ConnectionAbortedError("simulated outage")  # every call fails in transport


@pytest.mark.parametrize("healthy", [False, True])
def test_usage_counts_calls_of_an_expectation_that_raised(pytester: pytest.Pytester,
                                                          healthy: bool) -> None:
    """Regression: when the expectation raised (here: every judge score missing), the usage
    line said 0 calls although the judge had been called."""
    with JudgeServer(scorer=(lambda p: 30) if healthy else _outage) as srv:
        pytester.makefile(".ini", pytest=f"""
            [pytest]
            persona_model = tiny-random-qwen2
            persona_judge = openai:
            persona_judge_base_url = {srv.base_url}
            persona_cache = {pytester.path / '.persona_cache'}
        """)
        (pytester.path / "trait_suites").mkdir()
        (pytester.path / "trait_suites" / "syc.yaml").write_text(SUITE)
        res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider",
                                            timeout=300)
        calls = srv.calls
    assert calls > 0
    data = json.loads((pytester.path / "reports" / "persona-results.json").read_text())
    usage = data["usage"]["judge"]
    if healthy:
        res.assert_outcomes(passed=1)
        assert data["judge"]["resolved_models"] == ["gpt-4.1-mini-2025-04-14"]
    else:
        assert res.ret != 0
        assert usage["missing"] > 0
        assert data["judge"]["resolved_models"] == []
    assert usage["calls"] == calls // (1 if healthy else 3)  # each failed call tried 3 times
    res.stdout.fnmatch_lines([f"judge (openai:gpt-4.1-mini-2025-04-14): {usage['calls']} calls*"])
