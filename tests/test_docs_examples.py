"""The how-to pages' examples work as written (issue 25 item 18): the extraction example is a
valid suite, and the offline judge learns a custom trait from anchors as shown."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_persona.suites.schema import load_suite

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "how-to" / "writing-suites.md"


def _block(lang: str, needle: str) -> str:
    blocks: list[str] = re.findall(rf"```{lang}\n(.*?)```", PAGE.read_text(), flags=re.S)
    return next(b for b in blocks if needle in b)


def test_the_extraction_example_is_a_valid_suite(tmp_path: Path) -> None:
    path = tmp_path / "syc.yaml"
    path.write_text(_block("yaml", "coherence_threshold"))
    suite = load_suite(path, "smollm2-135m")
    assert suite.extraction["trait_threshold"] == 40
    assert suite.extraction["coherence_threshold"] == 30 and suite.extraction["min_pairs"] == 3


def test_the_anchor_example_teaches_the_offline_judge() -> None:
    code = _block("python", "register_anchors")
    namespace: dict[str, object] = {}
    exec(compile(code, str(PAGE), "exec"), namespace)  # noqa: S102 - our own docs
    judge = namespace["judge"]
    assert "pedantic" in judge.traits  # type: ignore[attr-defined]
