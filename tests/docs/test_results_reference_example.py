"""The Python example of docs/reference/results.md runs as written and prints what its
comments say (issue 24)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reference" / "results.md"


def _example() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    return next(b for b in blocks if "ResultsBuilder()" in b)


def test_the_typed_results_example_runs_and_prints_what_it_says() -> None:
    code = _example()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(PAGE), "exec"), {})  # noqa: S102 - our own docs
    printed = out.getvalue().splitlines()
    said = [m.strip() for m in re.findall(r"print\(.*\)\s+#\s*(.*)", code)]
    assert said and all(line in printed for line in said), (said, printed)
    assert "suites/syc.yaml::baseline_ceiling passed" in printed
