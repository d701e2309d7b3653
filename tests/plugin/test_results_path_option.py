"""An unwritable --persona-results or --persona-save is a usage error at start, like the
baseline, not a traceback after the whole run (issue 25 item 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_persona.plugin.options import output_problem

SUITE = """\
trait: sycophantic
layer: 1
coefficients: [0]
expectations:
  - {kind: baseline_ceiling, max: 100}
"""


def _project(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest="[pytest]\npersona_model = tiny-random-qwen2\n"
                                     "persona_judge = offline\n")
    (pytester.path / "trait_suites").mkdir()
    (pytester.path / "trait_suites" / "syc.yaml").write_text(SUITE)
    (pytester.path / "afile").write_text("x")


@pytest.mark.parametrize("flag, value, said", [
    ("--persona-results", "afile/results.json", "afile is not a directory"),
    ("--persona-results", "trait_suites", "trait_suites is a directory"),
    ("--persona-results", "/proc/persona-results.json", "/proc/persona-results.json cannot "
                                                        "be written"),
    ("--persona-save", "afile/sub/base.json", "afile is not a directory"),
])
def test_unwritable_output_is_a_usage_error_before_anything_runs(
        pytester: pytest.Pytester, flag: str, value: str, said: str) -> None:
    _project(pytester)
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider", flag, value,
                                        timeout=120)
    assert res.ret == 4
    err = res.stderr.str()
    assert f"pytest-persona: option {flag}: " in err and said in err
    assert "Traceback" not in err and not (pytester.path / ".persona_cache").exists()


def test_writable_paths_pass_and_nothing_is_left_behind(tmp_path: Path) -> None:
    assert output_problem(tmp_path / "new" / "deeper" / "r.json") is None
    assert output_problem(tmp_path / "r.json") is None
    assert list(tmp_path.iterdir()) == []
