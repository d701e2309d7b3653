"""PersonaCallback on a real transformers Trainer with a tiny random model (seconds each)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("transformers")
from transformers import Trainer, TrainerCallback  # noqa: E402

from pytest_persona.errors import PersonaUsageError, VectorFileError  # noqa: E402
from pytest_persona.integrations.transformers import PersonaCallback  # noqa: E402

from .support import LAYER, TRAIT, dataset, tiny, training_args, vector_file  # noqa: E402

KEYS = [f"persona/{TRAIT}/shift", f"persona/{TRAIT}/ci_low", f"persona/{TRAIT}/ci_high"]


class Recorder(TrainerCallback):
    """Stands in for a report_to integration: those receive exactly what on_log receives."""

    def __init__(self) -> None:
        self.logs: list[tuple[int, dict[str, float]]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        self.logs.append((state.global_step, dict(logs or {})))


def run(tmp_path: Path, sign: float = 1.0, steps: int = 6, attach: bool = True,
        model: Any = None, **callback: Any) -> tuple[PersonaCallback, Trainer, Recorder]:
    base, tok = tiny()
    vec = vector_file(tmp_path / "v.safetensors")
    if sign < 0:
        from pytest_persona.core.vectors import TraitVectors

        v = TraitVectors.load(vec)
        vec = TraitVectors(-v.vectors, dict(v.metadata)).save(tmp_path / "neg.safetensors")
    params: dict[str, Any] = dict(layer=LAYER, every_steps=2, max_questions=8,
                                  out=tmp_path / "timeline.json", cache_dir=tmp_path / "cache")
    params.update(callback)
    cb = PersonaCallback([vec], **params)
    rec = Recorder()
    trainer = Trainer(model=model if model is not None else base,
                      args=training_args(tmp_path / "out", steps=steps),
                      train_dataset=dataset(tok), processing_class=tok, callbacks=[rec, cb])
    if attach:
        cb.attach(trainer)
    trainer.train()
    return cb, trainer, rec


def test_each_check_is_logged_through_the_trainer_and_reaches_report_to(tmp_path):
    cb, trainer, rec = run(tmp_path)
    persona = {step: logs for step, logs in rec.logs if KEYS[0] in logs}
    assert sorted(persona) == [0, 2, 4, 6]  # begin, every 2 steps; the end check is step 6
    for logs in persona.values():
        assert set(KEYS) <= set(logs) and logs["persona/check_seconds"] > 0
        assert logs[KEYS[1]] <= logs[KEYS[0]] <= logs[KEYS[2]]
    assert persona[0][KEYS[0]] == 0.0  # the starting weights against themselves
    assert abs(persona[6][KEYS[0]]) > 0.1  # lr 5e-2 moves the tiny model
    in_history = [h["step"] for h in trainer.state.log_history if KEYS[0] in h]
    assert in_history == [0, 2, 4, 6]


def test_timeline_has_shift_interval_n_and_cost(tmp_path):
    cb, _, _ = run(tmp_path)
    doc = json.loads((tmp_path / "timeline.json").read_text())
    assert doc["format"] == "pytest-persona-timeline" and doc["layer"] == LAYER
    assert [c["step"] for c in doc["checks"]] == [0, 2, 4, 6]
    assert [c["trigger"] for c in doc["checks"]] == ["begin"] + ["every_steps"] * 3
    last = doc["checks"][-1]["traits"][TRAIT]
    assert last["n"] == 8 and last["ci_low"] <= last["shift"] <= last["ci_high"]
    assert last["mean"] - last["reference_mean"] == pytest.approx(last["shift"], abs=1e-9)
    assert doc["cost"]["forward_passes_per_check"] == 8 and doc["cost"]["generation"] is False
    assert doc["reference"]["fingerprint"].startswith("weights-sha256:")
    assert len(doc["traits"][TRAIT]["reference"]) == 8  # per-question reference projections
    assert "last prompt token" in doc["measure"] and doc["stop"] is None
    assert doc["checks"] == json.loads(json.dumps(cb.checks))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out", "timeline.json",
                                                          "v.safetensors"]  # no temp files


def test_checks_at_each_save(tmp_path):
    cb, _, _ = run(tmp_path, every_steps=None, cache_dir=None)
    assert [c["step"] for c in cb.checks] == [0, 6]  # begin and end only
    base, tok = tiny()
    cb2 = PersonaCallback([tmp_path / "v.safetensors"], layer=LAYER, every_steps=None,
                          max_questions=4, cache_dir=None)
    args = training_args(tmp_path / "saves", steps=6, save_strategy="steps", save_steps=3)
    Trainer(model=base, args=args, train_dataset=dataset(tok), processing_class=tok,
            callbacks=[cb2]).train()
    assert [(c["step"], c["trigger"]) for c in cb2.checks] == [(0, "begin"), (3, "save"),
                                                              (6, "save")]


def test_stop_if_stops_the_run_and_says_why(tmp_path, caplog):
    free, _, _ = run(tmp_path / "free")
    sign = 1.0 if free.checks[1]["traits"][TRAIT]["shift"] > 0 else -1.0
    drift = abs(free.checks[1]["traits"][TRAIT]["ci_low"])  # the step-2 shift, made positive
    with caplog.at_level(logging.WARNING, logger="pytest_persona.integrations"):
        cb, trainer, rec = run(tmp_path / "stop", sign=sign, stop_if={TRAIT: drift / 2})
    assert trainer.state.global_step == 2  # of 6
    assert cb.stopped is not None and cb.stopped["step"] == 2
    assert cb.stopped["ci_low"] > drift / 2 == cb.stopped["bound"]
    assert "stopping training at step 2" in caplog.text and "exceeds stop_if" in caplog.text
    doc = json.loads((tmp_path / "stop" / "timeline.json").read_text())
    assert doc["stop"]["trait"] == TRAIT and [c["step"] for c in doc["checks"]] == [0, 2]
    assert any(logs.get(f"persona/{TRAIT}/stopped") == 1.0 for _, logs in rec.logs)
    from pytest_persona.cli import main

    page = tmp_path / "timeline.html"
    assert main(["timeline", str(tmp_path / "stop" / "timeline.json"), "-o", str(page)]) == 0
    assert "stopped at step 2" in page.read_text() and "pp-ci-band" in page.read_text()


def test_stop_if_below_the_bound_does_not_stop(tmp_path):
    cb, trainer, _ = run(tmp_path, stop_if={TRAIT: 1e6})
    assert trainer.state.global_step == 6 and cb.stopped is None


def test_a_lora_model_through_peft(tmp_path):
    peft = pytest.importorskip("peft")
    base, _ = tiny()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    model = peft.get_peft_model(base, peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                                      target_modules=["q_proj", "v_proj",
                                                                      "o_proj"]))
    cb, trainer, rec = run(tmp_path, model=model)
    shifts = [c["traits"][TRAIT]["shift"] for c in cb.checks]
    assert shifts[0] == 0.0 and abs(shifts[-1]) > 1e-3  # the adapters moved the projection
    assert [step for step, logs in rec.logs if KEYS[0] in logs] == [0, 2, 4, 6]
    frozen = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
              for k, v in model.state_dict().items() if "lora_" not in k}
    assert all(torch.equal(frozen[k], v) for k, v in before.items())  # only adapters trained
    assert model.training  # the check restored the training mode


def test_unattached_callback_still_records_and_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="pytest_persona.integrations"):
        cb, trainer, rec = run(tmp_path, attach=False)
    assert [h["step"] for h in trainer.state.log_history if KEYS[0] in h] == [0, 2, 4, 6]
    assert not any(KEYS[0] in logs for _, logs in rec.logs)  # report_to never saw them
    assert "call callback.attach(trainer)" in caplog.text


def test_resumed_run_keeps_the_first_reference(tmp_path):
    base, tok = tiny()
    vec = vector_file(tmp_path / "v.safetensors")
    out = tmp_path / "timeline.json"
    args = training_args(tmp_path / "out", steps=4, save_strategy="steps", save_steps=2)
    first = PersonaCallback([vec], layer=LAYER, every_steps=2, max_questions=8, out=out,
                            cache_dir=None)
    Trainer(model=base, args=args, train_dataset=dataset(tok), processing_class=tok,
            callbacks=[first]).train()
    ref = json.loads(out.read_text())
    args6 = training_args(tmp_path / "out", steps=6, save_strategy="steps", save_steps=2)
    again, _ = tiny()
    second = PersonaCallback([vec], layer=LAYER, every_steps=2, max_questions=8, out=out,
                             cache_dir=None)
    Trainer(model=again, args=args6, train_dataset=dataset(tok), processing_class=tok,
            callbacks=[second]).train(resume_from_checkpoint=str(tmp_path / "out" /
                                                                 "checkpoint-4"))
    doc = json.loads(out.read_text())
    assert doc["reference"]["fingerprint"] == ref["reference"]["fingerprint"]
    assert doc["reference"]["resumed_at_step"] == 4
    assert doc["traits"][TRAIT]["reference"] == ref["traits"][TRAIT]["reference"]
    steps = [c["step"] for c in doc["checks"]]
    assert steps == [0, 2, 4, 6]  # the earlier checks kept, step 4 measured again on resume
    assert doc["checks"][2]["traits"][TRAIT]["shift"] == pytest.approx(
        ref["checks"][2]["traits"][TRAIT]["shift"], abs=1e-5)


def test_bad_arguments_are_usage_errors(tmp_path):
    vec = vector_file(tmp_path / "v.safetensors")
    with pytest.raises(PersonaUsageError, match="'evil' is not a watched trait"):
        PersonaCallback([vec], layer=1, stop_if={"evil": 1.0})
    with pytest.raises(PersonaUsageError, match="must be a finite number"):
        PersonaCallback([vec], layer=1, stop_if={TRAIT: float("nan")})
    with pytest.raises(PersonaUsageError, match="layer=-1"):
        PersonaCallback([vec], layer=-1)
    with pytest.raises(PersonaUsageError, match="every_steps=0"):
        PersonaCallback([vec], layer=1, every_steps=0)
    with pytest.raises(PersonaUsageError, match="unknown extraction field 'n_sample'"):
        PersonaCallback([TRAIT], layer=1, extraction={"n_sample": 2})
    with pytest.raises(PersonaUsageError, match="named twice"):
        PersonaCallback([vec, TRAIT], layer=1)


def test_a_vector_for_another_model_fails_at_train_begin(tmp_path):
    vec = vector_file(tmp_path / "v.safetensors", d_model=32)
    base, tok = tiny()
    cb = PersonaCallback([vec], layer=LAYER, cache_dir=None)
    trainer = Trainer(model=base, args=training_args(tmp_path / "out", steps=2),
                      train_dataset=dataset(tok), processing_class=tok, callbacks=[cb])
    with pytest.raises(VectorFileError, match="d_model"):
        trainer.train()
