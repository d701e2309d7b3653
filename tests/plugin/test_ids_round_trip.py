"""What pytest prints for an expectation under -v selects that expectation when pasted back
(issue 25 item 16: it printed trait_suites/syc::yaml::baseline_ceiling)."""

from __future__ import annotations

import re

import pytest

SUITE = """\
trait: sycophantic
layer: 1
coefficients: [0, 0.5]
expectations:
  - {kind: baseline_ceiling, max: 100}
  - {kind: steering_raises, coeff: 0.5, threshold: 0}
  - {kind: cross_trait_cosine, traits: [evil], max: 1.01}
"""


def test_verbose_ids_select_their_item(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest="[pytest]\npersona_model = tiny-random-qwen2\n"
                                     "persona_judge = offline\n")
    (pytester.path / "trait_suites").mkdir()
    (pytester.path / "trait_suites" / "syc.yaml").write_text(SUITE)
    # -v with a -k that deselects everything still prints nothing; run with a skip-all marker
    pytester.makeconftest("import pytest\n"
                          "def pytest_collection_modifyitems(items):\n"
                          "    for i in items:\n"
                          "        i.add_marker(pytest.mark.skip(reason='ids only'))\n")
    res = pytester.runpytest_subprocess("trait_suites", "-v", "-p", "no:cacheprovider")
    printed = [m.group(1) for m in (re.match(r"^(\S+::\S+) SKIPPED", ln)
                                    for ln in res.outlines) if m]
    assert printed == ["trait_suites/syc.yaml::baseline_ceiling",
                       "trait_suites/syc.yaml::steering_raises[coeff=0.5]",
                       "trait_suites/syc.yaml::cross_trait_cosine[evil]"]
    for nodeid in printed:
        again = pytester.runpytest_subprocess(nodeid, "--collect-only", "-q",
                                              "-p", "no:cacheprovider")
        assert again.ret == 0, again.stdout.str()
        assert [ln for ln in again.outlines if "::" in ln] == [nodeid]
