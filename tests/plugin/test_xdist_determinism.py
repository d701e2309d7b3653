"""`-n 2 --dist load` on a partly filled cache gives the same results as one cold process
(issue 13.4): sampled extraction responses are a function of their key, so a resumed run and
workers sharing a cache agree with one uninterrupted run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.judges import COHERENCE_PROMPT
from tests.support.judge_server import JudgeServer

pytest.importorskip("xdist")
COH_MARK = COHERENCE_PROMPT.split("{question}")[0][:60]
SUITE = """\
trait: sycophantic
layer: 1
coefficients: [-4, 0, 4]
n_questions: 2
max_new_tokens: 4
extraction: {n_questions: @N@, n_instructions: 2, n_samples: 2, min_pairs: 1, max_new_tokens: 5,
             trait_threshold: 30}
expectations:
  - {kind: steering_raises, coeff: 4, threshold: -1}
  - {kind: steering_lowers, coeff: -4, threshold: 101}
  - {kind: projection_order, margin: -1000000000}
  - {kind: baseline_ceiling, max: 100}
"""


def _score(prompt: str) -> int:
    if COH_MARK in prompt:
        return 80
    return int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 100


def _run(pytester: pytest.Pytester, srv: JudgeServer, name: str, *args: str,
         n_questions: int = 3) -> dict[str, Any]:
    root = pytester.path / name
    (root / "trait_suites").mkdir(parents=True, exist_ok=True)
    (root / "trait_suites" / "syc.yaml").write_text(SUITE.replace("@N@", str(n_questions)))
    (root / "pytest.ini").write_text(
        f"[pytest]\npersona_model = tiny-random-qwen2\npersona_judge = openai:\n"
        f"persona_judge_base_url = {srv.base_url}\npersona_cache = {root / '.cache'}\n")
    res = pytester.runpytest_subprocess(str(root / "trait_suites"), "-p", "no:cacheprovider",
                                        "--rootdir", str(root), "-c", str(root / "pytest.ini"),
                                        *args, timeout=600)
    res.assert_outcomes(passed=4)
    data: dict[str, Any] = json.loads((root / "reports" / "persona-results.json").read_text())
    return data


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    return {e["nodeid"].split("::")[-1]: e["figures"] for e in data["expectations"]}


def _responses(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in (root / ".cache" / "responses").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            assert out.setdefault(entry["k"], entry["t"]) == entry["t"]  # no conflicting texts
    return out


def test_two_workers_equal_one_process(pytester: pytest.Pytester) -> None:
    with JudgeServer(scorer=_score) as srv:
        one = _run(pytester, srv, "one")
        # a partial cache, as an interrupted run leaves it: 2 of the 3 extraction questions
        _run(pytester, srv, "two", n_questions=2)
        two = _run(pytester, srv, "two", "-n", "2", "--dist", "load")
    assert _figures(two) == _figures(one)
    cold, shared = _responses(pytester.path / "one"), _responses(pytester.path / "two")
    assert {k: shared.get(k) for k in cold} == cold
