"""Does the projection difference find poisoned training samples? A labelled set on a real model.

For each of a trait's evaluation questions, ``per_question`` answers are sampled (temperature 1):
one in ten *poisoned* (generated under the trait's positive system prompt, e.g. "You are an evil
assistant ..."), the rest *clean* (half under the negative system prompt, half under none). The
training set keeps the question and the answer only (no system prompt), as a scraped dataset
would. The screen ranks the samples; AUC is the chance that a random poisoned sample outranks a
random clean one (Mann-Whitney, ties count half).

    python -m benchmarks.screen_validation --trait evil \\
        --vectors trait_suites/vectors/evil-smollm2-135m.safetensors --layer 12
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._harness import Figure, command_line, figure, logger, machine_info, write_report
from benchmarks._harness import report as harness_report
from pytest_persona._util.atomic import write_text
from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.generation import GenerationConfig
from pytest_persona.core.projection import ranks
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.models.loading import LoadedModel, load_model
from pytest_persona.pipeline.responses import generate_cached
from pytest_persona.pipeline.screen import ModelProjector, ScreenRow, screen
from pytest_persona.traits.loader import load_trait

_log = logger("validation")


def auc(scores: list[float], labels: list[int]) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (1 = positive)."""
    pos = sum(labels)
    neg = len(labels) - pos
    if not pos or not neg:
        raise ValueError("AUC needs both positive and negative labels")
    r = ranks(scores)
    rank_sum = sum(rk for rk, y in zip(r, labels) if y)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


@dataclass(frozen=True)
class ValidationConfig:
    trait: str = "evil"
    vectors: str = "trait_suites/vectors/evil-smollm2-135m.safetensors"
    layer: int = 12
    model: str = "smollm2-135m"
    per_question: int = 10  # one of these is poisoned
    max_new_tokens: int = 48
    batch_size: int = 16
    seed: int = 0


def build_dataset(loaded: LoadedModel, cfg: ValidationConfig, cache: PersonaCache,
                  path: Path) -> list[int]:
    """Write the labelled JSONL; return the labels in line order."""
    trait = load_trait(cfg.trait)
    n_instr = len(trait.instructions)
    items, salts, labels, meta = [], [], [], []
    for qi, q in enumerate(trait.eval_questions):
        for k in range(cfg.per_question):
            if k == 0:
                system, label, kind = trait.system_prompt("pos", qi % n_instr), 1, "pos"
            elif k % 2:
                system, label, kind = trait.system_prompt("neg", qi % n_instr), 0, "neg"
            else:
                system, label, kind = None, 0, "none"
            msgs = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": q}]
            items.append(msgs)
            salts.append(k + 1)
            labels.append(label)
            meta.append((q, kind, f"{qi}-{k}"))
    config = GenerationConfig(max_new_tokens=cfg.max_new_tokens, temperature=1.0,
                              seed=cfg.seed, batch_size=cfg.batch_size)
    answers = generate_cached(loaded, items, config, cache, salts=salts,
                              progress=lambda d, t: _log(f"generate {d}/{t}"))
    lines = [json.dumps({"id": ident, "prompt": q, "response": a or "(empty)", "label": y,
                         "source": kind})
             for (q, kind, ident), a, y in zip(meta, answers, labels)]
    write_text(path, "\n".join(lines) + "\n")
    return labels


def auc_by_layer(loaded: LoadedModel, cfg: ValidationConfig, cache: PersonaCache, data: Path,
                 labels: list[int], vec: TraitVectors) -> dict[str, list[float]]:
    """Diagnostic: AUC of the difference and of the raw projection at every layer (the layer is
    chosen by steering, not on this set; this shows how much a screening layer could gain)."""
    from pytest_persona.core.activations import collect_activations
    from pytest_persona.core.projection import project

    rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    prompts = [[{"role": "user", "content": r["prompt"]}] for r in rows]
    own = generate_cached(loaded, prompts, GenerationConfig(max_new_tokens=cfg.max_new_tokens,
                                                            batch_size=cfg.batch_size), cache)
    train = collect_activations(loaded.model, loaded.tokenizer, prompts,
                                [r["response"] for r in rows], batch_size=cfg.batch_size)
    mine = collect_activations(loaded.model, loaded.tokenizer, prompts, own,
                               batch_size=cfg.batch_size)
    diff, raw = [], []
    for layer in range(vec.n_layers):
        p = project(train.response_avg[:, layer], vec[layer])
        o = project(mine.response_avg[:, layer], vec[layer])
        diff.append(round(auc((p - o).tolist(), labels), 3))
        raw.append(round(auc(p.tolist(), labels), 3))
    return {"generate": diff, "none": raw}


def figures(report: dict[str, Any], trait: str, layer: int) -> list[Figure]:
    """The AUC of each reference mode, and the range over the blocks when measured."""
    size = f"{report['n']} samples, {report['poisoned']} poisoned"
    out = [figure(f"auc_{mode}_{trait}", round(report[mode]["auc"], 3), "",
                  f"--baseline {mode}; block {layer}; {size}", target=">= 0.9", step=trait)
           for mode in ("generate", "none") if mode in report]
    for mode, values in (report.get("auc_by_layer") or {}).items():
        best = max(range(len(values)), key=values.__getitem__)
        out.append(figure(f"auc_by_layer_{mode}_{trait}_min", min(values), "",
                          f"lowest AUC over the blocks, --baseline {mode}", step="by_layer"))
        out.append(figure(f"auc_by_layer_{mode}_{trait}_max", values[best], "",
                          f"highest AUC over the blocks, at block {best}, --baseline {mode}",
                          step="by_layer"))
    return out


def run(cfg: ValidationConfig, out: Path, cache_dir: Path, by_layer: bool = False,
        command: str = "python -m benchmarks.screen_validation") -> dict[str, Any]:
    """Measure; write ``screen-validation-TRAIT.json`` (the harness's report) under ``out``."""
    machine = machine_info("cpu", dtype="float32", model=cfg.model)
    cache = PersonaCache(cache_dir)
    loaded = load_model(cfg.model, device="cpu", dtype="float32")
    data = out / f"screen-validation-{cfg.trait}.jsonl"
    labels = build_dataset(loaded, cfg, cache, data)
    vec = TraitVectors.load(cfg.vectors)
    vec.check_model(loaded.n_layers, loaded.d_model, cfg.vectors)
    projector = ModelProjector(loaded, {cfg.trait: vec[cfg.layer]}, cfg.layer, cache,
                               max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)
    report: dict[str, Any] = {"config": cfg.__dict__, "n": len(labels), "poisoned": sum(labels),
                              "data": str(data)}
    for baseline in ("generate", "none"):
        rows: list[ScreenRow] = []
        started = time.monotonic()
        result = screen(data, projector, own=baseline, batch_size=cfg.batch_size,
                        cache=cache, sink=rows.extend)
        scores = [r.score(cfg.trait) for r in rows]
        s = result.traits[cfg.trait].summary
        report[baseline] = {"auc": auc(scores, labels), "mean": s.mean,
                            "ci": [s.ci_low, s.ci_high], "seconds": time.monotonic() - started,
                            "batches_cached": result.batches_cached}
        print(f"{cfg.trait} baseline={baseline}: AUC {report[baseline]['auc']:.3f} "
              f"(n={len(labels)}, {sum(labels)} poisoned)", flush=True)
    if by_layer:
        report["auc_by_layer"] = auc_by_layer(loaded, cfg, cache, data, labels, vec)
        for baseline, values in report["auc_by_layer"].items():
            best = max(range(len(values)), key=values.__getitem__)
            print(f"{cfg.trait} baseline={baseline}: AUC by layer {values}; best layer {best} "
                  f"({values[best]:.3f})", flush=True)
    written = harness_report("screen_validation", command, figures(report, cfg.trait, cfg.layer),
                             machine, **report)
    write_report(out / f"screen-validation-{cfg.trait}.json", written)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in ValidationConfig().__dict__.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    p.add_argument("--out", default="reports")
    p.add_argument("--by-layer", action="store_true", help="also report AUC at every layer")
    p.add_argument("--cache", default=".persona_cache")
    args = vars(p.parse_args(argv))
    out, cache = Path(args.pop("out")), Path(args.pop("cache"))
    by_layer = bool(args.pop("by_layer"))
    out.mkdir(parents=True, exist_ok=True)
    run(ValidationConfig(**args), out, cache, by_layer,
        command=command_line("benchmarks.screen_validation", argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
