"""A comparison against another model or trait setup is an error naming both sides, never a
silent pass (issue 25 item 12); the notes say what was compared with what."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.cli import main
from pytest_persona.results.compare import CompareUsageError, compare_results
from tests.report.synthetic import make_results


def _pair(**model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    base = make_results(("sycophantic",))
    base["model"].update(name="tiny-random-qwen2", architecture="qwen2", n_layers=4,
                         d_model=64, fingerprint="tiny:tiny-random-qwen2:seed0")
    base["traits"]["sycophantic"].update(layer=1, data_sha256="a" * 64)
    cur = copy.deepcopy(base)
    cur["model"].update(model)
    return base, cur


def test_same_architecture_other_fingerprint_is_the_normal_case() -> None:
    base, cur = _pair(fingerprint="dir:ckpt-42", name="ckpt-42")
    comp = compare_results(cur, base, ["baseline_score:+5"], baseline_path="b.json")
    assert comp.ok
    said = comp.compared[0]
    assert "compared this run, model ckpt-42 (qwen2, 4 blocks, d=64" in said
    assert "with baseline b.json, model tiny-random-qwen2 (qwen2" in said
    assert any("sycophantic: compared at layer 1 on the same trait data" in n
               for n in comp.compared)
    assert comp.to_dict()["compared"] == comp.compared


@pytest.mark.parametrize("change, named", [
    ({"architecture": "gpt2", "name": "tiny-random-gpt2"}, "architecture: baseline 'qwen2', "
                                                            "this run 'gpt2'"),
    ({"n_layers": 30}, "decoder blocks: baseline 4, this run 30"),
    ({"d_model": 128}, "width d_model: baseline 64, this run 128"),
])
def test_another_model_is_an_error_naming_both(change: dict[str, Any], named: str) -> None:
    base, cur = _pair(**change)
    with pytest.raises(CompareUsageError) as err:
        compare_results(cur, base, ["baseline_score:+5"], baseline_path="b.json")
    msg = str(err.value)
    assert "b.json cannot be compared with this run" in msg and named in msg
    assert "baseline model tiny-random-qwen2" in msg


@pytest.mark.parametrize("key, value, named", [
    ("layer", 3, "sycophantic: layer: baseline 1, this run 3"),
    ("data_sha256", "b" * 64, "sycophantic: trait data sha256: baseline 'aaa"),
])
def test_another_layer_or_trait_data_is_an_error(key: str, value: Any, named: str) -> None:
    base, cur = _pair()
    cur["traits"]["sycophantic"][key] = value
    with pytest.raises(CompareUsageError, match="cannot be compared") as err:
        compare_results(cur, base, [])
    assert named in str(err.value)


def test_an_old_baseline_without_identity_says_what_was_not_checked() -> None:
    base, cur = _pair()
    del base["model"]["architecture"], base["traits"]["sycophantic"]["data_sha256"]
    comp = compare_results(cur, base, [])
    assert any("architecture not recorded on both sides: not checked" in n for n in comp.compared)
    assert any("trait data sha256 not recorded on both sides" in n for n in comp.compared)


def test_persona_compare_refuses_another_model_with_exit_4(tmp_path: Path, capsys) -> None:
    base, cur = _pair(architecture="gpt2", name="tiny-random-gpt2")
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(base))
    pb.write_text(json.dumps(cur))
    assert main(["compare", str(pa), str(pb), "-o", str(tmp_path / "c.html")]) == 4
    err = capsys.readouterr().err
    assert "architecture: baseline 'qwen2', this run 'gpt2'" in err
    assert "tiny-random-gpt2" in err and "tiny-random-qwen2" in err
    base, cur = _pair(fingerprint="x")
    pb.write_text(json.dumps(cur))
    assert main(["compare", str(pa), str(pb), "-o", str(tmp_path / "c.html")]) == 0
    assert "compared: compared this run, model tiny-random-qwen2" in capsys.readouterr().out
