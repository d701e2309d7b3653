"""Relative dose, steering damage and judge agreement on the embedded SmolLM2-135M (slow, CPU).

    python -m benchmarks.dose_damage [--cache .persona_cache] [--out benchmarks/results]

For each demo suite (trait_suites/{sycophantic,evil,hallucinating}.yaml, profile smollm2-135m):
extracts the trait vector as the suite does (offline judge), measures the dose scale at the
suite's layer over its evaluation questions, and writes the demo's coefficients as doses. Then
the mean KL(steered || unsteered) of next-token distributions over the shipped benign set (56
prompts, teacher-forced on their reference continuations, positions as in the suite) at a
range of coefficients, with 95% bootstrap intervals over prompts. Finally the offline judge's
agreement (AUC, stratified bootstrap 95% CI) with the three shipped labelled sets.

Writes ``dose_damage.json`` and ``judge_agreement.json`` under ``--out``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import command_line, loadavg, machine_info, write_report
from benchmarks.figures import with_figures

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m"
TRAITS = ("sycophantic", "evil", "hallucinating")
KL_COEFFS = (-16.0, -8.0, -4.0, -2.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
FULL_TRAIT = "sycophantic"  # the full KL table; the others at the demo's coefficients and +16


def _session(cache: Path) -> Any:
    from pytest_persona.suites.session import PersonaOptions, PersonaSession

    return PersonaSession(PersonaOptions(model=MODEL, judge="offline", cache_dir=cache,
                                         trait_paths=(ROOT / "trait_suites",)))


def dose_and_damage(cache: Path, coeffs: tuple[float, ...]) -> dict[str, Any]:
    from pytest_persona.pipeline.damage import load_benign, steering_kl, summarize_kl
    from pytest_persona.suites.schema import load_suite

    ps = _session(cache)
    benign = load_benign()
    out: dict[str, Any] = {"model": MODEL, "benign_set": Path(benign.source).name,
                           "n_prompts": len(benign.prompts), "traits": {}}
    for name in TRAITS:
        suite = load_suite(ROOT / "trait_suites" / f"{name}.yaml", MODEL)
        rs = suite.for_model(MODEL)
        trait = ps.trait(suite.trait_file or suite.trait)
        started = time.perf_counter()
        vec = ps.vectors(trait, suite.extraction).vectors.array(rs.layer)
        extract_s = time.perf_counter() - started
        rs = ps.dosed(rs, trait)
        scale = rs.dose_scale
        assert scale is not None
        rows = []
        started = time.perf_counter()
        todo = coeffs if name == FULL_TRAIT else sorted({*rs.coefficients, 16.0})
        for c in todo:
            values = steering_kl(ps.model, vec, rs.layer, rs.positions, c, benign, ps.cache)
            s = summarize_kl(c, values, scale.dose(c))
            rows.append({k: (round(v, 6) if isinstance(v, float) else v)
                         for k, v in s.to_row().items() if k != "ci"}
                        | {"ci": [round(s.ci_low, 6), round(s.ci_high, 6)]})
            print(f"{name} coeff {c:+g} (dose {scale.dose(c):.3f}): KL {s.kl:.4f} "
                  f"[{s.ci_low:.4f}, {s.ci_high:.4f}] n={s.n}", flush=True)
        out["traits"][name] = {
            "layer": rs.layer, "positions": rs.positions,
            "demo_coefficients": list(rs.coefficients),
            "demo_doses": [round(scale.dose(c), 4) for c in rs.coefficients],
            "vector_norm": round(scale.vector_norm, 4), "mean_norm": round(scale.mean_norm, 4),
            "n_tokens": scale.n_tokens, "n_questions": len(ps.eval_questions(rs, trait)),
            "kl": rows, "extract_s": round(extract_s, 1),
            "kl_s": round(time.perf_counter() - started, 1)}
    ps.close()
    out["procedure"] = {
        "dose": "|coeff| * ||v|| / mean L2 norm of block-layer outputs over every token but "
                "the first (the attention sink) of the suite's evaluation questions (chat "
                "template, unsteered)",
        "kl": "per prompt: mean over the reference continuation's predicting positions of "
              "KL(steered || unsteered) of next-token distributions in nats; figure: mean "
              "over prompts, 95% percentile bootstrap over prompts (2000 resamples, seed 0)",
        "vector": "extracted as the demo suite does (offline judge), at the suite's layer"}
    return out


def judge_agreement() -> dict[str, Any]:
    from pytest_persona.judges import make_judge
    from pytest_persona.judges.agreement import builtin_labels, load_labels, measure
    from pytest_persona.traits.loader import load_trait

    judge = make_judge("offline")
    rows = {}
    for name in TRAITS:
        labelled = load_labels(builtin_labels(name))
        a = measure(judge, labelled, load_trait(name).eval_prompt, name)
        rows[name] = {"auc": round(a.value, 4), "ci": [round(a.ci_low, 4), round(a.ci_high, 4)],
                      "n": a.n, "n_positive": a.n_positive, "missing": a.missing,
                      "file": f"pytest_persona/data/judge_labels/{name}.jsonl"}
        print(f"offline judge on {name}: AUC {a.value:.3f} [{a.ci_low:.3f}, {a.ci_high:.3f}] "
              f"n={a.n}", flush=True)
    judge.close()
    return {"judge": "offline:minilm-v1", "sets": rows,
            "procedure": "AUC (Mann-Whitney, ties 1/2) of the judge's trait score against the "
                         "0/1 labels; 95% CI: stratified percentile bootstrap (positives and "
                         "negatives resampled apart), 2000 resamples, seed 0"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default=".persona_cache")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--only", choices=("dose", "agreement"), default=None)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = machine_info("cpu", dtype="float32", model=MODEL)
    command = command_line("benchmarks.dose_damage", argv)
    if args.only in (None, "agreement"):
        measured = judge_agreement()
        meta = {"machine": {**machine, "loadavg_end": loadavg()}, "command": command}
        write_report(out / "judge_agreement.json",
                     with_figures("judge_agreement.json", {**meta, **measured}))
    if args.only in (None, "dose"):
        measured = dose_and_damage(Path(args.cache).resolve(), KL_COEFFS)
        meta = {"machine": {**machine, "loadavg_end": loadavg()}, "command": command}
        write_report(out / "dose_damage.json", with_figures("dose_damage.json",
                                                            {**meta, **measured}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
