"""``vllm_speedup``: steered sweep tokens/s of the vllm engine over the hf engine, same model,
prompts, coefficients and greedy tokens, one process, on CPU.

    .venv-vllm/bin/python -m benchmarks.vllm_speedup [--quick] [--out FILE]

The sweep is the bench's: 6 coefficients x 20 questions x 64 greedy tokens, a fixed seeded
random vector of norm 8 at layer 12, positions ``response``, every coefficient in one batch
(per-row coefficients). hf runs first at the project's automatic batch size; vllm then runs
the same rows after its engine has started (start-up and the batch-invariance self-check are
timed apart, not in the ratio). Both stop at EOS, so each side's token count is in the JSON
and the ratio is of tokens per second. ``make bench`` runs this in .venv-vllm.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import sys
import time
from typing import Any

from benchmarks._harness import command_line, machine_info, offline, report, write_report

MODEL = "smollm2-135m"
LAYER = 12


def measure(quick: bool = False) -> dict[str, Any]:
    """Both engines on the same steered sweep; returns the figure and its details."""
    import numpy as np

    from benchmarks.bench import Bench
    from pytest_persona.core.requests import STATS, GenerationConfig, Steering, as_messages
    from pytest_persona.engines import HFEngine
    from pytest_persona.engines.vllm import VLLMEngine
    from pytest_persona.models.loading import LazyLoadedModel

    bench = Bench(quick)
    questions, coeffs, new = bench.sweep_sizes()
    loaded = LazyLoadedModel(MODEL, device="cpu", dtype="float32")
    vector = np.asarray(bench.vector().numpy(), dtype=np.float32)
    steering = Steering(vector, LAYER, "response")
    items = [as_messages(q) for _ in coeffs for q in questions]
    row_coeffs = [float(c) for c in coeffs for _ in questions]
    seeds = [0] * len(items)
    config = GenerationConfig(max_new_tokens=new, temperature=0.0)
    sides: dict[str, dict[str, Any]] = {}
    texts: dict[str, list[str]] = {}
    hf = HFEngine()
    _ = loaded.model  # load outside the timing
    engines: list[tuple[str, Any]] = [("hf", hf), ("vllm", VLLMEngine(dtype="float32"))]
    for name, engine in engines:
        start_s = 0.0
        if name == "vllm":
            t0 = time.perf_counter()
            engine.generate(loaded, items[:1], config, steering=None, coeffs=None, seeds=[0])
            start_s = time.perf_counter() - t0
        before = STATS.generated_tokens
        t0 = time.perf_counter()
        texts[name] = engine.generate(loaded, items, config, steering=steering,
                                      coeffs=row_coeffs, seeds=seeds)
        wall = time.perf_counter() - t0
        tokens = STATS.generated_tokens - before
        sides[name] = {"wall_s": round(wall, 3), "generated_tokens": tokens,
                       "tokens_per_s": round(tokens / wall, 2), "start_s": round(start_s, 2)}
        if name == "vllm":
            sides[name]["batch_invariance"] = engine.describe()["batch_invariance"]
    equal = sum(a == b for a, b in zip(texts["hf"], texts["vllm"]))
    ratio = sides["vllm"]["tokens_per_s"] / sides["hf"]["tokens_per_s"]
    return {"vllm_speedup": round(ratio, 3), "details": {
        "definition": "vllm tokens/s / hf tokens/s on the same steered greedy sweep (rows = "
                      "questions x coefficients, one batch of per-row coefficients)",
        "rows": len(items), "questions": len(questions), "coefficients": [float(c) for c in coeffs],
        "max_new_tokens": new, "layer": LAYER, "positions": "response",
        "texts_equal": equal, "hf": sides["hf"], "vllm": sides["vllm"],
        "torch_threads": __import__("torch").get_num_threads(), "quick": quick}}


def to_report(measured: dict[str, Any], machine: dict[str, Any] | None = None,
              command: str = "python -m benchmarks.vllm_speedup") -> dict[str, Any]:
    """The harness's report (figures, plus ``metrics`` and ``details`` that ``make bench``
    reads from this child), which the docs render."""
    check_info = measured["details"]["vllm"].get("batch_invariance")
    machine = {**(machine or machine_info("cpu", dtype="float32", model=MODEL)),
               "vllm": check_info["fingerprint"]["vllm"] if check_info else None}
    d = measured["details"]
    rows = f"{d['rows']} rows x {d['max_new_tokens']} greedy tokens, steered at block {d['layer']}"
    check = d["vllm"].get("batch_invariance") or {}
    figures = [
        {"name": "vllm_speedup", "value": measured["vllm_speedup"], "unit": "x",
         "target": ">= 2", "what": f"vllm tokens/s over hf tokens/s ({rows})", "step": None},
        {"name": "hf_steered_tokens_per_s", "value": d["hf"]["tokens_per_s"], "unit": "tok/s",
         "target": None, "what": f"hf engine, automatic batch size ({rows})", "step": None},
        {"name": "vllm_steered_tokens_per_s", "value": d["vllm"]["tokens_per_s"],
         "unit": "tok/s", "target": None, "what": f"vllm engine, eager, one call ({rows})",
         "step": None},
        {"name": "vllm_start_s", "value": d["vllm"]["start_s"], "unit": "s", "target": None,
         "what": "engine start, self-check and one row (not in the ratio)", "step": None},
        {"name": "texts_equal", "value": d["texts_equal"], "unit": f"of {d['rows']}",
         "target": None, "what": "rows whose vllm text equals the hf text", "step": None},
        {"name": "batch_invariance_equal", "value": check.get("equal"), "unit": "",
         "target": None, "what": f"self-check (batch 1 vs {check.get('batch')}): "
                                 f"{check.get('detail')}", "step": None},
    ]
    return report("vllm_speedup", command, figures, machine,
                  metrics={"vllm_speedup": measured["vllm_speedup"]},
                  details={"vllm_speedup": d})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vllm_speedup")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    offline()
    machine = machine_info("cpu", dtype="float32", model=MODEL)
    result = to_report(measure(args.quick), machine, command_line("benchmarks.vllm_speedup", argv))
    if args.out:
        write_report(args.out, result)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
