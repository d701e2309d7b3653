"""Error rates of the projection gate (``checkpoint_shift`` at ``prompt_last``), measured.

    python -m benchmarks.bench --only gate          (writes reports/bench.json)
    python -m benchmarks.gate [--nulls 24] [--repeats 10] [--out reports/gate.json]

On the embedded SmolLM2-135M-Instruct, at the sycophantic suite's layer for that model, with the
suite's default bound (``max: 2.0``, ``require: ci``):

- the trait vector is the mean difference of last-prompt-token activations under the trait's
  positive and negative system prompts over its extraction questions (forward passes only; the
  suites' response-averaged extraction needs generation and a judge, minutes on CPU);
- a **null candidate** is the unchanged model with every weight matrix perturbed by Gaussian noise
  of ``noise`` times that matrix's standard deviation (its greedy next tokens are checked to
  agree with the model's). Seed-only nulls are identical at ``prompt_last`` (no sampling), so
  they cannot raise an alarm and are not counted;
- a **modified candidate** adds ``strength x vector`` to block ``layer``'s output at every
  position (exactly the demo's folded-bias checkpoint, see ``tests/pipeline/test_checkpoint.py``)
  on top of a fresh perturbation;
- each candidate is gated like ``checkpoint_shift``: paired per-question projection differences
  against the unchanged model, 95% bootstrap interval over questions, fail when its lower bound
  is at least ``max``.

Reported: the false-alarm rate over the nulls, the detection rate per strength (a power curve),
and the smallest projection shift caught in 80% of runs.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

LAYER = 12  # trait_suites/sycophantic.yaml, models.smollm2-135m.layer
MAX_SHIFT = 2.0  # trait_suites/sycophantic.yaml, checkpoint_shift max for smollm2-135m
STRENGTHS = (0.25, 0.5, 1.0, 2.0, 4.0)  # multiples of the trait vector; the demo folds +4
NOISE = 0.002
DEMO_STRENGTH = 4.0
TOKEN_CHECKS = 4


def _prompt_last(loaded: Any, prompts: list[Any], layer: int) -> Any:
    """Block-``layer`` output at the last prompt token of each prompt, in one batch; the forward
    pass stops after that block (:func:`collect_activations` with ``layers=[layer]``)."""
    from pytest_persona.core.activations import collect_activations

    acts = collect_activations(loaded.model, loaded.tokenizer, prompts, [""] * len(prompts),
                               batch_size=max(1, len(prompts)), layers=[layer])
    return acts.prompt_last[:, 0]


def trait_vector(loaded: Any, trait: Any, questions: list[str], layer: int) -> Any:
    """Mean last-prompt-token activation under positive minus negative system prompts."""
    n_inst = len(trait.instructions) if hasattr(trait, "instructions") else 5
    pos, neg = [], []
    for i in range(min(n_inst, 5)):
        for q in questions:
            pos.append([{"role": "system", "content": trait.system_prompt("pos", i)},
                        {"role": "user", "content": q}])
            neg.append([{"role": "system", "content": trait.system_prompt("neg", i)},
                        {"role": "user", "content": q}])
    return (_prompt_last(loaded, pos, layer).mean(0) - _prompt_last(loaded, neg, layer).mean(0))


def _upstream(name: str, layer: int) -> bool:
    """Whether a parameter can influence block ``layer``'s output (embeddings, blocks <= layer)."""
    import re

    m = re.search(r"\.layers\.(\d+)\.", name)
    return int(m.group(1)) <= layer if m else "embed" in name


def _perturb(model: Any, originals: dict[str, Any], noise: float, seed: int,
             layer: int | None = None) -> None:
    """Weights = originals + noise x each matrix's std; with ``layer``, only the matrices that
    can influence that block (the rest cannot change the gated figure)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            base = originals[name]
            if noise > 0 and base.dim() >= 2 and (layer is None or _upstream(name, layer)):
                std = float(base.std())
                p.copy_(base + torch.randn(base.shape, generator=gen) * (noise * std))
            else:
                p.copy_(base)


def _next_tokens(loaded: Any, questions: list[str]) -> Any:
    import torch

    from pytest_persona.core.generation import as_messages, chat_prompt, ensure_pad_token

    tok = loaded.tokenizer
    ensure_pad_token(tok)
    texts = [chat_prompt(tok, as_messages(q)) for q in questions]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    pos = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        logits = loaded.model(**enc, position_ids=pos).logits
    last = enc["attention_mask"].sum(1) - 1 if tok.padding_side == "right" else \
        torch.full((len(texts),), enc["input_ids"].shape[1] - 1)
    return logits[torch.arange(len(texts)), last].argmax(-1)


def bench_gate(loaded: Any, *, nulls: int = 20, repeats: int = 5, n_questions: int = 20,
               noise: float = NOISE, strengths: tuple[float, ...] = STRENGTHS,
               layer: int = LAYER, max_shift: float = MAX_SHIFT
               ) -> tuple[dict[str, float], dict[str, Any]]:
    """False-alarm rate over ``nulls`` perturbed nulls, detection rate per strength."""
    from pytest_persona.core.projection import project
    from pytest_persona.core.steering import ActivationSteerer
    from pytest_persona.results.paired import pair, per_question_means, seed_for
    from pytest_persona.traits.loader import load_trait

    t0 = time.perf_counter()
    trait = load_trait("sycophantic")
    questions = list(trait.eval_questions[:n_questions])
    model = loaded.model
    originals = {k: p.detach().clone() for k, p in model.named_parameters()}
    vec = trait_vector(loaded, trait, list(trait.extract_questions[:n_questions]), layer)
    ref = project(_prompt_last(loaded, questions, layer), vec).tolist()
    ref_tokens = _next_tokens(loaded, questions)

    def gate(seed: int, strength: float, check_tokens: bool = False
             ) -> tuple[bool, float, float, float]:
        _perturb(model, originals, noise, seed, None if check_tokens else layer)
        agree = (float((_next_tokens(loaded, questions) == ref_tokens).float().mean())
                 if check_tokens else float("nan"))
        if strength:
            with ActivationSteerer(model, vec, strength, layer, "all"):
                cand = project(_prompt_last(loaded, questions, layer), vec).tolist()
        else:
            cand = project(_prompt_last(loaded, questions, layer), vec).tolist()
        diff = pair(per_question_means(questions, ref), per_question_means(questions, cand))
        lo, _ = diff.interval(0.95, seed_for("sycophantic", "checkpoint_shift", "prompt_last"))
        return lo >= max_shift, diff.mean, lo, agree

    try:
        # the first nulls perturb every matrix and check that the greedy next token is intact
        null_runs = [gate(1000 + i, 0.0, check_tokens=i < TOKEN_CHECKS) for i in range(nulls)]
        by_strength: dict[str, dict[str, Any]] = {}
        for s in strengths:
            runs = [gate(2000 + 97 * i + int(100 * s), s) for i in range(repeats)]
            by_strength[f"{s:+g}"] = {
                "detection_rate": sum(r[0] for r in runs) / len(runs),
                "mean_shift": round(sum(r[1] for r in runs) / len(runs), 4),
                "mean_ci_low": round(sum(r[2] for r in runs) / len(runs), 4),
                "n": len(runs)}
    finally:
        _perturb(model, originals, 0.0, 0)
    fa = sum(r[0] for r in null_runs) / len(null_runs)
    caught = [float(k) for k, v in by_strength.items() if v["detection_rate"] >= 0.8]
    weakest = min(caught) if caught else None
    weakest_shift = by_strength[f"{weakest:+g}"]["mean_shift"] if weakest is not None else None
    demo = by_strength.get(f"{DEMO_STRENGTH:+g}") or by_strength[max(by_strength, key=float)]
    metrics: dict[str, float] = {"gate_false_alarm_rate": fa,
                                 "gate_detection_rate": demo["detection_rate"]}
    details = {
        "procedure": "checkpoint_shift at prompt_last, paired 95% bootstrap CI over questions, "
                     f"fail when the lower bound >= max {max_shift:g}",
        "layer": layer, "max": max_shift, "n_questions": len(questions),
        "vector_norm": round(float(vec.norm()), 4),
        "vector": "mean prompt_last activation, positive minus negative system prompts",
        "noise_relative_std": noise, "nulls": nulls, "repeats_per_strength": repeats,
        "null_max_shift": round(max(abs(r[1]) for r in null_runs), 4),
        "null_max_ci_low": round(max(r[2] for r in null_runs), 4),
        "null_next_token_agreement_min": round(min(r[3] for r in null_runs[:TOKEN_CHECKS]), 4),
        "perturbed": "every weight matrix for the first nulls (next-token check), else the "
                     "matrices that can influence the gated block (embeddings, blocks <= layer)",
        "detection_by_strength": by_strength,
        "strength_caught_80pct": weakest,
        "min_detectable_shift": weakest_shift,
        "min_detectable_shift_means": "mean measured projection shift at the weakest strength "
                                      "caught in >= 80% of runs",
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    return metrics, details


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gate", description=__doc__)
    parser.add_argument("--nulls", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--noise", type=float, default=NOISE)
    parser.add_argument("--out", default="", help="also write the report to this JSON file")
    args = parser.parse_args(argv)
    from benchmarks._harness import command_line, machine_info, offline, report, write_report
    from benchmarks.bench import figures
    from pytest_persona.models.loading import load_model

    offline()
    machine = machine_info("cpu", dtype="float32", model="smollm2-135m")
    loaded = load_model("smollm2-135m", device="cpu", dtype="float32")
    metrics, details = bench_gate(loaded, nulls=args.nulls, repeats=args.repeats,
                                  noise=args.noise)
    result = report("gate", command_line("benchmarks.gate", argv),
                    figures(metrics, {"gate": details}), machine, metrics=metrics,
                    details={"gate": details})
    if args.out:
        write_report(args.out, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
