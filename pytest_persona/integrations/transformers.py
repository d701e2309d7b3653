"""``PersonaCallback``: watch trait shifts while a ``transformers.Trainer`` fine-tunes a model.

::

    from pytest_persona.integrations.transformers import PersonaCallback

    watch = PersonaCallback(["evil", "vectors/sycophantic.safetensors"], layer=19,
                            every_steps=50, out="runs/persona-timeline.json",
                            stop_if={"evil": 0.5})
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[watch])
    watch.attach(trainer)   # metrics go through trainer.log, so report_to receives them
    trainer.train()

At the start of training the callback fingerprints the weights (the reference; no copy is
kept), resolves each trait's vector (a vector file, the cache, or one extraction from the
reference weights), and projects the reference. At every ``every_steps`` step, at each save
and at the end it measures each trait's paired ``prompt_last`` shift with its 95% bootstrap
interval (see :mod:`pytest_persona.integrations.monitor`): one forward pass per question, no
generation. It logs ``persona/<trait>/shift``, ``persona/<trait>/ci_low``,
``persona/<trait>/ci_high`` and ``persona/check_seconds``, appends to the timeline JSON, and
stops training when a ``stop_if`` trait's interval lower bound exceeds its bound.

TRL's trainers subclass ``Trainer`` and work the same way; PEFT/LoRA models are measured with
their adapters active. Under multi-process training every process measures (the stop decision
stays the same everywhere) and only the main process writes and logs.
"""

from __future__ import annotations

import gc
import logging
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.errors import PersonaUsageError
from pytest_persona.integrations.fingerprint import weights_fingerprint
from pytest_persona.integrations.monitor import (
    MEASURE,
    Probe,
    Shift,
    ShiftMonitor,
    TraitSpec,
    eval_mode,
    extraction_config,
    model_view,
    resolve_probe,
    trait_specs,
)
from pytest_persona.integrations.timeline_file import Timeline, read_previous
from pytest_persona.models.loading import LoadedModel
from pytest_persona.pipeline.extraction import ExtractionConfig

log = logging.getLogger("pytest_persona.integrations")
START = "start"


def _positive_int(name: str, value: Any, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PersonaUsageError(f"PersonaCallback({name}={value!r}): must be a positive integer"
                                + (" or None" if allow_none else ""))
    return value


def _stop_bounds(stop_if: Mapping[str, float] | None, names: set[str]) -> dict[str, float]:
    bounds: dict[str, float] = {}
    for trait, bound in (stop_if or {}).items():
        if trait not in names:
            raise PersonaUsageError(f"PersonaCallback(stop_if=...): {trait!r} is not a watched "
                                    f"trait; watched: {', '.join(sorted(names))}")
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(
                bound):
            raise PersonaUsageError(f"PersonaCallback(stop_if=...): the bound of {trait!r} must "
                                    f"be a finite number, got {bound!r}")
        bounds[trait] = float(bound)
    return bounds


def _tokenizer_of(processing_class: Any) -> Any:
    """A processor's tokenizer, or the tokenizer itself."""
    if processing_class is not None and not hasattr(processing_class, "pad_token_id"):
        return getattr(processing_class, "tokenizer", processing_class)
    return processing_class


def _file_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80] or "trait"


class PersonaCallback(TrainerCallback):
    """Measure trait shifts against the starting weights during training (see the module).

    Args:
        traits: trait names (built-in or in ``trait_paths``), trait JSON files, or vector
            files (``.safetensors`` written by ``persona extract`` or the cache).
        layer: the 0-based decoder block to read (the suite's ``layer``).
        every_steps: check every N optimizer steps (None: only at saves and at the end).
        check_at_save: also check at each checkpoint save.
        reference: ``"start"`` (the weights at ``on_train_begin``), or a model name/path
            loaded once to project the reference and then freed.
        max_questions: evaluation questions per trait (one forward pass each per check).
        extraction: an ``ExtractionConfig`` or a suite's ``extraction:`` mapping, used when a
            trait is named without a vector file (cache first, else extracted once).
        out: the timeline JSON, rewritten atomically after every check.
        stop_if: ``{trait: bound}``: stop once the shift's 95% CI lower bound exceeds bound.
        judge: judge spec for a one-off extraction (``auto``, ``offline``, ``openai:...``).
        cache_dir: the pytest-persona cache (vectors, reference projections); None: none.
        tokenizer: when the Trainer was given no ``processing_class``.
        batch_size: prompts per forward pass in a check.
    """

    def __init__(self, traits: str | Path | Sequence[str | Path], *, layer: int,
                 every_steps: int | None = 50, check_at_save: bool = True,
                 reference: str | Path = START, max_questions: int | None = 20,
                 extraction: ExtractionConfig | Mapping[str, Any] | None = None,
                 out: str | Path | None = None, stop_if: Mapping[str, float] | None = None,
                 judge: str = "auto", cache_dir: str | Path | None = ".persona_cache",
                 trait_paths: Sequence[str | Path] = (), tokenizer: Any = None,
                 batch_size: int = 16) -> None:
        if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
            raise PersonaUsageError(f"PersonaCallback(layer={layer!r}): must be a 0-based "
                                    "decoder block index")
        self.layer = layer
        self.every_steps = _positive_int("every_steps", every_steps, allow_none=True)
        self.max_questions = _positive_int("max_questions", max_questions, allow_none=True)
        self.batch_size = int(_positive_int("batch_size", batch_size, allow_none=False) or 16)
        self.check_at_save = check_at_save
        self.reference = str(reference)
        self.specs: list[TraitSpec] = trait_specs(traits, trait_paths)
        self.stop_if = _stop_bounds(stop_if, {s.name for s in self.specs})
        self.extraction = extraction_config(extraction, batch_size)
        self.judge_spec = judge
        self.cache = PersonaCache(cache_dir) if cache_dir is not None else None
        self.tokenizer = tokenizer
        self.timeline = Timeline(Path(out) if out is not None else None)
        self.monitor: ShiftMonitor | None = None
        self.reference_fingerprint: str | None = None
        self._trainer: Any = None
        self._model: Any = None
        self._warned_unattached = False

    # -- wiring ---------------------------------------------------------------------------
    def attach(self, trainer: Any) -> PersonaCallback:
        """Log through ``trainer.log`` (so ``report_to`` integrations receive the metrics) and
        add the callback to ``trainer`` if it is not there yet. Returns the callback."""
        self._trainer = trainer
        if self not in trainer.callback_handler.callbacks:
            trainer.add_callback(self)
        return self

    @property
    def checks(self) -> list[dict[str, Any]]:
        return self.timeline.checks

    @property
    def stopped(self) -> dict[str, Any] | None:
        return self.timeline.stop

    # -- reference and vectors --------------------------------------------------------------
    def _vectors(self, spec: TraitSpec, ref: LoadedModel) -> tuple[TraitVectors, str]:
        if spec.vectors is not None:
            return spec.vectors, f"file:{spec.vector_file}"
        saved = self._saved_vector_path(spec.name)
        if saved is not None and saved.is_file():
            return TraitVectors.load(saved), f"file:{saved}"
        from pytest_persona.judges import make_judge
        from pytest_persona.pipeline.extraction import extract_vectors

        path = self.cache.judge_path if self.cache is not None else None
        judge = make_judge(self.judge_spec, cache_path=path)
        try:
            import torch

            with torch.random.fork_rng(devices=[]), eval_mode(ref.model):
                result = extract_vectors(ref, spec.data, judge, judge, self.extraction,
                                         self.cache)
        finally:
            judge.close()
        origin = "cache" if result.from_cache else "extracted"
        if saved is None:
            return result.vectors, origin
        result.vectors.save(saved)  # a resumed run reads the same vector back
        return result.vectors, f"{origin}, saved to file:{saved}"

    def _saved_vector_path(self, trait: str) -> Path | None:
        path = self.timeline.path
        return None if path is None else path.with_name(
            f"{path.stem}.{_file_part(trait)}.vector.safetensors")

    def _probes(self, ref: LoadedModel) -> list[Probe]:
        probes = []
        for spec in self.specs:
            vectors, source = self._vectors(spec, ref)
            probes.append(resolve_probe(spec, self.layer, self.max_questions, vectors, source,
                                        ref.n_layers, ref.d_model))
        return probes

    def _setup(self, model: Any, tokenizer: Any, state: TrainerState) -> None:
        info: dict[str, Any] = {"kind": START if self.reference == START else "model",
                                "step": state.global_step}
        if self.reference == START:
            fp, seconds = weights_fingerprint(model)
            ref = model_view(model, tokenizer, fp)
            info.update(name=ref.name, fingerprint_seconds=round(seconds, 3))
        else:
            from pytest_persona.models.loading import load_model

            device = str(next(model.parameters()).device)
            ref = load_model(self.reference, device=device)
            info.update(name=self.reference)
        self.reference_fingerprint = ref.fingerprint
        info["fingerprint"] = ref.fingerprint
        monitor = ShiftMonitor(self._probes(ref), self.layer, self.batch_size)
        previous = self._resumable(state, monitor)
        if previous is not None:
            monitor.reference = {p.name: dict(previous["traits"][p.name]["reference"])
                                 for p in monitor.probes}
            info = {**previous["reference"], "resumed_at_step": state.global_step}
            self.reference_fingerprint = str(info.get("fingerprint"))
            self.timeline.checks.extend(c for c in previous.get("checks", [])
                                        if int(c.get("step", -1)) < state.global_step)
        else:
            monitor.set_reference(ref, self.cache)
        if self.reference != START:
            del ref
            gc.collect()
            _empty_device_cache()
        self.monitor = monitor
        self.timeline.header = {
            "measure": MEASURE.format(layer=self.layer), "layer": self.layer,
            "model": model_view(model, tokenizer, "").name, "reference": info,
            "cost": {"forward_passes_per_check": monitor.forward_passes,
                     "batch_size": self.batch_size, "generation": False},
            "traits": {p.name: {"source": p.source, "vector_sha256": p.vector_sha256,
                                "n_questions": len(p.questions),
                                "stop_if": self.stop_if.get(p.name),
                                "reference": monitor.reference[p.name]}
                       for p in monitor.probes}}

    def _resumable(self, state: TrainerState, monitor: ShiftMonitor) -> dict[str, Any] | None:
        """A resumed run continues its earlier timeline against the earlier reference when the
        layer, vectors and questions are the same (else the resumed weights are the
        reference, with a warning)."""
        if state.global_step == 0 or self.timeline.path is None or self.reference != START:
            return None
        previous = read_previous(self.timeline.path)
        if previous is None:
            log.warning("persona: resumed at step %d with no earlier timeline at %s: the "
                        "resumed weights are the reference", state.global_step,
                        self.timeline.path)
            return None
        traits = previous.get("traits") or {}
        same = previous.get("layer") == self.layer and all(
            isinstance(traits.get(p.name), dict)
            and traits[p.name].get("vector_sha256") == p.vector_sha256
            and isinstance(traits[p.name].get("reference"), dict)
            and len(traits[p.name]["reference"]) == len(set(p.questions)) for p in monitor.probes)
        if not same:
            log.warning("persona: the timeline at %s was made with another layer, vectors or "
                        "questions: the resumed weights are the reference", self.timeline.path)
            return None
        return previous

    # -- checks ---------------------------------------------------------------------------
    def _check(self, state: TrainerState, control: TrainerControl, trigger: str) -> None:
        if self.monitor is None or self._model is None:
            return
        step = int(state.global_step)
        if trigger != "begin" and self.timeline.last_step() == step:
            return  # already measured at this step (every_steps and a save coincide)
        view = model_view(self._model, self._tok, f"training:{self.reference_fingerprint}"
                          f":step{step}")
        shifts = self.monitor.check(view)
        seconds = self.monitor.last_seconds
        logs: dict[str, float] = {}
        for s in shifts:
            logs[f"persona/{s.trait}/shift"] = s.shift
            logs[f"persona/{s.trait}/ci_low"] = s.ci_low
            logs[f"persona/{s.trait}/ci_high"] = s.ci_high
        logs["persona/check_seconds"] = seconds
        stop = None if self.timeline.stop is not None else self._stop(shifts, step)
        if stop is not None:
            control.should_training_stop = True
            self.timeline.stop = stop
            logs[f"persona/{stop['trait']}/stopped"] = 1.0
            log.warning("%s", stop["message"])
        if not state.is_world_process_zero:
            return
        entry = {"step": step, "epoch": state.epoch, "trigger": trigger,
                 "seconds": round(seconds, 4),
                 "traits": {s.trait: {k: v for k, v in s.to_dict().items() if k != "trait"}
                            for s in shifts}}
        self.timeline.append(entry)
        self._log(state, logs)

    def _stop(self, shifts: list[Shift], step: int) -> dict[str, Any] | None:
        for s in shifts:
            bound = self.stop_if.get(s.trait)
            if bound is not None and s.ci_low > bound:
                message = (f"persona: stopping training at step {step}: the {s.trait} shift is "
                           f"{s.shift:+.4f} (95% CI {s.ci_low:+.4f} to {s.ci_high:+.4f}, "
                           f"n={s.n} questions, layer {self.layer}, last prompt token vs the "
                           f"reference); its lower bound exceeds stop_if {bound:g}")
                return {"step": step, "trait": s.trait, "shift": s.shift, "ci_low": s.ci_low,
                        "bound": bound, "message": message}
        return None

    def _log(self, state: TrainerState, logs: dict[str, float]) -> None:
        if self._trainer is not None:
            self._trainer.log(dict(logs))
            return
        state.log_history.append({**logs, "step": state.global_step})
        if not self._warned_unattached:
            self._warned_unattached = True
            log.warning("persona: PersonaCallback is not attached to the Trainer, so report_to "
                        "integrations do not receive persona/* metrics (they are in "
                        "state.log_history and the timeline); call callback.attach(trainer)")

    # -- TrainerCallback events -----------------------------------------------------------
    def on_train_begin(self, args: TrainingArguments, state: TrainerState,
                       control: TrainerControl, **kwargs: Any) -> TrainerControl:
        model = kwargs.get("model")
        if model is None:
            raise PersonaUsageError("PersonaCallback: the Trainer passed no model")
        tok = self.tokenizer if self.tokenizer is not None else _tokenizer_of(
            kwargs.get("processing_class") or kwargs.get("tokenizer"))
        if tok is None:
            raise PersonaUsageError("PersonaCallback: the Trainer has no processing_class; "
                                    "pass PersonaCallback(..., tokenizer=tokenizer)")
        self._model, self._tok = model, tok
        self.timeline.checks.clear()
        self.timeline.stop = None
        self._setup(model, tok, state)
        self._check(state, control, "begin")
        return control

    def on_step_end(self, args: TrainingArguments, state: TrainerState,
                    control: TrainerControl, **kwargs: Any) -> TrainerControl:
        if self.every_steps and state.global_step % self.every_steps == 0:
            self._check(state, control, "every_steps")
        return control

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                **kwargs: Any) -> TrainerControl:
        if self.check_at_save:
            self._check(state, control, "save")
        return control

    def on_train_end(self, args: TrainingArguments, state: TrainerState,
                     control: TrainerControl, **kwargs: Any) -> TrainerControl:
        self._check(state, control, "end")
        return control


def _empty_device_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
