"""The trait_vectors / persona_steer fixtures extract with the collected suite's
``extraction:`` section, not defaults (issue 25 item 18); suites that disagree are an error."""

from __future__ import annotations

import pytest

SUITE = ("trait: sycophantic\nlayer: 1\nextraction: {{n_questions: {n}, min_pairs: 1}}\n"
         "expectations:\n  - {{kind: baseline_ceiling, max: 100}}\n")
TEST = '''
import pytest
from pytest_persona.plugin.hooks import suite_extraction

def test_reads_the_suite(request):
    {body}
'''


def _project(pytester: pytest.Pytester, suites: dict[str, int], body: str) -> None:
    pytester.makefile(".ini", pytest="[pytest]\npersona_model = tiny-random-llama\n")
    root = pytester.path / "trait_suites"
    root.mkdir()
    for name, n in suites.items():
        (root / name).write_text(SUITE.format(n=n))
    (root / "test_api.py").write_text(TEST.format(body=body))


def test_fixture_uses_the_collected_suites_extraction(pytester: pytest.Pytester) -> None:
    _project(pytester, {"syc.yaml": 3, "syc_again.yaml": 3},
             "assert suite_extraction(request.config, 'sycophantic') == "
             "{'n_questions': 3, 'min_pairs': 1}\n"
             "    assert suite_extraction(request.config, 'evil') == {}")
    res = pytester.runpytest_subprocess("trait_suites/test_api.py", "trait_suites/syc.yaml",
                                        "trait_suites/syc_again.yaml", "-p", "no:cacheprovider",
                                        "-k", "reads_the_suite")
    res.assert_outcomes(passed=1, deselected=2)


def test_suites_that_disagree_are_an_error_naming_them(pytester: pytest.Pytester) -> None:
    _project(pytester, {"a.yaml": 3, "b.yaml": 5},
             "with pytest.raises(pytest.UsageError, match='set different extraction') as e:\n"
             "        suite_extraction(request.config, 'sycophantic')\n"
             "    assert 'a.yaml' in str(e.value) and 'b.yaml' in str(e.value)")
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider",
                                        "-k", "reads_the_suite")
    res.assert_outcomes(passed=1, deselected=2)
