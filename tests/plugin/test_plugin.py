"""The plugin end to end with pytester, on tiny random models and a scripted local judge."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_persona.judges import COHERENCE_PROMPT
from tests.support.judge_server import JudgeServer

COH_MARK = COHERENCE_PROMPT.split("{question}")[0][:60]


def _hash_score(prompt: str) -> int:
    """Deterministic pseudo-scores: coherence 80, trait 0-99 from a hash of the prompt."""
    if COH_MARK in prompt:
        return 80
    return int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 100


@pytest.fixture(scope="module")
def judge_server() -> Iterator[JudgeServer]:
    with JudgeServer(scorer=_hash_score) as srv:
        yield srv


SUITE = """\
trait: sycophantic
layer: 2
coefficients: [-4, 0, 4]
n_questions: 3
max_new_tokens: 6
extraction: {{n_questions: 4, n_instructions: 2, min_pairs: 1, max_new_tokens: 6}}
models:
  tiny-random-llama: {{layer: 1}}
expectations:
  - {{kind: steering_raises, coeff: 4, threshold: {raise_thr}}}
  - {{kind: steering_lowers, coeff: -4, threshold: {lower_thr}}}
  - {{kind: coeff_zero_matches_baseline, n_prompts: 2, max_new_tokens: 4}}
  - {{kind: projection_order, margin: {margin}}}
  - {{kind: cross_trait_cosine, traits: [evil], max: {cos_max}, absolute: true}}
  - {{kind: monotonic, min_r: {min_r}}}
  - {{kind: coherence_guard, min: {coh_min}}}
  - {{kind: baseline_ceiling, max: {ceiling}}}
  - {{kind: checkpoint_shift, max: {shift_max}}}
  - {{kind: projection_tracks_score, min_r: {track_r}}}
"""
LENIENT = dict(raise_thr=-1, lower_thr=101, margin=-1e9, cos_max=1.01, min_r=-1.01,
               coh_min=0, ceiling=100, shift_max=1e9, track_r=-1.01)
STRICT = dict(raise_thr=101, lower_thr=-1, margin=1e9, cos_max=-1, min_r=1.01,
              coh_min=101, ceiling=-1, shift_max=-1e9, track_r=1.01)


def _project(pytester: pytest.Pytester, server: JudgeServer, suite: str,
             extra_ini: str = "") -> None:
    pytester.makefile(".ini", pytest=f"""
        [pytest]
        persona_model = tiny-random-qwen2
        persona_judge = openai:scripted-2025-04-14
        persona_judge_base_url = {server.base_url}
        persona_cache = {pytester.path / '.persona_cache'}
        {extra_ini}
    """)
    (pytester.path / "trait_suites").mkdir(exist_ok=True)
    (pytester.path / "trait_suites" / "syc.yaml").write_text(suite)


def _results(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (pytester.path / "reports" / "persona-results.json").read_text())
    return data


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider",
                                         "--reference-model", "tiny-random-qwen2", *args,
                                         timeout=300)


def test_collection_ids_are_readable_and_deterministic(pytester: pytest.Pytester,
                                                       judge_server: JudgeServer) -> None:
    _project(pytester, judge_server, SUITE.format(**LENIENT))
    res = pytester.runpytest_subprocess("trait_suites", "--collect-only", "-q")
    lines = [ln for ln in res.outlines if "::" in ln]
    assert lines[:3] == ["trait_suites/syc.yaml::steering_raises[coeff=4]",
                         "trait_suites/syc.yaml::steering_lowers[coeff=-4]",
                         "trait_suites/syc.yaml::coeff_zero_matches_baseline"]
    assert "trait_suites/syc.yaml::cross_trait_cosine[evil]" in lines and len(lines) == 10
    again = pytester.runpytest_subprocess("trait_suites", "--collect-only", "-q")
    assert [ln for ln in again.outlines if "::" in ln] == lines


def test_every_kind_passes_when_it_holds(pytester: pytest.Pytester,
                                         judge_server: JudgeServer) -> None:
    _project(pytester, judge_server, SUITE.format(**LENIENT))
    res = _run(pytester, "--junitxml", "junit.xml")
    res.assert_outcomes(passed=10)
    res.stdout.fnmatch_lines(["*persona summary*", "*sycophantic*", "*results:*"])
    data = _results(pytester)
    assert data["model"]["name"] == "tiny-random-qwen2"
    assert data["model"]["fingerprint"] == "tiny:tiny-random-qwen2:seed0"
    assert {e["outcome"] for e in data["expectations"]} == {"passed"}
    syc = data["traits"]["sycophantic"]
    assert [row["coeff"] for row in syc["sweep"]] == [-4.0, 0.0, 4.0]
    assert syc["vector"]["effective_pairs"] >= 1 and len(syc["vector"]["norms"]) == 4
    assert set(syc["projections"]) == {"baseline", "prompted", "steered"}
    assert data["cosine"]["traits"] == ["evil", "sycophantic"]
    # one sweep serves every judge-based expectation of the trait
    assert data["usage"]["model"]["sweeps"] == 1
    junit = (pytester.path / "junit.xml").read_text()
    assert '::persona.mean"' in junit and '::persona.threshold"' in junit  # suite-level


def test_each_kind_fails_for_the_right_reason(pytester: pytest.Pytester,
                                              judge_server: JudgeServer) -> None:
    _project(pytester, judge_server, SUITE.format(**STRICT))
    res = _run(pytester)
    res.assert_outcomes(passed=1, failed=9)  # coeff 0 equality cannot be made to fail
    out = res.stdout.str()
    for needle in ("must exceed 101", "must stay below -1", "margin 1e+09: violated",
                   "below -1 in absolute value", "must be >= 1.01", "must stay >= 101",
                   "must be at most -1", "must stay below -1e+09", "Traceback"):
        assert (needle in out) is (needle != "Traceback"), needle
    failed = [e for e in _results(pytester)["expectations"] if e["outcome"] == "failed"]
    assert all(e["message"] and e["figures"] for e in failed)


def test_vector_drift_against_stored_file(pytester: pytest.Pytester,
                                          judge_server: JudgeServer) -> None:
    """A stored vector of another model fails the drift check; the vector this run extracts,
    stored, passes it (the first run extracts it into the cache, the second reuses it)."""
    import torch

    from pytest_persona.core.vectors import TraitVectors

    drift = ("trait: sycophantic\nlayer: 2\nn_questions: 3\nmax_new_tokens: 6\n"
             "extraction: {n_questions: 4, n_instructions: 2, min_pairs: 1, max_new_tokens: 6}\n"
             "expectations:\n  - {kind: vector_drift, file: stored.safetensors, min_cosine: 0.99}\n")
    _project(pytester, judge_server, drift)
    other = TraitVectors(torch.randn(4, 64), {"model_id": "random"})
    other.save(pytester.path / "trait_suites" / "stored.safetensors")
    res = _run(pytester)
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*cosine between the extracted sycophantic vector and "
                              "stored.safetensors at layer 2*must be >= 0.99*"])
    vectors = pytester.path / ".persona_cache" / "vectors"
    stored = next(p.with_suffix(".safetensors") for p in vectors.glob("*.json")
                  if json.loads(p.read_text())["trait"] == "sycophantic")
    shutil.copy(stored, pytester.path / "trait_suites" / "stored.safetensors")
    _run(pytester).assert_outcomes(passed=1)


BAD = {
    "syntax.yaml": ("trait: evil\nexpectations: [\n  {kind: baseline_ceiling, max: 3}\n",
                    "syntax.yaml:4: YAML syntax error"),
    "kind.yaml": ("trait: evil\nexpectations:\n  - kind: steering_explodes\n",
                  "kind.yaml:3: field 'expectations[0].kind': unknown expectation kind"),
    "missing.yaml": ("trait: evil\nexpectations:\n  - kind: baseline_ceiling\n",
                     "missing.yaml:3: field 'expectations[0].max': missing required field"),
    "typed.yaml": ("trait: evil\nexpectations:\n  - kind: steering_raises\n    coeff: three\n",
                   "typed.yaml:4: field 'expectations[0].coeff': must be a number"),
}


def test_bad_suites_are_located_and_others_still_run(pytester: pytest.Pytester,
                                                     judge_server: JudgeServer) -> None:
    _project(pytester, judge_server, SUITE.format(**LENIENT).replace(
        "  - {kind: checkpoint_shift", "  - {kind: checkpoint_shift, name: shift").split(
        "  - {kind: coeff_zero")[0])
    for name, (text, _) in BAD.items():
        (pytester.path / "trait_suites" / name).write_text(text)
    (pytester.path / "trait_suites" / "unknown_trait.yaml").write_text(
        "trait: nonexistent_trait\nexpectations:\n  - {kind: baseline_ceiling, max: 3}\n")
    (pytester.path / "trait_suites" / "layer.yaml").write_text(
        "trait: sycophantic\nlayer: 40\nexpectations:\n  - {kind: baseline_ceiling, max: 3}\n")
    (pytester.path / "trait_suites" / "ref.yaml").write_text(
        "trait: sycophantic\nlayer: 2\nexpectations:\n  - {kind: checkpoint_shift, max: 3}\n")
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider", "-rs",
                                        timeout=300)
    out = res.stdout.str()
    for _, needle in BAD.values():
        assert needle in out, needle
    assert "unknown_trait.yaml:1: field 'trait': unknown trait 'nonexistent_trait'" in out
    assert "layer.yaml:2: field 'layer': layer 40 is out of range for tiny-random-qwen2" in out
    assert "ref.yaml:4: field 'expectations[0].kind': checkpoint_shift needs --reference-model" \
        in out
    assert "Traceback" not in out
    res.assert_outcomes(passed=2, failed=6, skipped=1)


def test_ini_defaults_choose_the_model(pytester: pytest.Pytester,
                                       judge_server: JudgeServer) -> None:
    suite = SUITE.format(**LENIENT).split("  - {kind: steering_lowers")[0]
    _project(pytester, judge_server, suite)
    ini = (pytester.path / "pytest.ini").read_text().replace("tiny-random-qwen2",
                                                             "tiny-random-llama")
    (pytester.path / "pytest.ini").write_text(ini)
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider", timeout=300)
    res.assert_outcomes(passed=1)
    data = _results(pytester)
    assert data["model"]["name"] == "tiny-random-llama"
    assert data["traits"]["sycophantic"]["layer"] == 1  # the per-model override
    help_text = pytester.runpytest_subprocess("--help").stdout.str()
    for flag in ("--model", "--reference-model", "--judge", "--judge-base-url",
                 "--judge-concurrency", "--coherence-judge", "--persona-cache",
                 "--persona-refresh", "--device", "--dtype", "--batch-size", "--max-new-tokens",
                 "--seed", "--persona-results", "--persona-save", "--persona-compare",
                 "--persona-compare-fail"):
        assert flag in help_text, flag


def test_xdist_two_workers(pytester: pytest.Pytester, judge_server: JudgeServer) -> None:
    pytest.importorskip("xdist")
    _project(pytester, judge_server, SUITE.format(**LENIENT))
    res = _run(pytester, "-n", "2", "--dist", "loadgroup")
    res.assert_outcomes(passed=10)
    data = _results(pytester)
    assert len(data["expectations"]) == 10
    assert data["traits"]["sycophantic"]["sweep"]


def test_python_fixtures(pytester: pytest.Pytester, judge_server: JudgeServer) -> None:
    _project(pytester, judge_server, SUITE.format(**LENIENT).split("expectations:")[0]
             + "expectations:\n  - {kind: baseline_ceiling, max: 100}\n")
    pytester.makepyfile(test_fix="""
        import pytest
        import torch

        @pytest.mark.trait("sycophantic")
        def test_fixtures(persona_model, trait_data, trait_vectors, persona_steer):
            assert persona_model.n_layers == 4
            assert trait_data().name == "sycophantic"
            vecs = trait_vectors(n_questions=4, n_instructions=2, min_pairs=1, max_new_tokens=6)
            assert vecs.vectors.shape == (4, 64)
    """)
    res = pytester.runpytest_subprocess("test_fix.py", "-p", "no:cacheprovider", timeout=300)
    res.assert_outcomes(passed=1)


def test_warm_rerun_generates_and_judges_nothing(pytester: pytest.Pytester,
                                                 judge_server: JudgeServer) -> None:
    suite = SUITE.format(**LENIENT).replace(
        "  - {kind: coeff_zero_matches_baseline, n_prompts: 2, max_new_tokens: 4}\n", "")
    _project(pytester, judge_server, suite)
    _run(pytester).assert_outcomes(passed=9)
    cold = _results(pytester)
    assert cold["usage"]["model"]["generate_calls"] > 0 and cold["usage"]["judge"]["calls"] > 0
    _run(pytester).assert_outcomes(passed=9)
    warm = _results(pytester)
    assert warm["usage"]["model"]["generate_calls"] == 0
    assert warm["usage"]["judge"]["calls"] == 0 and warm["usage"]["judge"]["cache_hits"] > 0
    assert warm["traits"]["sycophantic"]["projections"] == cold["traits"]["sycophantic"][
        "projections"]
