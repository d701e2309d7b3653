"""Suite fields of issue 11: evaluation sampling per suite and per model, extraction templates,
and the reference's two-file trait data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_persona.suites.schema import SuiteError, load_suite

BASE = """\
trait: sycophantic
samples_per_question: 10
temperature: 1
top_p: 1
max_new_tokens: 1000
models:
  smollm2-135m: {samples_per_question: 1, temperature: 0, max_new_tokens: 64}
  other: {top_p: 0.5}
extraction: {pos_system_template: "Be {trait}. {instruction}", neg_system_template: "{instruction}"}
expectations:
  - {kind: baseline_ceiling, max: 30}
"""


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_sampling_defaults_and_per_model_profiles(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, BASE))
    big = suite.for_model("qwen2.5-7b")
    assert big.sampling() == {"samples_per_question": 10, "temperature": 1.0, "top_p": 1.0,
                              "max_new_tokens": 1000}
    small = suite.for_model("smollm2-135m")
    assert small.sampling() == {"samples_per_question": 1, "temperature": 0.0, "top_p": 1.0,
                                "max_new_tokens": 64}
    assert suite.for_model("other").top_p == 0.5
    assert suite.extraction["neg_system_template"] == "{instruction}"
    plain = load_suite(_write(tmp_path, "trait: x\nexpectations: [{kind: baseline_ceiling, "
                                        "max: 1}]\n", "p.yaml")).for_model("m")
    assert plain.sampling() == {"samples_per_question": 1, "temperature": 0.0, "top_p": 1.0,
                                "max_new_tokens": 64}


@pytest.mark.parametrize("text,line,field,msg", [
    ("trait: x\nsamples_per_question: 4\nexpectations: [{kind: baseline_ceiling, max: 1}]\n",
     2, "samples_per_question", "greedy samples are identical"),
    ("trait: x\ntemperature: 1\nmodels:\n  m: {samples_per_question: 3, temperature: 0}\n"
     "expectations: [{kind: baseline_ceiling, max: 1}]\n", 4, "models.m.samples_per_question",
     "3 samples per question at temperature 0 for m"),
    ("trait: x\ntop_p: 0\nexpectations: [{kind: baseline_ceiling, max: 1}]\n", 2, "top_p",
     "in (0, 1]"),
    ("trait: x\ntemperature: -1\nexpectations: [{kind: baseline_ceiling, max: 1}]\n", 2,
     "temperature", ">= 0"),
    ("trait: x\nmodels:\n  m: {samples_per_question: 0}\n"
     "expectations: [{kind: baseline_ceiling, max: 1}]\n", 3, "models.m.samples_per_question",
     "positive integer"),
    ("trait: x\nextraction: {system_template: 'x'}\n"
     "expectations: [{kind: baseline_ceiling, max: 1}]\n", 2, "extraction.system_template",
     "neg_system_template"),
])
def test_bad_sampling_fields_are_located(tmp_path: Path, text: str, line: int, field: str,
                                         msg: str) -> None:
    with pytest.raises(SuiteError) as info:
        load_suite(_write(tmp_path, text))
    assert (info.value.line, info.value.field) == (line, field)
    assert msg in info.value.reason


def test_trait_file_pair(tmp_path: Path) -> None:
    doc = {"instruction": [{"pos": "p", "neg": "n"}], "eval_prompt": "{question} {answer}"}
    (tmp_path / "ex").mkdir()
    (tmp_path / "ev").mkdir()
    (tmp_path / "ex" / "evil.json").write_text(json.dumps({**doc, "questions": ["a?", "b?"]}))
    (tmp_path / "ev" / "evil.json").write_text(json.dumps({**doc, "questions": ["c?"]}))
    suite = load_suite(_write(tmp_path, "trait_file: {extract: ex/evil.json, eval: ev/evil.json}"
                                        "\nexpectations: [{kind: baseline_ceiling, max: 1}]\n"))
    assert suite.trait == "evil"
    assert suite.trait_file == ((tmp_path / "ex" / "evil.json").resolve(),
                                (tmp_path / "ev" / "evil.json").resolve())
    from pytest_persona.suites.session import PersonaOptions, PersonaSession

    trait = PersonaSession(PersonaOptions(cache_dir=tmp_path / "c")).trait(suite.trait_file)
    assert trait.extract_questions == ("a?", "b?") and trait.eval_questions == ("c?",)
    for bad, field in [("{extract: ex/evil.json}", "trait_file"),
                       ("{extract: ex/evil.json, eval: ev/evil.json, x: 1}", "trait_file.x"),
                       ("{extract: ex/evil.json, eval: nope.json}", "trait_file.eval")]:
        with pytest.raises(SuiteError) as info:
            load_suite(_write(tmp_path, f"trait_file: {bad}\nexpectations: "
                                        "[{kind: baseline_ceiling, max: 1}]\n"))
        assert info.value.field == field and info.value.line == 1
