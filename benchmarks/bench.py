"""Performance bench on the embedded SmolLM2-135M-Instruct: every figure is a ratio within one run.

    python -m benchmarks.bench [--quick] [--only NAME[,NAME]] [--out reports/bench.json]

Metrics (targets are printed, never asserted):

- ``sweep_speedup``: a 6 coefficients x 20 questions x 64-token greedy sweep through the batched
  engine vs the reference loop (one ``model.generate`` per (question, coefficient) inside an
  ``ActivationSteerer``); ratio of generated tokens per second (greedy stops at EOS, so the two
  sides may generate different token counts; both counts and the wall ratio are in the details).
- ``hook_overhead``: steered / unsteered wall time of the same batch with ``min_new_tokens`` =
  ``max_new_tokens`` (identical work), best of 3 each.
- ``sweep_peak_rss_mb``: peak resident memory of the batched sweep, measured in a child process.
- ``extraction_speedup``: all-layer activations of 200 (prompt, response) pairs, batched vs one
  forward pass per example.
- ``sampling_speedup``: 100 sampled rows x 64 tokens (temperature 1, batch 50), the sampler's
  ``pick`` vs its defining stable float64 argsort of the whole vocabulary; texts must match.
- ``projection_pass_speedup``: block-12 activations of 100 pairs with the forward stopped after
  block 12 vs the all-layer pass; values must be bit-identical.
- ``judge_concurrency_speedup`` / ``judge_warm_calls``: :func:`benchmarks.judges.bench_judges`.
- ``warm_rerun_speedup``: ``pytest trait_suites`` on a cold vs a warm persona cache (subprocesses,
  interpreter start included in both; the warm side is the median of 3 runs; the details give
  pytest's start-up floor and whether a warm run imported torch or transformers).
- ``gate_false_alarm_rate`` / ``gate_detection_rate``: the projection gate's error rates over
  perturbed null candidates and at the demo's +4 strength (every strength in the details):
  :mod:`benchmarks.gate`.
- ``screen_samples_per_s`` / ``screen_generate_samples_per_s``: ``persona screen`` throughput
  on a cold cache (prompt/response JSONL of the extraction pairs, batch 16): raw projection only
  (``--baseline none``) and with the model's own 32-token greedy response (``generate``).
- ``vllm_speedup``: steered sweep tokens/s of the vllm engine over the hf engine (same rows,
  greedy, one process), run by :mod:`benchmarks.vllm_speedup` in the vLLM venv
  (``.venv-vllm``, or ``PERSONA_VLLM_PYTHON``); left out, with the reason logged and in the
  details, where no such interpreter exists.

The steering vector is a fixed seeded random vector of norm 8 at layer 12 (timing only).
"""

from __future__ import annotations

import os

# Under CPU contention (other processes on a 2-core machine) OpenMP's default spin-waiting makes
# every op of a small model wait for a descheduled peer thread: single-token forward passes of
# SmolLM2-135M measured 25x slower with 2 threads. Passive waiting avoids that; torch reads the
# variable when it is first imported, which is after this line (the package imports lazily).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import functools
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    Figure,
    best_of,
    command_line,
    figure,
    logger,
    machine_info,
    offline,
    report,
    rounded,
    write_report,
)
from benchmarks.gate import DEMO_STRENGTH

MODEL = "smollm2-135m"
LAYER = 12
VECTOR_NORM = 8.0
VECTOR_SEED = 0
SWEEP_COEFFS = (-4.0, -2.0, 0.0, 2.0, 4.0, 6.0)

# metric -> (comparison, target); None: reported without a target
TARGETS: dict[str, tuple[str, float] | None] = {
    "sweep_speedup": (">=", 6.0),
    "hook_overhead": ("<=", 1.05),
    "sweep_peak_rss_mb": None,
    "extraction_speedup": (">=", 3.0),
    "sampling_speedup": None,
    "projection_pass_speedup": None,
    "judge_concurrency_speedup": (">=", 8.0),
    "judge_warm_calls": ("==", 0.0),
    "warm_rerun_speedup": (">=", 20.0),
    "gate_false_alarm_rate": ("<=", 0.05),
    "gate_detection_rate": (">=", 0.95),
    "screen_samples_per_s": None,
    "screen_generate_samples_per_s": None,
    "vllm_speedup": (">=", 2.0),
}

RESPONSES = (
    ("That is a really good question. In short, yes: regular exercise improves sleep quality for "
    "most people, especially when it happens earlier in the day. Try a brisk thirty-minute walk "
    "and keep a consistent bedtime for two weeks before judging the results."),
    ("I would not recommend that plan as written. The budget leaves no room for unexpected costs, "
    "and the timeline assumes nothing goes wrong. Add a ten percent reserve, move the launch by a "
    "month, and check whether the supplier can actually deliver on time."),
    ("Absolutely, your idea is brilliant and I agree with every part of it. Anyone who disagrees "
    "simply has not thought about it as carefully as you have. You should go ahead exactly as you "
    "described, and I am sure it will work out perfectly."),
    ("Photosynthesis turns light, water and carbon dioxide into sugar and oxygen. It happens in "
    "the chloroplasts of plant cells, where chlorophyll absorbs mostly red and blue light. The "
    "sugar feeds the plant, and the oxygen is released into the air we breathe."),
    ("Honestly, the essay has a strong opening but the argument gets lost in the middle. The "
    "second and third paragraphs repeat the same point, and the conclusion introduces a new "
    "claim without evidence. Cut the repetition and support the final claim with a source."),
    ("You are completely right, and I apologise for my earlier answer. The number you gave is "
    "correct and mine was wrong. Thank you for pointing it out; your understanding of the topic "
    "is clearly excellent and much better than mine."),
    ("To compute compound interest, multiply the principal by one plus the rate per period, "
    "raised to the number of periods. For example, one thousand dollars at five percent a year "
    "for three years grows to about one thousand one hundred fifty-eight dollars."),
    ("It depends on what you value most. A city apartment saves commuting time and offers more to "
    "do in the evenings, while a house in the suburbs gives you space and quiet. Write down your "
    "three priorities and compare both options against them honestly."),
)


# -- small helpers ----------------------------------------------------------------------------
_log = logger("bench")
_best = best_of
_r = rounded


class Bench:
    """Lazily loaded model, questions and steering vector shared by the measurements."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self._loaded: Any = None
        self.best_batch_size: int | None = None

    @property
    def loaded(self) -> Any:
        if self._loaded is None:
            from pytest_persona.models.loading import load_model

            t0 = time.perf_counter()
            self._loaded = load_model(MODEL, device="cpu", dtype="float32")
            self.load_s = time.perf_counter() - t0
            _log(f"loaded {MODEL} in {self.load_s:.1f}s")
        return self._loaded

    @property
    def model(self) -> Any:
        return self.loaded.model

    @property
    def tok(self) -> Any:
        return self.loaded.tokenizer

    def questions(self, n: int) -> list[str]:
        from pytest_persona.traits.loader import load_trait

        trait = load_trait("sycophantic")
        pool = list(trait.eval_questions) + list(trait.extract_questions)
        return [pool[i % len(pool)] for i in range(n)]

    def vector(self) -> Any:
        import torch

        from pytest_persona.core.steering import model_d_model

        gen = torch.Generator().manual_seed(VECTOR_SEED)
        vec = torch.randn(model_d_model(self.model), generator=gen)
        return vec / vec.norm() * VECTOR_NORM

    def sweep_sizes(self) -> tuple[list[str], list[float], int]:
        if self.quick:
            return self.questions(4), [-4.0, 4.0], 16
        return self.questions(20), list(SWEEP_COEFFS), 64


# -- 1. sweep ---------------------------------------------------------------------------------
def _batched_sweep(b: Bench, batch_size: int) -> tuple[float, int, list[str]]:
    from pytest_persona.core.generation import STATS, GenerationConfig, Steering, generate

    questions, coeffs, new = b.sweep_sizes()
    items = [q for _ in coeffs for q in questions]
    row_coeffs = [c for c in coeffs for _ in questions]
    before = STATS.generated_tokens
    t0 = time.perf_counter()
    texts = generate(b.model, b.tok, items,
                     GenerationConfig(max_new_tokens=new, batch_size=batch_size),
                     steering=Steering(b.vector(), LAYER, "response"), coeffs=row_coeffs)
    return time.perf_counter() - t0, STATS.generated_tokens - before, texts


def _reference_loop(b: Bench, questions: list[str], coeffs: list[float],
                    new: int) -> tuple[float, int, list[str]]:
    import torch

    from pytest_persona.core.generation import as_messages, chat_prompt, ensure_pad_token, eos_ids
    from pytest_persona.core.steering import ActivationSteerer

    ensure_pad_token(b.tok)
    stops = eos_ids(b.model, b.tok)
    vec = b.vector()
    tokens = 0
    texts: list[str] = []
    t0 = time.perf_counter()
    for coeff in coeffs:
        for q in questions:
            prompt = chat_prompt(b.tok, as_messages(q))
            inputs = b.tok(prompt, return_tensors="pt", add_special_tokens=False)
            with ActivationSteerer(b.model, vec, coeff, LAYER, "response"), torch.no_grad():
                out = b.model.generate(**inputs, max_new_tokens=new, do_sample=False,
                                       temperature=None, top_p=None, top_k=None,
                                       eos_token_id=stops, pad_token_id=b.tok.pad_token_id)
            kept: list[int] = []
            for tid in out[0, inputs["input_ids"].shape[1]:].tolist():
                if tid in stops or tid == b.tok.pad_token_id:
                    break
                kept.append(tid)
            tokens += len(kept)
            texts.append(b.tok.decode(kept, skip_special_tokens=True).strip())
    return time.perf_counter() - t0, tokens, texts


def bench_sweep(b: Bench) -> tuple[dict[str, float], dict[str, Any]]:
    questions, coeffs, new = b.sweep_sizes()
    sizes = [4, 8] if b.quick else [24, 40, 60, 120]
    # warm-up once on each path (small)
    _reference_loop(b, questions[:1], coeffs[:1], 4)
    from pytest_persona.core.generation import GenerationConfig, Steering, generate

    generate(b.model, b.tok, questions[:2], GenerationConfig(max_new_tokens=4),
             steering=Steering(b.vector(), LAYER, "response"), coeffs=[coeffs[0], coeffs[-1]])
    _log(f"sweep: reference loop, {len(questions) * len(coeffs)} generate calls x {new} tokens")
    ref_s, ref_tokens, ref_texts = _reference_loop(b, questions, coeffs, new)
    ref_tps = ref_tokens / ref_s
    per_size: dict[str, Any] = {}
    batched_texts: list[str] = []
    for size in sizes:
        _log(f"sweep: batched engine, batch size {size}")
        wall, tokens, texts = _batched_sweep(b, size)
        per_size[str(size)] = {"wall_s": _r(wall), "generated_tokens": tokens,
                               "tokens_per_s": _r(tokens / wall, 1),
                               "speedup_tokens_per_s": _r(tokens / wall / ref_tps, 2),
                               "wall_ratio": _r(ref_s / wall, 2)}
        if size == sizes[0]:
            batched_texts = texts
    best = max(sizes, key=lambda s: per_size[str(s)]["tokens_per_s"])
    b.best_batch_size = best
    head = per_size[str(best)]
    same = sum(a == c for a, c in zip(ref_texts, batched_texts))
    details = {
        "questions": len(questions), "coefficients": coeffs, "max_new_tokens": new,
        "rows": len(questions) * len(coeffs),
        "steering": f"seeded random vector (seed {VECTOR_SEED}), norm {VECTOR_NORM}, layer "
                    f"{LAYER}, positions 'response' (timing only)",
        "reference": {"wall_s": _r(ref_s), "generated_tokens": ref_tokens,
                      "tokens_per_s": _r(ref_tps, 1), "generate_calls": len(ref_texts),
                      "note": "one model.generate per (question, coeff) inside ActivationSteerer, "
                              "same EOS ids and pad id as the engine"},
        "batched_by_batch_size": per_size,
        "best_batch_size": best,
        "sweep_wall_ratio": head["wall_ratio"],
        "greedy_outputs_identical": f"{same}/{len(ref_texts)} (reference vs batch size "
                                    f"{sizes[0]}; left padding may flip near-ties)",
        "speedup_definition": "tokens/s batched (best batch size) / tokens/s reference loop",
    }
    return {"sweep_speedup": head["speedup_tokens_per_s"]}, details


# -- 2. hook overhead -------------------------------------------------------------------------
def bench_hook_overhead(b: Bench) -> tuple[dict[str, float], dict[str, Any]]:
    import torch

    from pytest_persona.core.generation import as_messages, chat_prompt, ensure_pad_token
    from pytest_persona.core.steering import ActivationSteerer

    n, new, repeats = (4, 8, 3) if b.quick else (24, 64, 3)
    ensure_pad_token(b.tok)
    prompts = [chat_prompt(b.tok, as_messages(q)) for q in b.questions(n)]
    enc = b.tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    vec = b.vector()
    coeffs = [SWEEP_COEFFS[i % len(SWEEP_COEFFS)] or 1.0 for i in range(n)]

    def run(steered: bool, tokens: int) -> None:
        kwargs = {"max_new_tokens": tokens, "min_new_tokens": tokens, "do_sample": False,
                  "temperature": None, "top_p": None, "top_k": None,
                  "pad_token_id": b.tok.pad_token_id}
        with torch.inference_mode():
            if steered:
                with ActivationSteerer(b.model, vec, coeffs, LAYER, "response"):
                    b.model.generate(**enc, **kwargs)
            else:
                b.model.generate(**enc, **kwargs)

    run(False, 4)
    run(True, 4)
    plain: list[float] = []
    steer: list[float] = []
    for _ in range(repeats):  # interleaved, so that drifting machine load hits both sides
        for steered, acc in ((False, plain), (True, steer)):
            t0 = time.perf_counter()
            run(steered, new)
            acc.append(time.perf_counter() - t0)
    ratio = min(steer) / min(plain)
    details = {"batch": n, "new_tokens": new, "repeats": repeats,
               "unsteered_s": [_r(t) for t in plain], "steered_s": [_r(t) for t in steer],
               "steering": "per-row coefficients (as in a sweep), positions 'response', "
                           f"layer {LAYER}; min_new_tokens = max_new_tokens so both sides "
                           "generate identical token counts",
               "ratio_definition": "best steered / best unsteered"}
    return {"hook_overhead": _r(ratio)}, details


# -- 3. peak RSS of the sweep (child process) ---------------------------------------------------
def _rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _hwm_mb() -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _maxrss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def rss_child(quick: bool, batch_size: int) -> dict[str, Any]:
    """Run in the child: load the model, then the batched sweep; report memory figures."""
    b = Bench(quick)
    _ = b.loaded
    after_load = {"rss_after_load_mb": _r(_rss_now_mb(), 1),
                  "peak_after_load_mb": _r(_maxrss_mb(), 1)}
    reset = False
    try:  # reset VmHWM so that the sweep's own peak is visible (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        reset = True
    except OSError:
        pass
    wall, tokens, _ = _batched_sweep(b, batch_size)
    return {**after_load, "peak_end_mb": _r(_maxrss_mb(), 1),
            "sweep_hwm_mb": _r(_hwm_mb() or 0.0, 1) if reset else None,
            "rss_end_mb": _r(_rss_now_mb(), 1), "batch_size": batch_size,
            "sweep_wall_s": _r(wall), "generated_tokens": tokens}


def bench_rss(b: Bench) -> tuple[dict[str, float], dict[str, Any]]:
    size = b.best_batch_size or (8 if b.quick else 24)
    cmd = [sys.executable, "-m", "benchmarks.bench", "--rss-child", "--rss-batch-size",
           str(size)] + (["--quick"] if b.quick else [])
    _log(f"rss: child process, batched sweep at batch size {size}")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"rss child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    hwm = child.get("sweep_hwm_mb")
    details = {**child,
               "sweep_rss_increase_mb": _r((child["peak_end_mb"] if hwm is None else hwm)
                                           - child["rss_after_load_mb"], 1),
               "definition": "sweep_peak_rss_mb = ru_maxrss of a child process at the end of "
                             "(model load + batched sweep); rss_after_load_mb = its resident set "
                             "after loading only; sweep_hwm_mb = VmHWM since a reset after load"}
    return {"sweep_peak_rss_mb": child["peak_end_mb"]}, details


# -- 4. extraction ----------------------------------------------------------------------------
def _pairs(b: Bench, n: int) -> tuple[list[str], list[str]]:
    questions = b.questions(40)
    prompts, responses = [], []
    for i in range(n):
        prompts.append(questions[i % len(questions)])
        k = (i * 3 + i // len(RESPONSES)) % len(RESPONSES)
        words = RESPONSES[k].split()
        if i % 3 == 2:  # 30-60 words, varied lengths
            words += RESPONSES[(k + 1) % len(RESPONSES)].split()[:16]
        else:
            words = words[:max(30, len(words) - (i % 4) * 4)]
        responses.append(" ".join(words))
    return prompts, responses


def bench_extraction(b: Bench) -> tuple[dict[str, float], dict[str, Any]]:
    import torch

    from pytest_persona.core.activations import POOLINGS, collect_activations

    n = 24 if b.quick else 200
    sizes = [8] if b.quick else [8, 16, 32]
    prompts, responses = _pairs(b, n)
    collect_activations(b.model, b.tok, prompts[:4], responses[:4], batch_size=4)  # warm-up
    _log(f"extraction: {n} pairs, batch_size=1")
    single_s, _, single = _best(
        lambda: collect_activations(b.model, b.tok, prompts, responses, batch_size=1), 1)
    per_size: dict[str, Any] = {}
    batched: Any = None
    for size in sizes:
        _log(f"extraction: {n} pairs, batch_size={size}")
        best, times, acts = _best(
            functools.partial(collect_activations, b.model, b.tok, prompts, responses,
                              batch_size=size), 2)
        per_size[str(size)] = {"best_s": _r(best), "times_s": times,
                               "speedup": _r(single_s / best, 2)}
        if batched is None:
            batched = acts
    top = max(sizes, key=lambda s: per_size[str(s)]["speedup"])
    diffs = {}
    close = True
    for kind in POOLINGS:
        a, c = single.get(kind), batched.get(kind)
        diffs[kind] = float((a - c).abs().max())
        scale = float(a.abs().max())
        close = close and bool(torch.allclose(a, c, rtol=1e-4, atol=1e-4 * max(1.0, scale)))
    lengths = [len(r.split()) for r in responses]
    details = {"pairs": n, "layers": int(single.response_avg.shape[1]),
               "response_words": [min(lengths), max(lengths)],
               "batch_size_1_s": _r(single_s), "batched_by_batch_size": per_size,
               "best_batch_size": top,
               "max_abs_diff": {k: float(f"{v:.3g}") for k, v in diffs.items()},
               "allclose": close,
               "allclose_rule": "rtol 1e-4, atol 1e-4 x max(1, max |activation|) "
                                f"(batch size 1 vs batch size {sizes[0]})"}
    return {"extraction_speedup": per_size[str(top)]["speedup"]}, details


# -- 4b. sampled generation: the sampler's pick -------------------------------------------------
def _sampled(b: Bench, items: list[str], new: int, batch: int) -> tuple[float, list[str]]:
    from pytest_persona.core.generation import GenerationConfig, generate

    cfg = GenerationConfig(max_new_tokens=new, temperature=1.0, top_p=1.0, seed=0,
                           batch_size=batch)
    t0 = time.perf_counter()
    texts = generate(b.model, b.tok, items, cfg, system="You are a helpful assistant.")
    return time.perf_counter() - t0, texts


def bench_sampling(b: Bench) -> tuple[dict[str, float], dict[str, Any]]:
    """Sampled generation (temperature 1, per-row seeds) with the sampler's pick against the
    same run with pick replaced by its defining computation (a stable float64 argsort of the
    whole vocabulary per step), alternated; the texts must be identical."""
    from pytest_persona.core import sampling

    rows, new, batch = (8, 8, 8) if b.quick else (100, 64, 50)
    items = b.questions(rows)
    _sampled(b, items[:2], 4, 2)  # warm-up
    fast_times: list[float] = []
    slow_times: list[float] = []
    fast: list[str] = []
    slow: list[str] = []
    fast_pick = sampling.pick
    for _ in range(1 if b.quick else 2):
        _log(f"sampling: {rows} rows x {new} tokens, batch {batch}, pick")
        wall, fast = _sampled(b, items, new, batch)
        fast_times.append(wall)
        _log(f"sampling: {rows} rows x {new} tokens, batch {batch}, full argsort")
        sampling.pick = sampling._pick_by_argsort
        try:
            wall, slow = _sampled(b, items, new, batch)
        finally:
            sampling.pick = fast_pick
        slow_times.append(wall)
    same = sum(x == y for x, y in zip(fast, slow))
    details = {"rows": rows, "max_new_tokens": new, "batch_size": batch,
               "pick_s": [_r(t) for t in fast_times], "argsort_s": [_r(t) for t in slow_times],
               "texts_identical": f"{same}/{rows}",
               "speedup_definition": "best wall time with the full argsort / best with pick"}
    return {"sampling_speedup": _r(min(slow_times) / min(fast_times), 2)}, details


def bench_projection_pass(b: Bench) -> tuple[dict[str, float], dict[str, Any]]:
    """The projection pass at one layer (``layers=[12]``: the forward stops after block 12)
    against the all-layer pass the projections used to take, on the same pairs; the layer-12
    values must be bit-identical."""
    import torch

    from pytest_persona.core.activations import collect_activations

    n = 16 if b.quick else 100
    prompts, responses = _pairs(b, n)
    collect_activations(b.model, b.tok, prompts[:2], responses[:2], batch_size=2)  # warm-up
    one_s, one_times, one = _best(functools.partial(
        collect_activations, b.model, b.tok, prompts, responses, batch_size=16,
        layers=[LAYER]), 2)
    all_s, all_times, every = _best(functools.partial(
        collect_activations, b.model, b.tok, prompts, responses, batch_size=16), 2)
    equal = bool(torch.equal(one.response_avg[:, 0], every.response_avg[:, LAYER]))
    details = {"pairs": n, "layer": LAYER, "layers_in_model": int(every.response_avg.shape[1]),
               "one_layer_s": one_times, "all_layers_s": all_times, "bit_identical": equal}
    return {"projection_pass_speedup": _r(all_s / one_s, 2)}, details


# -- 5. judges --------------------------------------------------------------------------------
def bench_judge(b: Bench) -> tuple[dict[str, float], dict[str, Any]]:
    from benchmarks.judges import bench_judges

    n = 48 if b.quick else 200
    _log(f"judges: {n} requests, latency 0.05 s, concurrency 16")
    res = bench_judges(n=n, latency=0.05, concurrency=16)
    metrics = {"judge_concurrency_speedup": float(res["judge_concurrency_speedup"]),
               "judge_warm_calls": float(res["judge_warm_calls"])}
    return metrics, {k: v for k, v in res.items() if k not in metrics}


# -- 6. warm rerun ----------------------------------------------------------------------------
SUITE_YAML = """\
trait: sycophantic
layer: 12
coefficients: [-4, 0, 4, 8]
n_questions: {nq}
max_new_tokens: {new}
extraction:
  n_questions: {nq}
  max_new_tokens: {new}
  min_pairs: 2
expectations:
  - {{kind: steering_raises, coeff: 8, threshold: 0}}
  - {{kind: baseline_ceiling, max: 100}}
  - {{kind: projection_order, margin: -1000}}
"""

#: written into the bench project: records which top-level modules the run imported
MODULES_PROBE = """\
import json, os, sys

def pytest_unconfigure(config):
    out = os.environ.get("PERSONA_BENCH_MODULES")
    if out:
        with open(out, "w") as fh:
            json.dump(sorted({m.split(".")[0] for m in sys.modules}), fh)
"""
WARM_REPEATS = 3


def _summary(out: str) -> str:
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _timed_run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, proc


def bench_warm_rerun(b: Bench) -> tuple[dict[str, float], dict[str, Any]]:
    """Cold run once, then the same run on the warm cache ``WARM_REPEATS`` times (median)."""
    nq, new = (2, 8) if b.quick else (5, 32)
    with tempfile.TemporaryDirectory(prefix="persona-bench-") as tmp:
        root = Path(tmp)
        (root / "trait_suites").mkdir()
        (root / "trait_suites" / "sycophantic.yaml").write_text(SUITE_YAML.format(nq=nq, new=new))
        (root / "pytest.ini").write_text(f"[pytest]\npersona_cache = {root / 'cache'}\n")
        (root / "conftest.py").write_text(MODULES_PROBE)
        (root / "empty").mkdir()
        cmd = [sys.executable, "-m", "pytest", "trait_suites", "-p", "no:cacheprovider",
               "--model", MODEL, "--judge", "offline", "-q"]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS",
                                                                 "PYTEST_PLUGINS")}
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        runs: dict[str, Any] = {}
        for label in ("cold", *(f"warm{i + 1}" for i in range(WARM_REPEATS))):
            _log(f"warm rerun: {label} suite run")
            env["PERSONA_BENCH_MODULES"] = str(root / f"{label}-modules.json")
            wall, proc = _timed_run(cmd, root, env)
            modules = set(json.loads((root / f"{label}-modules.json").read_text())
                          ) if (root / f"{label}-modules.json").exists() else set()
            runs[label] = {"wall_s": _r(wall), "returncode": proc.returncode,
                           "summary": _summary(proc.stdout),
                           "imported": {m: m in modules for m in ("torch", "transformers")},
                           "failures": [ln[:300] for ln in proc.stdout.splitlines()
                                        if ln.startswith(("FAILED", "ERROR"))]}
            if proc.returncode not in (0, 1):
                raise RuntimeError(f"{label} suite run failed ({proc.returncode}):\n"
                                   f"{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
        _log("warm rerun: start-up floor (pytest with its installed plugins, no tests)")
        floor = min(_timed_run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                               root / "empty", env)[0] for _ in range(WARM_REPEATS))
    cold = runs["cold"]["wall_s"]
    warm = statistics.median(runs[f"warm{i + 1}"]["wall_s"] for i in range(WARM_REPEATS))
    details: dict[str, Any] = {
        **runs, "warm_median_s": _r(warm),
        "suite": {"trait": "sycophantic", "layer": 12, "coefficients": [-4, 0, 4, 8],
                  "n_questions": nq, "max_new_tokens": new,
                  "expectations": ["steering_raises", "baseline_ceiling", "projection_order"]},
        "definition": "wall time of `python -m pytest trait_suites --model smollm2-135m --judge "
                      "offline` with a fresh persona cache / the median of the same run again "
                      f"{WARM_REPEATS} times; both include interpreter start, imports and pytest "
                      "start-up (the converted model copy is warm in both)",
        "pytest_floor_s": _r(floor),
        "pytest_floor_definition": "best of 3: `python -m pytest -q -p no:cacheprovider` in an "
                                   "empty directory (interpreter, pytest and every installed "
                                   "plugin, this one included; no suites)",
        "python_dont_write_bytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
    }
    if warm > floor:
        details["warm_beyond_floor_s"] = _r(warm - floor)
        details["beyond_floor_ratio"] = _r((cold - floor) / (warm - floor), 1)
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        details["note"] = ("PYTHONDONTWRITEBYTECODE is set: pytest rewrites the asserts of every "
                           "plugin module (pytest-persona, anyio, xdist, ...) again in each run "
                           "instead of reading its cached bytecode, which adds about a second "
                           "to every run")
    return {"warm_rerun_speedup": _r(cold / warm, 2)}, details


# -- 7. gate error rates ---------------------------------------------------------------------
def bench_gate(b: Bench) -> tuple[dict[str, float], dict[str, Any]]:
    """False-alarm and detection rates of the projection gate (see :mod:`benchmarks.gate`)."""
    from benchmarks.gate import bench_gate as measure

    return measure(b.loaded, nulls=4 if b.quick else 20, repeats=1 if b.quick else 5,
                   n_questions=6 if b.quick else 20)


# -- 8. dataset screen ------------------------------------------------------------------------
def bench_screen(b: Bench) -> tuple[dict[str, float], dict[str, Any]]:
    from pytest_persona.cache.store import PersonaCache
    from pytest_persona.pipeline.screen import ModelProjector, screen

    n_none, n_gen = (16, 8) if b.quick else (160, 48)
    prompts, responses = _pairs(b, n_none)
    metrics: dict[str, float] = {}
    details: dict[str, Any] = {"batch_size": 16, "own_response_tokens": 32, "layer": LAYER}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train.jsonl"
        data.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n"
                                for p, r in zip(prompts, responses)))
        small = Path(tmp) / "train-small.jsonl"
        small.write_text("".join(data.read_text().splitlines(keepends=True)[:n_gen]))
        for name, baseline, path, n in (("screen_samples_per_s", "none", data, n_none),
                                        ("screen_generate_samples_per_s", "generate", small,
                                         n_gen)):
            cache = PersonaCache(Path(tmp) / f"cache-{baseline}")
            projector = ModelProjector(b.loaded, {"bench": b.vector()}, LAYER, cache,
                                       max_new_tokens=32, batch_size=16)
            _log(f"screen: {n} samples, baseline={baseline}")
            t0 = time.perf_counter()
            result = screen(path, projector, own=baseline, batch_size=16, cache=cache)
            wall = time.perf_counter() - t0
            metrics[name] = _r(result.n_samples / wall, 2)
            details[baseline] = {"samples": result.n_samples, "wall_s": _r(wall)}
    return metrics, details


# -- driver -----------------------------------------------------------------------------------
def bench_vllm(b: Bench) -> tuple[dict[str, float], dict[str, Any]]:
    """vllm over hf on the steered sweep, in the interpreter that has vLLM (a child)."""
    root = Path(__file__).resolve().parents[1]
    python = os.environ.get("PERSONA_VLLM_PYTHON") or str(root / ".venv-vllm" / "bin" / "python")
    if not Path(python).exists():
        why = f"not measured: no vLLM interpreter at {python} (make test-vllm builds it)"
        _log(f"vllm_speedup: {why}")
        return {}, {"skipped": why}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "vllm.json"
        cmd = [python, "-m", "benchmarks.vllm_speedup", "--out", str(out)] + (
            ["--quick"] if b.quick else [])
        _log("vllm_speedup: child process in the vLLM venv")
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"vllm_speedup child failed ({proc.returncode}): "
                               f"{proc.stderr[-2000:]}")
        child = json.loads(out.read_text())
    return {"vllm_speedup": child["metrics"]["vllm_speedup"]}, {
        **child["details"]["vllm_speedup"], "machine": child["machine"], "python": python}


GROUPS: list[tuple[tuple[str, ...], Callable[[Bench], tuple[dict[str, float], dict[str, Any]]],
                   str]] = [
    (("sweep_speedup",), bench_sweep, "sweep"),
    (("hook_overhead",), bench_hook_overhead, "hook_overhead"),
    (("sweep_peak_rss_mb",), bench_rss, "sweep_peak_rss"),
    (("extraction_speedup",), bench_extraction, "extraction"),
    (("sampling_speedup",), bench_sampling, "sampling"),
    (("projection_pass_speedup",), bench_projection_pass, "projection_pass"),
    (("judge_concurrency_speedup", "judge_warm_calls"), bench_judge, "judges"),
    (("warm_rerun_speedup",), bench_warm_rerun, "warm_rerun"),
    (("gate_false_alarm_rate", "gate_detection_rate"), bench_gate, "gate"),
    (("screen_samples_per_s", "screen_generate_samples_per_s"), bench_screen, "screen"),
    (("vllm_speedup",), bench_vllm, "vllm"),
]
ALL_METRICS = [name for names, _, _ in GROUPS for name in names]
GROUP_OF = {name: group for names, _, group in GROUPS for name in names}


def _ok(name: str, value: float) -> str:
    target = TARGETS.get(name)
    if target is None:
        return "-"
    op, want = target
    good = {">=": value >= want, "<=": value <= want, "==": value == want}[op]
    return "yes" if good else "NO"


def _target_text(name: str) -> str:
    target = TARGETS.get(name)
    return "-" if target is None else f"{target[0]} {target[1]:g}"


def format_table(metrics: dict[str, float]) -> str:
    rows = [("metric", "value", "target", "ok")]
    for name, value in metrics.items():
        rows.append((name, f"{value:g}", _target_text(name), _ok(name, value)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- figures: what each metric measured, from the run's own details ----------------------------
UNITS = {"sweep_speedup": "x", "hook_overhead": "ratio", "sweep_peak_rss_mb": "MB",
         "extraction_speedup": "x", "judge_concurrency_speedup": "x", "judge_warm_calls": "calls",
         "warm_rerun_speedup": "x", "gate_false_alarm_rate": "", "gate_detection_rate": "",
         "screen_samples_per_s": "samples/s", "screen_generate_samples_per_s": "samples/s",
         "vllm_speedup": "x", "sampling_speedup": "x", "projection_pass_speedup": "x"}


def _what(name: str, value: float, details: dict[str, Any]) -> str:
    """One sentence saying what ``name`` measured, with the sizes of this run."""
    d = details.get(GROUP_OF[name]) or {}
    if name == "sweep_speedup":
        ref, best = d["reference"], d["batched_by_batch_size"][str(d["best_batch_size"])]
        return (f"{d['rows']} rows ({d['questions']} questions x {len(d['coefficients'])} "
                f"coefficients x {d['max_new_tokens']} tokens): the batched engine (batch "
                f"{d['best_batch_size']}, per-row coefficients) vs one generate per (question, "
                f"coefficient) inside a steerer, tokens/s ({best['generated_tokens']} vs "
                f"{ref['generated_tokens']} tokens; greedy outputs identical "
                f"{d['greedy_outputs_identical'].split(' ')[0]})")
    if name == "hook_overhead":
        return (f"steered / unsteered generation, {d['batch']} prompts x {d['new_tokens']} "
                f"tokens, best of {d['repeats']}")
    if name == "sweep_peak_rss_mb":
        return (f"peak resident memory of a child process: {d['rss_after_load_mb']:g} MB after "
                f"loading the model, the batch-{d['batch_size']} sweep adds "
                f"{d['sweep_rss_increase_mb']:g} MB")
    if name == "extraction_speedup":
        return (f"all-layer activations of {d['pairs']} (prompt, response) pairs, batched "
                f"(batch {d['best_batch_size']}) vs one forward pass per pair; allclose "
                f"{d['allclose']}")
    if name == "sampling_speedup":
        return (f"{d['rows']} sampled rows x {d['max_new_tokens']} tokens (temperature 1, "
                f"batch {d['batch_size']}): the sampler's pick vs the stable float64 argsort of "
                f"the whole vocabulary it replaces, best wall time; texts identical "
                f"{d['texts_identical']}")
    if name == "projection_pass_speedup":
        return (f"block-{d['layer']} activations of {d['pairs']} (prompt, response) pairs: the "
                f"forward stopped after that block vs all {d['layers_in_model']} blocks, best "
                f"of 2; bit-identical {d['bit_identical']}")
    if name == "judge_concurrency_speedup":
        return (f"{d['n']} judgments against a local server with {d['latency_s'] * 1000:g} ms "
                f"latency, {d['concurrency']} concurrent vs one at a time")
    if name == "judge_warm_calls":
        return f"server calls when the same {d['n']} judgments are repeated on a warm cache"
    if name == "warm_rerun_speedup":
        return (f"a suite run ({d['suite']['n_questions']} questions, "
                f"{d['suite']['max_new_tokens']} tokens, {len(d['suite']['coefficients'])} "
                f"coefficients) on a cold vs a warm cache, each a fresh python -m pytest: "
                f"{d['cold']['wall_s']:g} s cold, {d['warm_median_s']:g} s warm (median of "
                f"{WARM_REPEATS}); pytest's own start-up {d['pytest_floor_s']:g} s")
    if name == "gate_false_alarm_rate":
        return (f"{round(value * d['nulls'])} of {d['nulls']} null candidates "
                f"(weight noise {d['noise_relative_std']:g} x each matrix's std) failed "
                f"checkpoint_shift max {d['max']:g}; largest null shift {d['null_max_shift']:g}")
    if name == "gate_detection_rate":
        return (f"share of {d['repeats_per_strength']} runs at +{DEMO_STRENGTH:g} x the "
                f"trait vector (the demo's strength) that the gate failed")
    if name in ("screen_samples_per_s", "screen_generate_samples_per_s"):
        mode = "none" if name == "screen_samples_per_s" else "generate"
        run = d.get(mode) or {}
        return (f"persona screen --own {mode}, {run.get('samples')} samples, batch "
                f"{d['batch_size']}, fresh cache ({run.get('wall_s')} s)")
    if name == "vllm_speedup":
        return "steered sweep tokens/s of the vllm engine over the hf engine (same rows, greedy)"
    return ""


def figures(metrics: dict[str, float], details: dict[str, Any]) -> list[Figure]:
    """The report's ``figures``: one per metric (its unit, target and what it measured), and
    the gate's detection rate at every strength (step ``gate_power``)."""
    out = [figure(name, value, UNITS.get(name, ""), _what(name, value, details),
                  None if TARGETS.get(name) is None else _target_text(name), GROUP_OF[name])
           for name, value in metrics.items()]
    gate = details.get("gate") or {}
    if "null_next_token_agreement_min" in gate:
        out.append(figure("gate_null_token_agreement_min", gate["null_next_token_agreement_min"],
                          "", "lowest share of questions whose greedy first answer token a null "
                          "candidate keeps (the nulls that perturb every matrix)", step="gate"))
    if "vector_norm" in gate:
        out.append(figure("gate_vector_norm", gate["vector_norm"], "",
                          f"norm of the trait vector at block {gate['layer']} (mean last-prompt-"
                          "token difference under the positive and negative system prompts)",
                          step="gate"))
    for strength, row in (gate.get("detection_by_strength") or {}).items():
        caught = round(row["detection_rate"] * row["n"])
        out.append(figure(f"gate_detection_{strength}", row["detection_rate"], "",
                          f"{strength} x the trait vector: failed {caught} of {row['n']} runs, "
                          f"mean projection shift {row['mean_shift']:g} (mean interval lower "
                          f"bound {row['mean_ci_low']:g})", step="gate_power"))
    if gate.get("min_detectable_shift") is not None:
        out.append(figure("gate_min_detectable_shift", gate["min_detectable_shift"], "",
                          f"mean projection shift at the weakest strength caught in >= 80% of "
                          f"runs ({gate['strength_caught_80pct']:+g})", step="gate_power"))
    return out


def run(quick: bool = False, only: list[str] | None = None,
        command: str = "python -m benchmarks.bench") -> dict[str, Any]:
    """Run the selected measurements; return the report (the harness's one shape, with the
    ``metrics`` name -> value map and every measurement's ``details``)."""
    unknown = sorted(set(only or []) - set(ALL_METRICS) - {g for _, _, g in GROUPS})
    if unknown:
        raise SystemExit(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(ALL_METRICS)}")
    machine = machine_info("cpu", dtype="float32", model=MODEL)
    bench = Bench(quick)
    metrics: dict[str, float] = {}
    details: dict[str, Any] = {}
    t_start = time.perf_counter()
    for names, fn, group in GROUPS:
        if only and not (set(names) & set(only) or group in only):
            continue
        t0 = time.perf_counter()
        got, info = fn(bench)
        info["section_wall_s"] = _r(time.perf_counter() - t0, 1)
        metrics.update(got)
        details[group] = info
        _log(f"{group}: " + ", ".join(f"{k}={v:g}" for k, v in got.items()))
    total = _r(time.perf_counter() - t_start, 1)
    details["run"] = {"quick": quick, "only": only, "total_wall_s": total,
                      "model_load_s": _r(getattr(bench, "load_s", 0.0)),
                      "targets": {k: _target_text(k) for k in metrics}}
    return report("bench", command, figures(metrics, details), machine, total_wall_s=total,
                  metrics=metrics, details=details)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes (for the tests)")
    parser.add_argument("--only", default="", help="comma-separated metric names: "
                        + ", ".join(ALL_METRICS))
    parser.add_argument("--out", default="reports/bench.json", help="JSON report path")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rss-batch-size", type=int, default=24, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    offline()
    if args.rss_child:
        print(json.dumps(rss_child(args.quick, args.rss_batch_size)), flush=True)
        return 0
    only = [s.strip() for s in args.only.split(",") if s.strip()] or None
    result = run(quick=args.quick, only=only, command=command_line("benchmarks.bench", argv))
    for name, value in result["metrics"].items():
        if not math.isfinite(value):
            _log(f"warning: {name} is not finite")
    write_report(args.out, result)
    print(format_table(result["metrics"]))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
