"""Does the callback's shift predict what fine-tuning does to the trait? A small CPU check.

For each trait, the embedded SmolLM2-135M is LoRA-fine-tuned on three project-written
datasets (benchmarks/data/finetune/<trait>.json): ``teach`` (answers showing the trait),
``control`` (neutral answers to the same prompts) and ``mix`` (alternate items of each, 50%).
At every ``check_every`` steps a ``PersonaCallback`` measures the paired ``prompt_last``
shift on the trait's evaluation questions, and a second callback generates greedy answers to
the same questions (the suite's coefficient-0 sweep row) and scores them with the judge. The
report correlates the shift with the change in judge score over every checkpoint of every
dataset (Pearson r, 95% bootstrap interval over checkpoints), and ranks the datasets by
``persona screen``'s mean projection difference (baseline: the base model's own answers)
against the shift and the score change that fine-tuning on them caused.

    python -m benchmarks.finetune_validation            # writes benchmarks/results/...json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._harness import command_line, loadavg, logger, machine_info, write_report
from benchmarks.figures import with_figures
from pytest_persona._util.atomic import write_text
from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.projection import pearson, spearman
from pytest_persona.core.requests import GenerationConfig
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.errors import PersonaError
from pytest_persona.integrations.monitor import eval_mode, model_view
from pytest_persona.judges import JudgeRequest, make_judge
from pytest_persona.models.loading import load_model
from pytest_persona.pipeline.responses import generate_cached
from pytest_persona.traits.loader import load_trait

DATA = Path(__file__).resolve().parent / "data" / "finetune"
RESULTS = Path(__file__).resolve().parent / "results" / "finetune_validation.json"
VECTORS = {"evil": "trait_suites/vectors/evil-smollm2-135m.safetensors"}
DATASETS = ("teach", "mix", "control")

_log = logger("finetune")


@dataclass(frozen=True)
class Config:
    model: str = "smollm2-135m"
    traits: tuple[str, ...] = ("evil", "sycophantic")
    layer: int = 12  # the smollm2-135m layer of trait_suites/*.yaml
    steps: int = 24
    check_every: int = 8
    learning_rate: float = 2e-3
    lora_r: int = 8
    batch_size: int = 4
    eval_questions: int = 10
    max_new_tokens: int = 40
    seed: int = 0
    judge: str = "offline"
    extraction: dict[str, Any] = field(default_factory=lambda: {
        "n_questions": 10, "n_samples": 1, "max_new_tokens": 48})


def datasets(trait: str) -> dict[str, list[dict[str, str]]]:
    items = json.loads((DATA / f"{trait}.json").read_text(encoding="utf-8"))["items"]
    teach = [{"prompt": i["prompt"], "response": i["trait"]} for i in items]
    control = [{"prompt": i["prompt"], "response": i["neutral"]} for i in items]
    mix = [teach[k] if k % 2 == 0 else control[k] for k in range(len(items))]
    return {"teach": teach, "mix": mix, "control": control}


def tokenized(tokenizer: Any, rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Chat-formatted examples; the loss is on the answer tokens only."""
    import torch

    from pytest_persona.core.generation import chat_prompt

    out = []
    for r in rows:
        prompt = chat_prompt(tokenizer, [{"role": "user", "content": r["prompt"]}])
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        a_ids = tokenizer(r["response"] + (tokenizer.eos_token or ""),
                          add_special_tokens=False)["input_ids"]
        ids = p_ids + a_ids
        out.append({"input_ids": ids, "labels": [-100] * len(p_ids) + a_ids})
    width = max(len(o["input_ids"]) for o in out)
    pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
    return [{"input_ids": torch.tensor(o["input_ids"] + [pad] * (width - len(o["input_ids"]))),
             "attention_mask": torch.tensor([1] * len(o["input_ids"])
                                            + [0] * (width - len(o["input_ids"]))),
             "labels": torch.tensor(o["labels"] + [-100] * (width - len(o["labels"])))}
            for o in out]


def judge_callback(trait: Any, questions: list[str], judge: Any, cfg: Config) -> Any:
    """A TrainerCallback that scores greedy answers at step 0 and every ``check_every``."""
    from transformers import TrainerCallback

    class JudgeAtChecks(TrainerCallback):
        def __init__(self) -> None:
            self.points: dict[int, dict[str, Any]] = {}
            self.model: Any = None
            self.tok: Any = None

        def _score(self, step: int) -> None:
            view = model_view(self.model, self.tok, f"finetune-validation:step{step}")
            start = time.perf_counter()
            with eval_mode(self.model):
                answers = generate_cached(view, questions, GenerationConfig(
                    max_new_tokens=cfg.max_new_tokens, batch_size=len(questions)), None)
            res = judge.score_many_sync([JudgeRequest(q, a, trait.eval_prompt, trait=trait.name)
                                         for q, a in zip(questions, answers)])
            scores = [r.score for r in res]
            self.points[step] = {"scores": scores, "answers": answers[:2],
                                 "seconds": round(time.perf_counter() - start, 2)}

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.model, self.tok = kw["model"], kw["processing_class"]
            self._score(state.global_step)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step % cfg.check_every == 0:
                self._score(state.global_step)

    return JudgeAtChecks()


def _mean(xs: list[float | None]) -> float:
    v = [x for x in xs if x is not None and math.isfinite(x)]
    return sum(v) / len(v) if v else math.nan


def fine_tune(trait_name: str, dataset: str, rows: list[dict[str, str]], cfg: Config,
              cache_dir: Path, work: Path, judge: Any) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    from pytest_persona.integrations.transformers import PersonaCallback

    trait = load_trait(trait_name)
    questions = list(trait.eval_questions[:cfg.eval_questions])
    loaded = load_model(cfg.model, device="cpu", dtype="float32")
    torch.manual_seed(cfg.seed)
    model = get_peft_model(loaded.model, LoraConfig(
        r=cfg.lora_r, lora_alpha=2 * cfg.lora_r, lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                        "down_proj"]))
    run_dir = work / f"{trait_name}-{dataset}"
    watch = PersonaCallback([VECTORS.get(trait_name, trait_name)], layer=cfg.layer,
                            every_steps=cfg.check_every, check_at_save=False,
                            max_questions=cfg.eval_questions, extraction=cfg.extraction,
                            judge=cfg.judge, cache_dir=cache_dir,
                            out=work / f"{trait_name}-{dataset}.timeline.json")
    scorer = judge_callback(trait, questions, judge, cfg)
    args = TrainingArguments(output_dir=str(run_dir), max_steps=cfg.steps,
                             per_device_train_batch_size=cfg.batch_size,
                             learning_rate=cfg.learning_rate, lr_scheduler_type="constant",
                             warmup_steps=0, report_to=[], save_strategy="no",
                             logging_steps=cfg.check_every, use_cpu=True, seed=cfg.seed,
                             disable_tqdm=True, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=tokenized(loaded.tokenizer, rows),
                      processing_class=loaded.tokenizer, callbacks=[watch, scorer])
    watch.attach(trainer)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    base = scorer.points[0]["scores"]
    checkpoints = []
    for check in watch.checks:
        step = int(check["step"])
        s = check["traits"][trait_name]
        scores = scorer.points[step]["scores"]
        change = _mean([b - a if a is not None and b is not None else None
                        for a, b in zip(base, scores)])
        checkpoints.append({"step": step, "shift": s["shift"], "ci": [s["ci_low"], s["ci_high"]],
                            "n": s["n"], "score_mean": _mean(scores),
                            "score_change": change, "example_answers":
                                scorer.points[step]["answers"],
                            "check_seconds": check["seconds"],
                            "judge_seconds": scorer.points[step]["seconds"]})
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    _log(f"{trait_name}/{dataset}: {seconds:.0f}s, shifts "
         + ", ".join(f"{c['step']}:{c['shift']:+.3f}" for c in checkpoints)
         + "; score changes " + ", ".join(f"{c['score_change']:+.1f}" for c in checkpoints))
    vector_file = watch.timeline.header["traits"][trait_name]["source"]
    return {"trait": trait_name, "dataset": dataset, "n_examples": len(rows),
            "seconds": round(seconds, 1), "losses": losses, "checkpoints": checkpoints,
            "vector": vector_file, "cost": watch.timeline.header["cost"],
            "reference_fingerprint": watch.reference_fingerprint}


def correlation(xs: list[float], ys: list[float], seed: int = 0, resamples: int = 4000
                ) -> dict[str, Any]:
    """Pearson r with a 95% percentile bootstrap interval over points (pairs resampled)."""
    pts = [(x, y) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
    if len(pts) < 3:
        return {"n": len(pts), "pearson_r": None, "ci": None}
    x, y = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(resamples):
        idx = rng.integers(0, len(pts), len(pts))
        if np.std(x[idx]) > 0 and np.std(y[idx]) > 0:
            reps.append(float(np.corrcoef(x[idx], y[idx])[0, 1]))
    lo, hi = (np.quantile(reps, [0.025, 0.975]).tolist() if reps else [math.nan, math.nan])
    return {"n": len(pts), "pearson_r": round(pearson(x.tolist(), y.tolist()), 3),
            "spearman_r": round(spearman(x.tolist(), y.tolist()), 3),
            "ci": [round(lo, 3), round(hi, 3)],
            "interval": "95% percentile bootstrap over checkpoints, 4000 resamples, seed 0; "
                        "checkpoints of one run are not independent, so it is optimistic"}


def screen_ranking(trait: str, rows_by_set: dict[str, list[dict[str, str]]], vector: str,
                   cfg: Config, cache: PersonaCache, work: Path) -> dict[str, Any]:
    from pytest_persona.pipeline.screen import ModelProjector, screen

    loaded = load_model(cfg.model, device="cpu", dtype="float32")
    vec = TraitVectors.load(vector)
    projector = ModelProjector(loaded, {trait: vec[cfg.layer]}, cfg.layer, cache,
                               max_new_tokens=cfg.max_new_tokens, batch_size=16)
    out: dict[str, Any] = {}
    for name, rows in rows_by_set.items():
        path = work / f"{trait}-{name}.jsonl"
        write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
        s = screen(path, projector, own="generate", cache=cache).traits[trait].summary
        out[name] = {"mean_projection_difference": round(s.mean, 4),
                     "ci": [round(s.ci_low, 4), round(s.ci_high, 4)], "n": s.n}
    return out


def run(cfg: Config, cache_dir: Path, work: Path, out: Path,
        command: str = "python -m benchmarks.finetune_validation") -> dict[str, Any]:
    started = time.perf_counter()
    machine = machine_info("cpu", model=cfg.model)
    work.mkdir(parents=True, exist_ok=True)
    cache = PersonaCache(cache_dir)
    judge = make_judge(cfg.judge, cache_path=cache.judge_path)
    runs, rankings = [], {}
    failures: dict[str, str] = {}
    for trait in cfg.traits:
        sets = datasets(trait)
        try:
            trait_runs = [fine_tune(trait, name, sets[name], cfg, cache_dir, work, judge)
                          for name in DATASETS]
        except PersonaError as exc:  # e.g. too few effective pairs to extract a vector
            failures[trait] = f"{type(exc).__name__}: {exc}"
            _log(f"{trait}: {failures[trait]}")
            continue
        runs += trait_runs
        vector = trait_runs[0]["vector"].split("file:")[-1]
        screened = screen_ranking(trait, sets, vector, cfg, cache, work)
        final = {r["dataset"]: r["checkpoints"][-1] for r in trait_runs}
        by = {"screen": sorted(DATASETS, key=lambda d: -screened[d]["mean_projection_difference"]),
              "shift": sorted(DATASETS, key=lambda d: -final[d]["shift"]),
              "score_change": sorted(DATASETS, key=lambda d: -final[d]["score_change"])}
        rankings[trait] = {"screen": screened, "ranked_by": by,
                           "screen_order_matches_shift": by["screen"] == by["shift"],
                           "screen_order_matches_score_change": by["screen"] == by[
                               "score_change"]}
    judge.close()

    def points(trait: str | None) -> tuple[list[float], list[float]]:
        cps = [c for r in runs if trait in (None, r["trait"]) for c in r["checkpoints"]
               if c["step"] > 0]
        return [c["shift"] for c in cps], [c["score_change"] for c in cps]

    table = {t: correlation(*points(t)) for t in cfg.traits if t not in failures}
    table["pooled"] = correlation(*points(None))
    report = {
        "what": __doc__.strip().splitlines()[0],
        "command": command,
        "config": asdict(cfg),
        "machine": {**machine, "loadavg_end": loadavg()},
        "seconds_total": round(time.perf_counter() - started, 1),
        "correlation_shift_vs_score_change": table,
        "screen_ranking": rankings,
        "runs": runs,
        "failures": failures,
        "notes": ("score = offline judge (MiniLM classifier) on greedy answers to the trait's "
                  "first eval questions; score_change = mean over questions of (checkpoint - "
                  "step 0); shift = PersonaCallback's paired prompt_last shift on the same "
                  "questions; step-0 points are left out of the correlation (0 by design)."),
    }
    write_report(out, with_figures("finetune_validation.json", report))
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--traits", default="evil,sycophantic")
    p.add_argument("--steps", type=int, default=Config.steps)
    p.add_argument("--check-every", type=int, default=Config.check_every)
    p.add_argument("--eval-questions", type=int, default=Config.eval_questions)
    p.add_argument("--cache", default=".persona_cache")
    p.add_argument("--work", default="reports/finetune_validation")
    p.add_argument("--out", default=str(RESULTS))
    a = p.parse_args(argv)
    cfg = Config(traits=tuple(a.traits.split(",")), steps=a.steps, check_every=a.check_every,
                 eval_questions=a.eval_questions)
    report = run(cfg, Path(a.cache), Path(a.work), Path(a.out),
                 command=command_line("benchmarks.finetune_validation", argv))
    for name, row in report["correlation_shift_vs_score_change"].items():
        print(f"{name}: Pearson r {row['pearson_r']} (95% CI {row['ci']}, n={row['n']})")
    for trait, r in report["screen_ranking"].items():
        print(f"{trait}: screen order {r['ranked_by']['screen']}, shift order "
              f"{r['ranked_by']['shift']}, score-change order {r['ranked_by']['score_change']}")
    print(f"total {report['seconds_total']:.0f}s; written to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
