from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import pytest
import torch

from pytest_persona.cli import main
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.traits.loader import TraitData


def test_vectors_inspect_prints_provenance_and_norms(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    v = TraitVectors(torch.ones(3, 4) * torch.tensor([[1.0], [2.0], [3.0]]),
                     {"trait": "evil", "model_id": "tiny", "effective_pairs": 7})
    path = v.save(tmp_path / "evil.safetensors")
    assert main(["vectors", "inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "[3 layers, d_model 4]" in out and "effective_pairs: 7" in out
    assert "2:    6.0000" in out and "<- largest" in out


def test_bad_vector_file_is_a_clean_error(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a file")
    assert main(["vectors", "inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("persona: error:") and "Traceback" not in err


def test_extract_on_tiny_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_persona.judges import COHERENCE_PROMPT
    from tests.support.judge_server import JudgeServer

    mark = COHERENCE_PROMPT.split("{question}")[0][:60]
    import hashlib

    def scorer(prompt: str) -> int:
        if mark in prompt:
            return 80
        return int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 100

    monkeypatch.chdir(tmp_path)
    with JudgeServer(scorer=scorer) as srv:
        rc = main(["extract", "--model", "tiny-random-qwen2", "--trait", "evil", "--judge",
                   "openai:scripted", "--judge-base-url", srv.base_url, "--questions", "4",
                   "--max-new-tokens", "6", "--min-pairs", "1", "--out", "vecs",
                   "--layer-sweep", "1,2", "--sweep-questions", "2"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "effective pairs" in out
    v = TraitVectors.load(tmp_path / "vecs" / "evil.safetensors")
    assert v.vectors.shape == (4, 64) and v.metadata["trait"] == "evil"
    sweep = v.metadata["layer_sweep"]
    assert [row["layer"] for row in sweep["scores"]] == [1, 2] and "best_layer" in sweep
    assert "layer   1: trait" in out


def test_report_and_compare_commands(tmp_path: Path) -> None:
    from tests.report.synthetic import make_results

    a = make_results()
    b = json.loads(json.dumps(a))
    b["traits"]["sycophantic"]["metrics"]["baseline_score"] = 40.0
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a))
    pb.write_text(json.dumps(b))
    assert main(["report", str(pa), "-o", str(tmp_path / "r.html")]) == 0
    assert "<svg" in (tmp_path / "r.html").read_text()
    assert main(["compare", str(pa), str(pb), "-o", str(tmp_path / "c.html"),
                 "--fail", "baseline_score:+5"]) == 1
    assert main(["compare", str(pa), str(pa), "-o", str(tmp_path / "c2.html"),
                 "--fail", "baseline_score:+5"]) == 0


def test_extract_template_and_threshold_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_persona.pipeline import extraction

    seen: list[extraction.ExtractionConfig] = []

    def capture(loaded, trait, judge, coherence, config, *args, **kw):
        seen.append(config)
        raise extraction.ExtractionError("stop here")

    monkeypatch.setattr(extraction, "extract_vectors", capture)
    monkeypatch.chdir(tmp_path)
    base = ["extract", "--model", "tiny-random-qwen2", "--trait", "evil", "--judge", "offline"]
    assert main(base) == 2
    assert main([*base, "--threshold", "70", "--pos-system-template", "P {trait}: {instruction}",
                 "--neg-system-template", "N: {instruction}"]) == 2
    default, custom = seen
    assert default.pos_system_template == "You are {article} {trait} assistant. {instruction}"
    assert default.neg_system_template == "You are a helpful assistant. {instruction}"
    assert (custom.pos_system_template, custom.neg_system_template) == (
        "P {trait}: {instruction}", "N: {instruction}")
    assert custom.trait_threshold == 70 and custom.neg_threshold == 30
    ref = Path(__file__).resolve().parent / "data" / "reference_format"
    traits: list[TraitData] = []

    def record(loaded: object, trait: TraitData, *a: object, **k: object) -> NoReturn:
        traits.append(trait)
        raise extraction.ExtractionError("stop here")

    monkeypatch.setattr(extraction, "extract_vectors", record)
    assert main([*base[:4], str(ref / "trait_data_extract" / "evil.json"), "--trait-eval",
                 str(ref / "trait_data_eval" / "evil.json"), "--judge", "offline"]) == 2
    assert len(traits[0].extract_questions) == 20
    assert "stop here" in capsys.readouterr().err


def test_report_and_compare_refuse_bad_input_with_exit_4(tmp_path: Path, capsys) -> None:
    """Issue 13.9 / 13.1: a malformed comparison section or an unknown rule is exit 4."""
    from tests.report.synthetic import make_results

    a = make_results()
    pa = tmp_path / "a.json"
    pa.write_text(json.dumps(a))
    bad = dict(a, comparison={"regressions": [1]})
    pb = tmp_path / "bad.json"
    pb.write_text(json.dumps(bad))
    assert main(["report", str(pb), "-o", str(tmp_path / "r.html")]) == 4
    assert "comparison.regressions[0]: expected object" in capsys.readouterr().err
    assert main(["compare", str(pa), str(pa), "-o", str(tmp_path / "c.html"),
                 "--fail", "baseline_scroe:+5"]) == 4
    assert "unknown metric 'baseline_scroe'" in capsys.readouterr().err


def test_compare_prints_each_check_with_its_interval(tmp_path: Path, capsys) -> None:
    from tests.results.test_compare import _noisy_pair

    base, cur = _noisy_pair(shift=12.0, noise=2.0)
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(base))
    pb.write_text(json.dumps(cur))
    assert main(["compare", str(pa), str(pb), "-o", str(tmp_path / "c.html"),
                 "--fail", "baseline_score:+5"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION sycophantic: baseline_score rose 12" in out and "95% CI" in out
    html = (tmp_path / "c.html").read_text()
    assert "pp-strip" in html and html.count('class="pp-pt-diff"') == 20
    assert "FAIL" in html


def test_calibrate_runs_the_unchanged_model_and_stores_bounds(tmp_path: Path,
                                                              monkeypatch) -> None:
    """persona calibrate: run 0 unchanged, run 1 on lightly perturbed weights; the bounds land
    in the calibration file and in the baseline, where `auto` rules find them."""
    from tests.plugin.test_plugin import _hash_score
    from tests.report.synthetic import make_results
    from tests.support.judge_server import JudgeServer

    monkeypatch.chdir(tmp_path)
    (tmp_path / "trait_suites").mkdir()
    (tmp_path / "trait_suites" / "syc.yaml").write_text(
        "trait: sycophantic\nlayer: 1\ncoefficients: [-4, 0, 4]\nn_questions: 4\n"
        "max_new_tokens: 6\nexpectations:\n  - {kind: baseline_ceiling, max: 100}\n")
    base = tmp_path / "base.json"
    base.write_text(json.dumps(make_results(("sycophantic",))))
    with JudgeServer(scorer=_hash_score) as srv:
        rc = main(["calibrate", "--model", "tiny-random-llama", "--suites", "trait_suites",
                   "--runs", "2", "--perturb", "0.05", "--baseline", str(base),
                   "--pytest-args", f"--judge openai:scripted --judge-base-url {srv.base_url} "
                   f"--persona-cache {tmp_path / 'cache'}",
                   "-o", str(tmp_path / "cal.json"), "--work-dir", str(tmp_path / "work")])
    assert rc == 0
    cal = json.loads((tmp_path / "cal.json").read_text())
    spec = cal["figures"]["sycophantic"]["baseline_score"]
    assert len(spec["shifts"]) == 1 and spec["bound"] >= 0
    assert [r["perturbed"] for r in cal["runs_detail"]] == [False, True]
    assert (tmp_path / "work" / "perturbed-1" / "PERSONA_PERTURBED_CHECKPOINT.json").exists()
    assert json.loads(base.read_text())["calibration"]["figures"] == cal["figures"]
