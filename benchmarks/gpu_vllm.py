"""GPU bench of the vllm engine on the Qwen2.5-7B shape (random bf16 weights): ratios in one run.

    python -m benchmarks.gpu_vllm [--tiny] [--out reports/gpu-vllm-bench.json]

The model is :mod:`benchmarks.gpu`'s (benchmarks/configs/qwen2.5-7b.json, seeded random
weights, the project's small local tokenizer), written once as a safetensors directory so that
vLLM can load it; nothing is downloaded. ``--tiny`` is the same architecture at a tiny width
with head_dim 64 (vLLM refuses 16), on CPU in float32, for CI-sized checks of every step.

Figures, at the sweep shape (batch ``B`` rows, per-row coefficients, greedy, fixed length):

- ``vllm_over_hf_steered``: steered tokens/s of the vllm engine over the hf engine (target >= 10).
- ``vllm_steered_over_unsteered``: steered over unsteered vllm tokens/s (target >= 0.85).
- ``batch_invariant_cost``: unsteered tokens/s with ``VLLM_BATCH_INVARIANT=1`` over without
  (measured in a child process: vLLM reads the variable at start).
- ``batch_invariant_logprobs_equal``: the engine's self-check with the mode on: one row alone
  and in a batch, greedy tokens and logprobs bitwise equal (target: true).

Every step writes the report so far, so a run cut off by a time limit keeps what it measured.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    command_line,
    figure,
    format_table,
    loadavg,
    machine_info,
    offline,
    write_report,
)
from benchmarks._harness import report as harness_report

TINY = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 4,
        "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 1024,
        "bos_token_id": 1, "eos_token_id": 3}


def sizes(tiny: bool) -> dict[str, Any]:
    """Rows, tokens and layer of the sweep shape."""
    if tiny:
        return {"rows": 12, "tokens": 16, "layer": 2, "coeffs": [-2.0, 0.0, 2.0]}
    return {"rows": 100, "tokens": 256, "layer": 19, "coeffs": [-3.0, -1.0, 0.0, 1.0, 3.0]}


def write_model(tiny: bool, device: str, out: Path) -> Path:
    """The bench model (random weights, seed 0) saved as a safetensors directory."""
    import torch

    from benchmarks import gpu

    if (out / "config.json").exists():
        return out
    dtype = torch.float32 if tiny else torch.bfloat16
    shape, gpu.TINY_SHAPE = gpu.TINY_SHAPE, TINY  # the tiny shape, with head_dim 64
    try:
        model, tokenizer = gpu.build_model(tiny, device, dtype)
    finally:
        gpu.TINY_SHAPE = shape
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return out


def _rows(n: int) -> list[Any]:
    from benchmarks.gpu import questions
    from pytest_persona.core.requests import as_messages

    return [as_messages(q) for q in questions(n)]


def _tokens_per_s(engine: Any, loaded: Any, rows: list[Any], config: Any, steering: Any,
                  coeffs: list[float] | None) -> tuple[float, int, float]:
    from pytest_persona.core.requests import STATS

    before = STATS.generated_tokens
    t0 = time.perf_counter()
    engine.generate(loaded, rows, config, steering=steering, coeffs=coeffs,
                    seeds=[0] * len(rows))
    wall = time.perf_counter() - t0
    tokens = STATS.generated_tokens - before
    return tokens / wall, tokens, wall


def child_invariant(model_dir: str, tiny: bool) -> dict[str, Any]:
    """In a child started with VLLM_BATCH_INVARIANT=1: unsteered tokens/s and the self-check."""
    from pytest_persona.core.requests import GenerationConfig
    from pytest_persona.engines.vllm import VLLMEngine
    from pytest_persona.models.loading import LazyLoadedModel

    s = sizes(tiny)
    device = "cpu" if tiny else "cuda"
    loaded = LazyLoadedModel(model_dir, device=device, dtype="float32" if tiny else "bfloat16")
    engine = VLLMEngine(deterministic=True)
    rows = _rows(s["rows"])
    config = GenerationConfig(max_new_tokens=s["tokens"], temperature=0.0)
    engine.generate(loaded, rows[:1], config, steering=None, coeffs=None, seeds=[0])
    tps, tokens, wall = _tokens_per_s(engine, loaded, rows, config, None, None)
    return {"tokens_per_s": tps, "tokens": tokens, "wall_s": wall,
            "self_check": engine.describe()["batch_invariance"],
            "note": engine.deterministic_note}


def run(tiny: bool, out: Path, workdir: Path,
        command: str = "python -m benchmarks.gpu_vllm") -> dict[str, Any]:
    """Every step; the report is saved after each."""
    import numpy as np
    import torch

    from pytest_persona.core.requests import GenerationConfig, Steering
    from pytest_persona.engines import HFEngine
    from pytest_persona.engines.vllm import VLLMEngine
    from pytest_persona.models.loading import LazyLoadedModel

    device = "cpu" if tiny else "cuda"
    if not tiny and not torch.cuda.is_available():
        raise SystemExit("no GPU: use --tiny on CPU")
    s = sizes(tiny)
    report = harness_report("gpu_vllm", command, [], machine_info(device), sizes=s, details={},
                            complete=False)

    def save() -> None:
        report["machine"]["loadavg_end"] = loadavg()
        write_report(out, report)

    def fig(name: str, value: Any, unit: str, what: str, target: str | None) -> None:
        report["figures"].append(figure(name, value, unit, what, target, step="vllm"))
        save()

    t0 = time.perf_counter()
    model_dir = write_model(tiny, device, workdir / ("tiny" if tiny else "qwen2.5-7b-random"))
    report["details"]["write_model_s"] = round(time.perf_counter() - t0, 1)
    dtype = "float32" if tiny else "bfloat16"
    loaded = LazyLoadedModel(str(model_dir), device=device, dtype=dtype)
    rows = _rows(s["rows"])
    coeffs = [s["coeffs"][i % len(s["coeffs"])] for i in range(len(rows))]
    config = GenerationConfig(max_new_tokens=s["tokens"], temperature=0.0, batch_size=len(rows))
    rng = np.random.default_rng(0)
    vec = rng.standard_normal(loaded.d_model).astype(np.float32)
    steering = Steering(vec / np.linalg.norm(vec) * 4.0, s["layer"], "response")
    hf_tps, hf_tokens, hf_wall = _tokens_per_s(HFEngine(), loaded, rows, config, steering, coeffs)
    report["details"]["hf"] = {"tokens_per_s": hf_tps, "tokens": hf_tokens, "wall_s": hf_wall}
    loaded._loaded = None  # free the hf copy before vLLM takes its share of the card
    import gc

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    engine = VLLMEngine(dtype=dtype, gpu_memory_utilization=0.8)
    engine.generate(loaded, rows[:1], config, steering=None, coeffs=None, seeds=[0])
    un_tps, un_tokens, _ = _tokens_per_s(engine, loaded, rows, config, None, None)
    st_tps, st_tokens, _ = _tokens_per_s(engine, loaded, rows, config, steering, coeffs)
    report["details"]["vllm"] = {"unsteered_tokens_per_s": un_tps, "steered_tokens_per_s": st_tps,
                                 "tokens": [un_tokens, st_tokens],
                                 "self_check": engine.describe()["batch_invariance"]}
    shape = f"{len(rows)} rows x {s['tokens']} greedy tokens, per-row coefficients"
    fig("vllm_over_hf_steered", round(st_tps / hf_tps, 2), "x",
        f"steered tokens/s, vllm (eager) over hf ({shape})", ">= 10")
    fig("vllm_steered_over_unsteered", round(st_tps / un_tps, 3), "x",
        f"vllm steered over unsteered tokens/s ({shape})", ">= 0.85")
    engine.remove()
    del engine
    env = {**os.environ, "VLLM_BATCH_INVARIANT": "1"}
    cmd = [sys.executable, "-m", "benchmarks.gpu_vllm", "--child-invariant", str(model_dir)] + (
        ["--tiny"] if tiny else [])
    with tempfile.TemporaryDirectory() as tmp:
        child_out = Path(tmp) / "child.json"
        proc = subprocess.run([*cmd, "--out", str(child_out)], env=env, capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0 or not child_out.exists():
            report["details"]["batch_invariant"] = {"error": proc.stderr[-3000:]}
            save()
        else:
            child = json.loads(child_out.read_text())
            report["details"]["batch_invariant"] = child
            fig("batch_invariant_cost", round(child["tokens_per_s"] / un_tps, 3), "x",
                f"unsteered tokens/s with VLLM_BATCH_INVARIANT=1 over without ({shape})", None)
            fig("batch_invariant_logprobs_equal", bool(child["self_check"]["equal"]), "",
                f"self-check with the mode on: {child['self_check']['detail']}", "true")
    report["complete"] = True
    report["total_wall_s"] = round(time.perf_counter() - t0, 1)
    save()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_vllm")
    parser.add_argument("--tiny", action="store_true", help="tiny shape on CPU (CI-sized)")
    parser.add_argument("--out", default="reports/gpu-vllm-bench.json")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "persona-gpu-vllm"))
    parser.add_argument("--child-invariant", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    offline()
    if args.child_invariant:
        from pytest_persona._util.atomic import write_text

        write_text(args.out, json.dumps(child_invariant(args.child_invariant, args.tiny),
                                        default=str))
        return 0
    result = run(args.tiny, Path(args.out), Path(args.workdir),
                 command=command_line("benchmarks.gpu_vllm", argv))
    print(format_table(result["figures"]))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
