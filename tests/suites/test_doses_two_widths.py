"""One suite written in relative doses runs unchanged on two tiny architectures of different
width (Qwen2 at d=64, Llama at d=128), each converting the doses with its own scale."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_persona.judges import COHERENCE_PROMPT
from pytest_persona.models.tiny import save_tiny_model
from tests.support.judge_server import JudgeServer

COH_MARK = COHERENCE_PROMPT.split("{question}")[0][:60]

SUITE = """\
trait: sycophantic
layer: 1
doses: [-0.5, 0, 0.5]
n_questions: 3
max_new_tokens: 6
extraction: {n_questions: 4, n_instructions: 2, min_pairs: 1, max_new_tokens: 6}
expectations:
  - {kind: steering_raises, dose: 0.5, threshold: -1}
  - {kind: projection_order, dose: 0.5, margin: -1000000000}
  - {kind: coherence_guard, doses: [-0.5, 0.5], min: 0}
  - {kind: monotonic, min_r: -1.01}
  - {kind: steering_damage, dose: 0.5, max_kl: 1000, n_prompts: 8}
  - {kind: judge_agreement, file: "builtin:sycophantic", min: 0}
"""


def _score(prompt: str) -> int:
    if COH_MARK in prompt:
        return 80
    return int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 100


@pytest.fixture(scope="module")
def judge_server() -> Iterator[JudgeServer]:
    with JudgeServer(scorer=_score) as srv:
        yield srv


def _run(pytester: pytest.Pytester, server: JudgeServer, model: str, out: str
         ) -> dict[str, Any]:
    res = pytester.runpytest_subprocess(
        "trait_suites", "-p", "no:cacheprovider", "--model", model,
        "--judge", "openai:scripted-2025-04-14", "--judge-base-url", server.base_url,
        "--persona-cache", str(pytester.path / ".persona_cache"),
        "--persona-results", out, timeout=300)
    res.assert_outcomes(passed=6)
    data: dict[str, Any] = json.loads((pytester.path / out).read_text())
    return data


def test_a_dosed_suite_runs_unchanged_on_two_widths(pytester: pytest.Pytester,
                                                     judge_server: JudgeServer) -> None:
    (pytester.path / "trait_suites").mkdir()
    (pytester.path / "trait_suites" / "syc.yaml").write_text(SUITE)
    # inside the rootdir: pytest counts an existing path argument when it picks the rootdir
    wide = save_tiny_model("tiny-random-llama-wide", pytester.path / "wide_model")
    narrow_doc = _run(pytester, judge_server, "tiny-random-qwen2", "narrow.json")
    wide_doc = _run(pytester, judge_server, str(wide), "wide.json")
    scales = []
    for doc, width in ((narrow_doc, 64), (wide_doc, 128)):
        assert doc["model"]["d_model"] == width
        t = doc["traits"]["sycophantic"]
        dose = t["dose"]
        assert dose["given"] == "doses" and dose["layer"] == 1
        # coeff = dose * mean||h|| / ||v||, per model
        k = dose["mean_norm"] / dose["vector_norm"]
        assert t["coefficients"] == pytest.approx([-0.5 * k, 0.0, 0.5 * k])
        assert [r["dose"] for r in t["sweep"]] == pytest.approx([0.5, 0.0, 0.5])
        figs = {e["kind"]: e["figures"] for e in doc["expectations"]}
        assert figs["steering_raises"]["dose"] == pytest.approx(0.5)
        assert figs["steering_raises"]["coeff"] == pytest.approx(0.5 * k)
        assert "coeff = dose * mean_norm / vector_norm" in figs["steering_raises"]["converted"]
        assert figs["steering_damage"]["dose"] == pytest.approx(0.5)
        assert figs["steering_damage"]["kl"] > 0 and figs["steering_damage"]["n"] == 8
        damage = {r["coeff"]: r for r in t["damage"]}
        assert damage[0.0]["kl"] == 0.0
        assert [r["dose"] for r in t["damage"]] == pytest.approx([0.5, 0.0, 0.5])
        assert 0 <= figs["judge_agreement"]["auc"] <= 1 and figs["judge_agreement"]["n"] == 44
        assert t["judge_agreement"]["sycophantic.jsonl"]["metric"] == "auc"
        scales.append(k)
    assert scales[0] != pytest.approx(scales[1], rel=1e-3)  # the conversion differs by model
