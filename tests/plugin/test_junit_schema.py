"""The JUnit XML of a run validates against the Jenkins JUnit schema (junit-10.xsd, shipped in
pytest's sdist) with junit_family=xunit2: the figures are test-suite properties, never
``<properties>`` inside ``<testcase>`` (issue 25 item 15)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

XSD_MEMBER = "testing/example_scripts/junit-10.xsd"
SUITE = """\
trait: sycophantic
layer: 1
coefficients: [0, 4]
n_questions: 2
max_new_tokens: 4
extraction: {n_questions: 4, n_instructions: 2, min_pairs: 1, max_new_tokens: 4,
             trait_threshold: 0, coherence_threshold: 0}
expectations:
  - {kind: baseline_ceiling, max: 100}
  - {kind: steering_raises, coeff: 4, threshold: 101}
"""


def _xsd() -> Path:
    """junit-10.xsd: $PERSONA_JUNIT_XSD, else a copy cached under ~/.cache/pytest-persona, else
    taken from the installed pytest version's sdist through pip (a package registry)."""
    given = os.environ.get("PERSONA_JUNIT_XSD")
    if given:
        return Path(given)
    import pytest as pt

    cached = Path.home() / ".cache" / "pytest-persona" / f"junit-10-pytest{pt.__version__}.xsd"
    if cached.is_file():
        return cached
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        got = subprocess.run([sys.executable, "-m", "pip", "download", f"pytest=={pt.__version__}",
                              "--no-deps", "--no-binary", ":all:", "-q", "-d", tmp],
                             capture_output=True, text=True, timeout=180)
        sdists = list(Path(tmp).glob("pytest-*.tar.gz"))
        if got.returncode or not sdists:
            pytest.skip("junit-10.xsd not available offline: set PERSONA_JUNIT_XSD to the file "
                        f"from pytest's sdist ({XSD_MEMBER}); pip said: {got.stderr[-300:]}")
        with tarfile.open(sdists[0]) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith(XSD_MEMBER))
            data = tar.extractfile(member).read()  # type: ignore[union-attr]  # a tar member found by name is a file
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(data)
    return cached


@pytest.fixture(scope="module")
def schema() -> Any:  # lxml ships no stubs: an lxml.etree.XMLSchema
    etree = pytest.importorskip("lxml.etree")
    return etree.XMLSchema(etree.parse(io.BytesIO(_xsd().read_bytes())))


def _run(pytester: pytest.Pytester, family: str) -> bytes:
    pytester.makefile(".ini", pytest="[pytest]\npersona_model = tiny-random-qwen2\n"
                                     f"persona_judge = offline\njunit_family = {family}\n")
    (pytester.path / "trait_suites").mkdir(exist_ok=True)
    (pytester.path / "trait_suites" / "syc.yaml").write_text(SUITE)
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider",
                                        "--junitxml", "junit.xml", timeout=600)
    assert res.ret == 1, res.stdout.str()[-3000:]  # one passes, one fails
    return (pytester.path / "junit.xml").read_bytes()


def test_xunit2_junit_validates_and_keeps_the_figures(pytester: pytest.Pytester,
                                                      schema: Any) -> None:
    from lxml import etree

    doc = etree.parse(io.BytesIO(_run(pytester, "xunit2")))
    schema.assertValid(doc)  # raises with the schema's own error list
    assert doc.xpath("//testcase/properties") == []
    names = {p.get("name"): p.get("value") for p in doc.xpath("//testsuite/properties/property")}
    ceiling = "trait_suites/syc.yaml::baseline_ceiling::persona."
    assert names[ceiling + "max"] == "100" and ceiling + "n" in names
    raised = "trait_suites/syc.yaml::steering_raises[coeff=4]::persona."
    assert names[raised + "threshold"] == "101"
    assert len(doc.xpath("//testcase/failure")) == 1


def test_xunit1_keeps_testcase_properties(pytester: pytest.Pytester) -> None:
    text = _run(pytester, "xunit1").decode()
    assert '<property name="persona.max" value="100"' in text
    assert "::persona." not in text
