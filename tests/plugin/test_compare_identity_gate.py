"""The pytest gate refuses, before anything runs, a reference model or a baseline from another
model or trait setup, naming both sides (issue 25 item 12)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.report.synthetic import make_results

SUITE = """\
trait: sycophantic
layer: 1
coefficients: [0, 4]
n_questions: 2
max_new_tokens: 4
extraction: {n_questions: 4, n_instructions: 2, min_pairs: 1, max_new_tokens: 4,
             trait_threshold: 0, coherence_threshold: 0}
expectations:
  - {kind: checkpoint_shift, max: 1000000}
"""


def _project(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=f"""
        [pytest]
        persona_model = tiny-random-qwen2
        persona_judge = offline
        persona_cache = {pytester.path / '.persona_cache'}
    """)
    (pytester.path / "trait_suites").mkdir()
    (pytester.path / "trait_suites" / "syc.yaml").write_text(SUITE)


def test_a_reference_of_another_architecture_is_a_usage_error(pytester: pytest.Pytester
                                                              ) -> None:
    _project(pytester)
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider",
                                        "--reference-model", "tiny-random-gpt2", timeout=300)
    assert res.ret == 4
    err = res.stderr.str()
    assert "the reference model is not a checkpoint of the model under test " \
           "(architecture differ)" in err
    assert "model under test tiny-random-qwen2 (qwen2, 4 blocks, d=64" in err
    assert "reference tiny-random-gpt2 (gpt2, 4 blocks, d=64" in err
    assert not (pytester.path / ".persona_cache" / "vectors").exists()  # nothing ran


@pytest.mark.parametrize("change, named", [
    ({"model": {"name": "tiny-random-gpt2", "architecture": "gpt2", "n_layers": 4,
                "d_model": 64}}, "architecture: baseline 'gpt2', this run 'qwen2'"),
    ({"layer": 3}, "sycophantic: layer: baseline 3, this run 1"),
])
def test_a_baseline_from_another_model_or_layer_is_a_usage_error(
        pytester: pytest.Pytester, change: dict[str, Any], named: str) -> None:
    _project(pytester)
    base = make_results(("sycophantic",))
    base["model"].update(change.get("model") or {"name": "tiny-random-qwen2",
                                                  "architecture": "qwen2"})
    base["traits"]["sycophantic"]["layer"] = change.get("layer", 1)
    (pytester.path / "base.json").write_text(json.dumps(base))
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider",
                                        "--persona-compare", "base.json", timeout=300)
    assert res.ret == 4
    err = res.stderr.str()
    assert "--persona-compare: base.json cannot be compared with this run" in err
    assert named in err


def test_results_record_each_traits_layer_and_data_and_the_comparison_says_so(
        pytester: pytest.Pytester) -> None:
    _project(pytester)
    args = ("trait_suites", "-p", "no:cacheprovider", "--reference-model", "tiny-random-qwen2")
    first = pytester.runpytest_subprocess(*args, "--persona-save", "base.json", timeout=600)
    assert first.ret == 0, first.stdout.str()[-3000:]
    saved = json.loads((pytester.path / "base.json").read_text())
    syc = saved["traits"]["sycophantic"]
    assert syc["layer"] == 1 and len(syc["data_sha256"]) == 64
    assert saved["model"]["architecture"] == "qwen2"
    assert saved["reference_model"]["architecture"] == "qwen2"
    again = pytester.runpytest_subprocess(*args, "--persona-compare", "base.json", timeout=600)
    assert again.ret == 0, again.stdout.str()[-3000:]
    comp = json.loads((pytester.path / "reports" / "persona-results.json").read_text())[
        "comparison"]
    assert comp["compared"][0].startswith("compared this run, model tiny-random-qwen2 (qwen2")
    assert "sycophantic: compared at layer 1 on the same trait data" in comp["compared"]
