"""GPU bench on a randomly initialised Qwen2.5-7B-Instruct-shaped model: ratios within one run.

    python -m benchmarks.gpu [--tiny] [--compare-attn] [--out reports/gpu-bench.json]

The model has the exact shape of Qwen2.5-7B-Instruct (benchmarks/configs/qwen2.5-7b.json: 28
blocks, d_model 3584, 28 query / 4 KV heads, MLP 18944, vocab 152064), random weights, bf16 on
one GPU; nothing is downloaded. The tokenizer is the project's small local BPE (ids it lacks
decode to nothing, which only matters for reading texts: every comparison below is on token ids).
``--tiny`` uses a tiny shape of the same architecture on CPU (fp32 compute is not forced: the
dtype is bf16 as on the GPU), so CI runs every step end to end in about a minute.

Figures, each against a baseline measured in the same process:

- ``hook_ratio_all`` / ``hook_ratio_response``: unsteered / steered generation time at the same
  batch and token count (tokens/s steered over unsteered; target >= 0.97).
- ``sweep_speedup``: 5 coefficients x 20 questions x 256 new tokens, per-row coefficients in one
  batch vs one ``generate`` per (question, coefficient); ratio of tokens/s.
- ``extraction_speedup``: all-layer activations of (prompt, response) pairs, batched vs one at a
  time; ratio of pairs/s (target >= 10 on a GPU).
- peak GPU memory of every step (``torch.cuda.max_memory_allocated``; n/a on CPU).
- ``oom_backoff``: the engine's batch-halving shown working: on a GPU by capping memory with
  ``torch.cuda.set_per_process_memory_fraction``; on CPU by injecting an OOM (simulated).
- steering parity in the bench dtype: coeff 0 bit-identical, per-row coefficients vs separate
  scalar runs (greedy tokens), steered logits vs an fp32 reference of the same weights.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see benchmarks/bench.py

import argparse
import contextlib
import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    Figure,
    command_line,
    figure,
    format_table,
    logger,
    machine_info,
    report,
    rounded,
    write_report,
)

CONFIG = Path(__file__).resolve().parent / "configs" / "qwen2.5-7b.json"
TINY_SHAPE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4,
              "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1024,
              "bos_token_id": 1, "eos_token_id": 3}
SEED = 0


@dataclass(frozen=True)
class Sizes:
    """How much work each step does."""

    layer: int
    throughput_batch: int
    throughput_tokens: int
    repeats: int
    sweep_questions: int
    sweep_coeffs: tuple[float, ...]
    sweep_tokens: int
    loop_calls: int  # reference loop calls actually timed (its tokens/s is the baseline)
    extraction_pairs: int
    extraction_single_pairs: int
    extraction_batch: int
    response_paragraphs: int  # responses of 1..N paragraphs
    parity_rows: int
    parity_tokens: int
    oom_start_batch: int


FULL = Sizes(layer=19, throughput_batch=32, throughput_tokens=128, repeats=2,
             sweep_questions=20, sweep_coeffs=(-2.0, -1.0, 0.0, 1.0, 2.0), sweep_tokens=256,
             loop_calls=20, extraction_pairs=1000, extraction_single_pairs=250,
             extraction_batch=32, response_paragraphs=4, parity_rows=8, parity_tokens=32, oom_start_batch=64)
TINY = Sizes(layer=2, throughput_batch=4, throughput_tokens=8, repeats=1,
             sweep_questions=4, sweep_coeffs=(-2.0, -1.0, 0.0, 1.0, 2.0), sweep_tokens=8,
             loop_calls=20, extraction_pairs=24, extraction_single_pairs=24,
             extraction_batch=8, response_paragraphs=1, parity_rows=4, parity_tokens=8, oom_start_batch=8)


_log = logger("bench-gpu")
_r = rounded


# -- model and data ----------------------------------------------------------------------------
def load_config(tiny: bool, attn: str | None = None) -> Any:
    """The Qwen2.5-7B-shaped config from the repo (tiny widths with ``tiny``)."""
    from transformers import AutoConfig

    fields = {k: v for k, v in json.loads(CONFIG.read_text()).items()
              if not k.startswith("_") and k not in ("architectures", "torch_dtype")}
    model_type = fields.pop("model_type")
    if tiny:
        fields.update(TINY_SHAPE)
    config = AutoConfig.for_model(model_type, **fields)
    if attn:
        config._attn_implementation = attn
    return config


def build_model(tiny: bool, device: str, dtype: Any, attn: str | None = None) -> tuple[Any, Any]:
    """Random weights (seeded) initialised directly on ``device``, and the local tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM

    from pytest_persona.models.tiny import make_tiny_tokenizer

    config = load_config(tiny, attn)
    with torch.random.fork_rng(devices=[]), torch.device(device):
        torch.manual_seed(SEED)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.eval()
    tokenizer = make_tiny_tokenizer()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def questions(n: int) -> list[str]:
    from pytest_persona.traits.loader import load_trait

    trait = load_trait("sycophantic")
    pool = list(trait.eval_questions) + list(trait.extract_questions)
    return [pool[i % len(pool)] for i in range(n)]


def pairs(n: int, paragraphs: int = 4) -> tuple[list[str], list[str]]:
    """(question, response) pairs, responses of one to ``paragraphs`` paragraphs."""
    from benchmarks.bench import RESPONSES

    qs = questions(n)
    responses = []
    for i in range(n):
        parts = [RESPONSES[(i + j * 3) % len(RESPONSES)] for j in range(1 + i % paragraphs)]
        responses.append(" ".join(parts))
    return qs, responses


def steering_vector(model: Any, tokenizer: Any, layer: int) -> Any:
    """A seeded random direction scaled to the residual-stream norm at ``layer``."""
    import torch

    from pytest_persona.core.activations import collect_activations
    from pytest_persona.core.steering import model_d_model

    qs, rs = pairs(4, 1)
    acts = collect_activations(model, tokenizer, qs, rs, batch_size=4)
    norm = float(acts.prompt_avg[:, layer].norm(dim=-1).mean())
    gen = torch.Generator().manual_seed(SEED)
    vec = torch.randn(model_d_model(model), generator=gen)
    return vec / vec.norm() * max(norm, 1e-3)


# -- measurement helpers -----------------------------------------------------------------------
def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(device: str, fn: Callable[[], Any]) -> tuple[float, Any]:
    _sync(device)
    t0 = time.perf_counter()
    result = fn()
    _sync(device)
    return time.perf_counter() - t0, result


@contextlib.contextmanager
def peak_memory(device: str, into: dict[str, Any]) -> Iterator[None]:
    """Record the step's peak allocated GPU memory (MiB) in ``into['peak_gpu_mib']``."""
    import torch

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    try:
        yield
    finally:
        into["peak_gpu_mib"] = (_r(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda
                                else "n/a (CPU run)")


@contextlib.contextmanager
def fixed_length(model: Any, tokens: int) -> Iterator[None]:
    """Every row generates exactly ``tokens`` tokens (EOS suppressed until then): equal work."""
    old = getattr(model.generation_config, "min_new_tokens", None)
    model.generation_config.min_new_tokens = tokens
    try:
        yield
    finally:
        model.generation_config.min_new_tokens = old


def _engine_generate(b: Bench, items: list[str], tokens: int, batch: int,
                     steering: Any = None, coeffs: list[float] | None = None) -> int:
    """Generate through the project's engine; return the number of generated tokens."""
    from pytest_persona.core.generation import STATS, GenerationConfig, generate

    before = STATS.generated_tokens
    generate(b.model, b.tok, items, GenerationConfig(max_new_tokens=tokens, batch_size=batch),
             steering=steering, coeffs=coeffs)
    return STATS.generated_tokens - before


def _greedy_ids(b: Bench, prompts: list[str], tokens: int, coeff: Any = None,
                positions: str = "response") -> list[list[int]]:
    """Greedy token ids of one left-padded batch, steered by ActivationSteerer when ``coeff``."""
    import torch

    from pytest_persona.core.generation import as_messages, chat_prompt, ensure_pad_token
    from pytest_persona.core.steering import ActivationSteerer

    ensure_pad_token(b.tok)
    texts = [chat_prompt(b.tok, as_messages(p)) for p in prompts]
    enc = b.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    enc = {k: v.to(b.device) for k, v in enc.items()}
    ctx: Any = (ActivationSteerer(b.model, b.vector, coeff, b.sizes.layer, positions)  # type: ignore[arg-type]
                if coeff is not None else contextlib.nullcontext())
    with ctx, torch.inference_mode():
        out = b.model.generate(**enc, max_new_tokens=tokens, min_new_tokens=tokens,
                               do_sample=False, temperature=None, top_p=None, top_k=None,
                               pad_token_id=b.tok.pad_token_id)
    return [row[enc["input_ids"].shape[1]:] for row in out.tolist()]


def _last_logits(b: Bench, prompts: list[str], coeff: Any, positions: str = "all") -> Any:
    """Float32 logits at the last prompt position, steered when ``coeff`` is not None."""
    import torch

    from pytest_persona.core.generation import as_messages, chat_prompt, ensure_pad_token
    from pytest_persona.core.steering import ActivationSteerer

    ensure_pad_token(b.tok)
    texts = [chat_prompt(b.tok, as_messages(p)) for p in prompts]
    enc = b.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    enc = {k: v.to(b.device) for k, v in enc.items()}
    position_ids = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    ctx: Any = (ActivationSteerer(b.model, b.vector, coeff, b.sizes.layer, positions)  # type: ignore[arg-type]
                if coeff is not None else contextlib.nullcontext())
    with ctx, torch.inference_mode():
        logits = b.model(**enc, position_ids=position_ids, use_cache=False).logits
    return logits[:, -1, :].float().cpu()


class Bench:
    """The model, tokenizer, steering vector and sizes shared by the steps."""

    def __init__(self, tiny: bool, device: str) -> None:
        import torch

        self.tiny = tiny
        self.device = device
        self.sizes = TINY if tiny else FULL
        self.dtype = torch.bfloat16
        t0 = time.perf_counter()
        self.model, self.tok = build_model(tiny, device, self.dtype)
        _sync(device)
        self.build_s = time.perf_counter() - t0
        self.weights_mib = (_r(torch.cuda.memory_allocated() / 2**20, 1)
                            if device.startswith("cuda") else "n/a (CPU run)")
        self.n_params = sum(p.numel() for p in self.model.parameters())
        self.attn_default = str(self.model.config._attn_implementation)
        self.vector = steering_vector(self.model, self.tok, self.sizes.layer)

    def steering(self, positions: str) -> Any:
        from pytest_persona.core.generation import Steering

        return Steering(self.vector, self.sizes.layer, positions)


Step = Callable[[Bench], tuple[list[Figure], dict[str, Any]]]


def fig(name: str, value: Any, unit: str, what: str, target: str | None = None) -> Figure:
    """A figure of this bench (its step is set by :func:`run`)."""
    return figure(name, value, unit, what, target)


# -- 1. hook overhead --------------------------------------------------------------------------
def step_hook(b: Bench) -> tuple[list[Figure], dict[str, Any]]:
    s = b.sizes
    items = questions(s.throughput_batch)
    coeffs = [s.sweep_coeffs[i % len(s.sweep_coeffs)] or 1.0 for i in range(len(items))]
    runs: dict[str, list[float]] = {"unsteered": [], "all": [], "response": []}
    tokens: dict[str, int] = {}
    _engine_generate(b, items[:2], 2, 2)  # warm-up
    with fixed_length(b.model, s.throughput_tokens):
        for _ in range(s.repeats):  # interleaved: drifting load hits every side alike
            for label in runs:
                steer = None if label == "unsteered" else b.steering(label)
                wall, n = _timed(b.device, functools.partial(
                    _engine_generate, b, items, s.throughput_tokens, len(items), steer,
                    coeffs if steer is not None else None))
                runs[label].append(wall)
                tokens[label] = n
    rate = {k: tokens[k] / min(v) for k, v in runs.items()}
    figures = [fig(f"hook_ratio_{pos}", _r(rate[pos] / rate["unsteered"]), "ratio",
                   f"tokens/s steered (positions {pos}, per-row coefficients) / unsteered, "
                   f"batch {len(items)} x {s.throughput_tokens} tokens, best of {s.repeats}",
                   ">= 0.97") for pos in ("all", "response")]
    figures.append(fig("unsteered_tokens_per_s", _r(rate["unsteered"], 1), "tokens/s",
                       f"engine generate, batch {len(items)}, {s.throughput_tokens} new tokens"))
    details = {"wall_s": {k: [_r(t) for t in v] for k, v in runs.items()},
               "generated_tokens": tokens, "tokens_per_s": {k: _r(v, 1) for k, v in rate.items()}}
    return figures, details


# -- 2. suite-shaped sweep ---------------------------------------------------------------------
def step_sweep(b: Bench) -> tuple[list[Figure], dict[str, Any]]:
    s = b.sizes
    qs = questions(s.sweep_questions)
    items = [q for _ in s.sweep_coeffs for q in qs]
    row_coeffs = [c for c in s.sweep_coeffs for _ in qs]
    steer = b.steering("response")
    with fixed_length(b.model, s.sweep_tokens):
        batched_s, batched_n = _timed(b.device, lambda: _engine_generate(
            b, items, s.sweep_tokens, len(items), steer, row_coeffs))
        calls = list(zip(items, row_coeffs))[:: max(1, len(items) // s.loop_calls)][:s.loop_calls]
        loop_n = 0
        t0 = time.perf_counter()
        for item, coeff in calls:
            loop_n += _engine_generate(b, [item], s.sweep_tokens, 1, steer, [coeff])
        _sync(b.device)
        loop_s = time.perf_counter() - t0
    batched_rate, loop_rate = batched_n / batched_s, loop_n / loop_s
    figures = [
        fig("sweep_speedup", _r(batched_rate / loop_rate, 2), "ratio",
            f"{len(s.sweep_coeffs)} coeffs x {len(qs)} questions x {s.sweep_tokens} tokens: "
            "tokens/s of one per-row-coefficient batch / tokens/s of one generate per "
            f"(question, coeff), the latter timed on {len(calls)} of the {len(items)} calls"),
        fig("sweep_batched_tokens_per_s", _r(batched_rate, 1), "tokens/s",
            f"one batch of {len(items)} rows"),
        fig("sweep_loop_tokens_per_s", _r(loop_rate, 1), "tokens/s",
            "one generate per (question, coeff), batch 1"),
    ]
    details = {"rows": len(items), "coefficients": list(s.sweep_coeffs),
               "batched": {"wall_s": _r(batched_s), "generated_tokens": batched_n},
               "loop": {"calls_timed": len(calls), "calls_in_sweep": len(items),
                        "wall_s": _r(loop_s), "generated_tokens": loop_n,
                        "projected_full_loop_s": _r(loop_s * len(items) / len(calls), 1)}}
    return figures, details


# -- 3. extraction -----------------------------------------------------------------------------
def step_extraction(b: Bench) -> tuple[list[Figure], dict[str, Any]]:
    import torch

    from pytest_persona.core.activations import collect_activations

    s = b.sizes
    prompts, responses = pairs(s.extraction_pairs, s.response_paragraphs)
    collect_activations(b.model, b.tok, prompts[:4], responses[:4], batch_size=4)  # warm-up
    batched_s, acts = _timed(b.device, lambda: collect_activations(
        b.model, b.tok, prompts, responses, batch_size=s.extraction_batch))
    k = s.extraction_single_pairs
    single_s, single = _timed(b.device, lambda: collect_activations(
        b.model, b.tok, prompts[:k], responses[:k], batch_size=1))
    batched_rate, single_rate = len(prompts) / batched_s, k / single_s
    a, c = acts.response_avg[:k], single.response_avg
    rel = float((a - c).norm() / c.norm().clamp(min=1e-12))
    lengths = sorted(len(b.tok(r, add_special_tokens=False)["input_ids"]) for r in responses)
    from pytest_persona.core.generation import as_messages, chat_prompt

    prompt_tokens = sum(len(b.tok(chat_prompt(b.tok, as_messages(q)), add_special_tokens=False)
                            ["input_ids"]) for q in prompts)
    tokens = prompt_tokens + sum(lengths)
    # dense-matmul work only (2 x parameters per token; attention adds more): how close the
    # batched path is to the card's peak, i.e. how much room a bigger ratio could have
    tflops = 2 * b.n_params * tokens / batched_s / 1e12
    figures = [
        fig("extraction_speedup", _r(batched_rate / single_rate, 2), "ratio",
            f"pairs/s of all-layer activations, batch {s.extraction_batch} (length-sorted) over "
            f"{len(prompts)} pairs / batch 1 over the first {k}", ">= 10 (GPU)"),
        fig("extraction_batched_pairs_per_s", _r(batched_rate, 1), "pairs/s",
            f"{len(prompts)} pairs, batch {s.extraction_batch}"),
        fig("extraction_single_pairs_per_s", _r(single_rate, 1), "pairs/s",
            f"{k} pairs, one forward pass each"),
    ]
    details = {"layers": int(acts.response_avg.shape[1]),
               "response_tokens_min_median_max": [lengths[0], lengths[len(lengths) // 2],
                                                  lengths[-1]],
               "batched_s": _r(batched_s), "single_s": _r(single_s),
               "tokens_prompt_plus_response": tokens,
               "batched_dense_tflops_per_s": _r(tflops, 1),
               "single_dense_tflops_per_s": _r(tflops * single_rate / batched_rate, 1),
               "response_avg_rel_l2_batched_vs_single": float(f"{rel:.3g}"),
               "dtype": str(b.dtype).replace("torch.", ""),
               "finite": bool(torch.isfinite(acts.response_avg).all())}
    return figures, details


# -- 4. OOM back-off ---------------------------------------------------------------------------
@contextlib.contextmanager
def record_batches(attempts: list[dict[str, Any]], inject_above: int | None) -> Iterator[None]:
    """Wrap the engine's batch call: log each attempt; raise a simulated OOM above a size."""
    import torch

    from pytest_persona.core import generation

    real = generation._generate_batch

    def wrapped(model: Any, tokenizer: Any, prompts: list[str], *args: Any, **kw: Any) -> Any:
        entry: dict[str, Any] = {"batch_size": len(prompts)}
        attempts.append(entry)
        if inject_above is not None and len(prompts) > inject_above:
            entry["outcome"] = "OutOfMemoryError (simulated)"
            raise torch.cuda.OutOfMemoryError("simulated out of memory (CPU bench)")
        try:
            result = real(model, tokenizer, prompts, *args, **kw)
        except torch.cuda.OutOfMemoryError:
            entry["outcome"] = "OutOfMemoryError"
            raise
        entry["outcome"] = "ok"
        return result

    generation._generate_batch = wrapped
    try:
        yield
    finally:
        generation._generate_batch = real


def step_oom(b: Bench) -> tuple[list[Figure], dict[str, Any]]:
    import torch

    s = b.sizes
    items = questions(s.oom_start_batch)
    steer = b.steering("response")
    coeffs = [1.0] * len(items)
    attempts: list[dict[str, Any]] = []
    details: dict[str, Any] = {"start_batch_size": len(items)}
    cuda = b.device.startswith("cuda")
    with fixed_length(b.model, s.throughput_tokens):
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            _engine_generate(b, items[:1], s.throughput_tokens, 1, steer, coeffs[:1])
            per_row = max(torch.cuda.max_memory_allocated() - base, 1)
            total = torch.cuda.get_device_properties(0).total_memory
            cap = base + 6 * per_row + 256 * 2**20
            fraction = min(1.0, cap / total)
            details.update(simulated=False, base_mib=_r(base / 2**20, 1),
                           batch1_extra_mib=_r(per_row / 2**20, 1),
                           memory_fraction=_r(fraction, 4), cap_mib=_r(cap / 2**20, 1))
            torch.cuda.empty_cache()
            torch.cuda.set_per_process_memory_fraction(fraction)
        else:
            details.update(simulated=True, note="no GPU: an OutOfMemoryError is injected for "
                           f"batches above {max(1, len(items) // 4)} rows into the engine's "
                           "batch call, exercising its real halving path")
        try:
            with record_batches(attempts, None if cuda else max(1, len(items) // 4)):
                n = _engine_generate(b, items, s.throughput_tokens, len(items), steer, coeffs)
        finally:
            if cuda:
                torch.cuda.set_per_process_memory_fraction(1.0)
                torch.cuda.empty_cache()
    ok = [a["batch_size"] for a in attempts if a["outcome"] == "ok"]
    failed = [a["batch_size"] for a in attempts if a["outcome"] != "ok"]
    worked = bool(failed) and bool(ok) and n == len(items) * s.throughput_tokens
    details.update(attempts=attempts, generated_tokens=n)
    label = "simulated OOM" if not cuda else "memory capped with set_per_process_memory_fraction"
    return [fig("oom_backoff", "worked" if worked else "did not trigger", "",
                f"{label}: batch sizes {failed} failed, then {sorted(set(ok))} completed all "
                f"{len(items)} rows")], details


# -- 5. parity ---------------------------------------------------------------------------------
def step_parity(b: Bench) -> tuple[list[Figure], dict[str, Any]]:
    import torch

    s = b.sizes
    qs = questions(s.parity_rows)
    coeffs = list(s.sweep_coeffs)
    plain_logits = _last_logits(b, qs, None)
    zero_rows = _last_logits(b, qs, [0.0] * len(qs))
    zero_bits = bool(torch.equal(plain_logits, zero_rows))
    plain_ids = _greedy_ids(b, qs, s.parity_tokens)
    zero_ids = _greedy_ids(b, qs, s.parity_tokens, coeff=[0.0] * len(qs))
    # per-row: every (question, coeff) in one batch vs one scalar-coefficient batch per coeff
    items = [q for _ in coeffs for q in qs]
    row_coeffs = [c for c in coeffs for _ in qs]
    per_row = _greedy_ids(b, items, s.parity_tokens, coeff=row_coeffs)
    separate: list[list[int]] = []
    for c in coeffs:
        separate += _greedy_ids(b, qs, s.parity_tokens, coeff=c if c != 0 else None)
    same_rows = sum(x == y for x, y in zip(per_row, separate))
    same_tokens = sum(sum(p == q for p, q in zip(x, y)) for x, y in zip(per_row, separate))
    total_tokens = sum(len(x) for x in separate)
    # controls: the same per-row batch again (run-to-run determinism), and the batch-shape
    # effect with no steering at all (the same 40 rows as one batch vs batches of len(qs))
    repeat = _greedy_ids(b, items, s.parity_tokens, coeff=row_coeffs)
    repeat_rows = sum(x == y for x, y in zip(per_row, repeat))
    plain_big = _greedy_ids(b, items, s.parity_tokens)
    plain_small: list[list[int]] = []
    for _ in coeffs:
        plain_small += _greedy_ids(b, qs, s.parity_tokens)
    shape_rows = sum(x == y for x, y in zip(plain_big, plain_small))
    top2 = _last_logits(b, qs, None).topk(2, dim=-1).values
    gaps = sorted(float(g) for g in (top2[:, 0] - top2[:, 1]))
    # steered logits in the bench dtype vs an fp32 copy of the same weights
    steer_c = [c or 1.0 for c in row_coeffs[: len(qs)]]
    low = _last_logits(b, qs, steer_c)
    b.model.float()
    try:
        ref = _last_logits(b, qs, steer_c)
        ref_plain = _last_logits(b, qs, None)
        per_row32 = _greedy_ids(b, items, s.parity_tokens, coeff=row_coeffs)
        separate32: list[list[int]] = []
        for c in coeffs:
            separate32 += _greedy_ids(b, qs, s.parity_tokens, coeff=c if c != 0 else None)
    finally:
        b.model.to(b.dtype)
    same_rows32 = sum(x == y for x, y in zip(per_row32, separate32))
    rel = float((low - ref).norm() / ref.norm())
    rel_plain = float((plain_logits - ref_plain).norm() / ref_plain.norm())
    top1 = float((low.argmax(-1) == ref.argmax(-1)).float().mean())
    dtype = str(b.dtype).replace("torch.", "")
    figures = [
        fig("coeff0_bit_identical", zero_bits and zero_ids == plain_ids, "bool",
            f"per-row coefficients all 0 vs no hook, {len(qs)} rows: logits torch.equal and "
            f"{s.parity_tokens} greedy tokens equal ({dtype})"),
        fig("per_row_vs_scalar_greedy_rows", f"{same_rows}/{len(separate)}", "rows",
            f"{len(coeffs)} coeffs x {len(qs)} questions in one batch vs one batch per scalar "
            f"coefficient: rows whose {s.parity_tokens} greedy tokens all match "
            f"({same_tokens}/{total_tokens} tokens); batch shape differs, so kernels may "
            "round differently"),
        fig("per_row_vs_scalar_greedy_rows_fp32", f"{same_rows32}/{len(separate32)}", "rows",
            "the same comparison with the weights in float32"),
        fig("repeat_greedy_rows", f"{repeat_rows}/{len(repeat)}", "rows",
            f"the per-row batch run twice ({dtype}): rows whose greedy tokens all match"),
        fig("batch_shape_control_rows", f"{shape_rows}/{len(plain_big)}", "rows",
            f"no steering: {len(plain_big)} rows in one batch vs batches of {len(qs)} "
            f"({dtype}): how much of the per-row mismatch batch shape alone explains"),
        fig("top1_top2_logit_gap_median", float(f"{gaps[len(gaps) // 2]:.3g}"), "logit",
            f"median gap between the two largest {dtype} logits at the last prompt token, "
            f"{len(qs)} rows (random weights give near ties, so rounding flips greedy tokens)"),
        fig("steered_logits_rel_l2_vs_fp32", float(f"{rel:.3g}"), "ratio",
            f"||logits_{dtype} - logits_fp32|| / ||logits_fp32|| at the last prompt token, "
            f"steered (positions all), {len(qs)} rows; unsteered: {rel_plain:.3g}"),
        fig("steered_top1_agreement_vs_fp32", _r(top1), "fraction",
            f"argmax of steered {dtype} logits == fp32 argmax, {len(qs)} rows"),
    ]
    details = {"coeff0_logits_equal": zero_bits, "coeff0_greedy_equal": zero_ids == plain_ids,
               "per_row_matching_rows": same_rows, "rows": len(separate),
               "per_row_matching_tokens": same_tokens, "tokens": total_tokens,
               "per_row_matching_rows_fp32": same_rows32, "repeat_matching_rows": repeat_rows,
               "batch_shape_control_matching_rows": shape_rows,
               "top1_top2_logit_gaps": [float(f"{g:.3g}") for g in gaps],
               "unsteered_logits_rel_l2_vs_fp32": float(f"{rel_plain:.3g}"),
               "max_abs_diff_steered": float(f"{float((low - ref).abs().max()):.3g}")}
    return figures, details


# -- 6. attention implementations (optional) ----------------------------------------------------
def step_attn(b: Bench) -> tuple[list[Figure], dict[str, Any]]:
    """Per-row steered generation under eager / SDPA attention and a static KV cache."""
    s = b.sizes
    items = questions(s.throughput_batch)
    coeffs = [s.sweep_coeffs[i % len(s.sweep_coeffs)] or 1.0 for i in range(len(items))]
    base_ids = _greedy_ids(b, items, s.throughput_tokens, coeff=coeffs)
    results: dict[str, Any] = {}
    gen_cfg = b.model.generation_config
    for label, attn, cache in (("eager", "eager", None), ("sdpa", "sdpa", None),
                               ("sdpa+static_cache", "sdpa", "static")):
        try:
            b.model.set_attn_implementation(attn)
        except (ValueError, ImportError, AttributeError) as exc:
            results[label] = {"error": str(exc)[:200]}
            continue
        old_cache = getattr(gen_cfg, "cache_implementation", None)
        gen_cfg.cache_implementation = cache
        try:
            _engine_generate(b, items[:2], 2, 2, b.steering("response"), coeffs[:2])
            with fixed_length(b.model, s.throughput_tokens):
                wall, n = _timed(b.device, lambda: _engine_generate(
                    b, items, s.throughput_tokens, len(items), b.steering("response"), coeffs))
            ids = _greedy_ids(b, items, s.throughput_tokens, coeff=coeffs)
            results[label] = {"tokens_per_s": _r(n / wall, 1),
                              "greedy_rows_equal_to_default": sum(x == y for x, y in
                                                                  zip(ids, base_ids))}
        except Exception as exc:  # noqa: BLE001 - reported, not fatal: this is a comparison
            results[label] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        finally:
            gen_cfg.cache_implementation = old_cache
    b.model.set_attn_implementation(b.attn_default)
    rates = {k: v["tokens_per_s"] for k, v in results.items() if "tokens_per_s" in v}
    figures = [fig(f"attn_{k}_tokens_per_s", v, "tokens/s",
                   f"steered per-row generation, batch {len(items)} x {s.throughput_tokens} "
                   f"tokens ({k})") for k, v in rates.items()]
    return figures, {"rows": len(items), "by_implementation": results,
                     "engine_default": b.attn_default}


STEPS: list[tuple[str, Step]] = [
    ("hook_overhead", step_hook),
    ("sweep", step_sweep),
    ("extraction", step_extraction),
    ("oom_backoff", step_oom),
    ("parity", step_parity),
]


STEP_NAMES = [name for name, _ in STEPS] + ["attention"]


def machine(device: str) -> dict[str, Any]:
    """The harness's machine description, for ``device``."""
    return machine_info(device)


def run(tiny: bool, device: str | None = None, compare_attn: bool = False,
        on_step: Callable[[dict[str, Any]], None] | None = None,
        only: list[str] | None = None, command: str = "python -m benchmarks.gpu"
        ) -> dict[str, Any]:
    """Build the model, run every step, return the report dict.

    ``on_step`` receives the report so far (``complete`` false) after each step, so a run cut
    off by a time limit still leaves the figures of the steps that finished.
    """
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda but torch sees no GPU")
    t_start = time.perf_counter()
    _log(f"building {'tiny' if tiny else 'Qwen2.5-7B'}-shaped model on {device} (bf16)")
    host = machine(device)
    b = Bench(tiny, device)
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    steps = STEPS + ([("attention", step_attn)] if compare_attn else [])
    if only:
        unknown = set(only) - set(STEP_NAMES)
        if unknown:  # main() rejects these before any model is built; this guards run()
            raise ValueError(f"unknown step(s) {sorted(unknown)}: choose from {STEP_NAMES}")
        steps = [(name, fn) for name, fn in STEPS + [("attention", step_attn)] if name in only]
    for name, fn in steps:
        _log(f"step {name}")
        info: dict[str, Any] = {}
        t0 = time.perf_counter()
        with peak_memory(device, info):
            got, more = fn(b)
        info.update(more, wall_s=_r(time.perf_counter() - t0, 1))
        for f in got:
            f["step"] = name
            f["peak_gpu_mib"] = info["peak_gpu_mib"]
        figures += got
        details[name] = info
        if on_step is not None:
            on_step(_report(b, host, command, figures, details, t_start, complete=False))
    return _report(b, host, command, figures, details, t_start, complete=True)


def _report(b: Bench, host: dict[str, Any], command: str, figures: list[Figure],
            details: dict[str, Any], t_start: float, complete: bool) -> dict[str, Any]:
    tiny = b.tiny
    return report(
        "gpu", command, figures, host,
        model={"shape": "tiny (--tiny)" if tiny else "Qwen2.5-7B-Instruct",
                  "config": str(CONFIG.relative_to(CONFIG.parents[2])),
                  "overrides": TINY_SHAPE if tiny else {}, "weights": f"random (seed {SEED})",
                  "dtype": "bfloat16", "parameters": b.n_params,
                  "attn_implementation": b.attn_default, "kv_cache": "dynamic (HF default)",
                  "build_s": _r(b.build_s, 1), "weights_gpu_mib": b.weights_mib,
                  "steering": f"layer {b.sizes.layer}, seeded random direction scaled to the "
                              "mean prompt residual norm there"},
        sizes=b.sizes.__dict__,
        details=details,
        total_wall_s=_r(time.perf_counter() - t_start, 1),
        complete=complete,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny shape (CPU, CI)")
    parser.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    parser.add_argument("--compare-attn", action="store_true",
                        help="also time eager vs SDPA attention and a static KV cache")
    parser.add_argument("--only", action="append", default=None, choices=STEP_NAMES,
                        help="run only this step (repeatable)")
    parser.add_argument("--out", default="reports/gpu-bench.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    def save(result: dict[str, Any]) -> None:
        write_report(args.out, result)

    result = run(args.tiny, args.device, args.compare_attn, on_step=save, only=args.only,
                 command=command_line("benchmarks.gpu", argv))
    save(result)
    m = result["machine"]
    print(f"{m['device_name']} | torch {m['torch']} | transformers {m['transformers']} | "
          f"{result['model']['shape']} bf16 | {result['total_wall_s']} s")
    print(format_table(result["figures"], extra=(("step", "step"), ("peak_gpu_mib", "peak GPU MiB"))))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
