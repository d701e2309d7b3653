"""Batched chat generation with left padding, per-row seeds and per-row steering coefficients.

Sampled rows draw from their own seeded generators (core/sampling.py), so a response is a
function of its row's seed, prompt, coefficient and sampling parameters, never of the batch
it ran in: cold, resumed, parallel and warm runs give the same texts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from pytest_persona.core.arrays import to_tensor
from pytest_persona.core.positions import check_positions
from pytest_persona.core.requests import STATS as STATS  # re-exported: the public names
from pytest_persona.core.requests import GenerationConfig as GenerationConfig
from pytest_persona.core.requests import GenerationStats as GenerationStats
from pytest_persona.core.requests import Messages as Messages
from pytest_persona.core.requests import Steering as Steering
from pytest_persona.core.requests import as_messages as as_messages
from pytest_persona.core.requests import request_key as request_key
from pytest_persona.core.requests import row_seed
from pytest_persona.core.sampling import RowSampler
from pytest_persona.core.steering import ActivationSteerer

Progress = Callable[[int, int], None]
PAD_CANDIDATES = ("<pad>", "<|pad|>", "[PAD]", "<|finetune_right_pad_id|>", "<|endoftext|>")


def ensure_pad_token(tokenizer: Any) -> None:
    """Give the tokenizer a real pad token where it has one, left padding always."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is not None and tokenizer.pad_token != tokenizer.eos_token:
        return
    vocab = tokenizer.get_vocab()
    for candidate in PAD_CANDIDATES:
        if candidate in vocab and candidate != tokenizer.eos_token:
            tokenizer.pad_token = candidate
            return
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # masked out by the attention mask anyway


def chat_prompt(tokenizer: Any, messages: Messages) -> str:
    """Render messages with the chat template and the assistant turn opened.

    Templates that reject a system role (Gemma) get the system text folded into the user turn.
    """
    try:
        return str(
            tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )
    except Exception:  # noqa: BLE001 - template raised on a system message
        if not messages or messages[0]["role"] != "system":
            raise
        system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
        return str(tokenizer.apply_chat_template(rest, tokenize=False, add_generation_prompt=True))


def eos_ids(model: nn.Module, tokenizer: Any) -> list[int]:
    """Every token id that ends a turn for this model."""
    ids: set[int] = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif isinstance(configured, (list, tuple)):
        ids.update(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    for token in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>"):
        tid = tokenizer.get_vocab().get(token)
        if tid is not None:
            ids.add(int(tid))
    return sorted(ids)


def auto_batch_size(model: nn.Module) -> int:
    """A starting batch size: generous on GPU (halved on OOM), modest on CPU."""
    device = next(model.parameters()).device
    return 64 if device.type == "cuda" else 24


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _generate_batch(
    model: nn.Module,
    tokenizer: Any,
    prompts: list[str],
    config: GenerationConfig,
    coeffs: list[float] | None,
    steering: Steering | None,
    seeds: list[int],
) -> list[str]:
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    enc = {k: v.to(_model_device(model)) for k, v in enc.items()}
    sample = config.temperature > 0
    kwargs: dict[str, Any] = {
        "max_new_tokens": config.max_new_tokens,
        "do_sample": sample,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": eos_ids(model, tokenizer),
    }
    # always greedy in HF terms: sampled rows pick their token in RowSampler, per-row seeded
    kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    if sample:
        kwargs["logits_processor"] = [RowSampler(seeds, config.temperature, config.top_p)]
    ctx: Any = nullcontext()
    if steering is not None and coeffs is not None and any(c != 0 for c in coeffs):
        coeff: Any = coeffs if len(set(coeffs)) > 1 else float(coeffs[0])
        ctx = ActivationSteerer(model, to_tensor(steering.vector), coeff, steering.layer,
                                check_positions(steering.positions))
    run: Any = model.generate  # nn.Module types .generate as Tensor | Module
    with ctx, torch.inference_mode():
        out = run(**enc, **kwargs)
    new = out[:, enc["input_ids"].shape[1]:]
    stops = set(kwargs["eos_token_id"]) | {tokenizer.pad_token_id}
    texts: list[str] = []
    for row in new.tolist():
        kept = []
        for tid in row:
            if tid in stops:
                break
            kept.append(tid)
        STATS.generated_tokens += len(kept)
        texts.append(tokenizer.decode(kept, skip_special_tokens=True).strip())
    STATS.generate_calls += 1
    STATS.rows += len(prompts)
    return texts


def generate(
    model: nn.Module,
    tokenizer: Any,
    items: Sequence[str | Messages],
    config: GenerationConfig = GenerationConfig(),
    *,
    system: str | None = None,
    steering: Steering | None = None,
    coeffs: Sequence[float] | None = None,
    progress: Progress | None = None,
    on_batch: Callable[[list[int], list[str]], None] | None = None,
    seeds: Sequence[int] | None = None,
) -> list[str]:
    """Generate one response per item, in order.

    ``coeffs`` gives one steering coefficient per item (``steering`` must be set), so a
    questions x coefficients sweep runs as a few large batches. Rows are grouped by prompt
    length to limit padding. Sampled rows use one seed each: ``seeds``, or by default a hash
    of (config seed, messages), as the response cache does for sample 0. So a row's text does
    not depend on the batch size or on the other rows, and every coefficient of a sweep sees
    the same random numbers. ``on_batch(indices, texts)`` is
    called as each batch finishes (for caching).
    """
    ensure_pad_token(tokenizer)
    if coeffs is not None and len(coeffs) != len(items):
        raise ValueError(f"coeffs has {len(coeffs)} entries for {len(items)} items")
    if coeffs is not None and steering is None:
        raise ValueError("coeffs given without a steering vector")
    if seeds is not None and len(seeds) != len(items):
        raise ValueError(f"seeds has {len(seeds)} entries for {len(items)} items")
    messages = [as_messages(item, system) for item in items]
    prompts = [chat_prompt(tokenizer, m) for m in messages]
    row_seeds = [int(s) for s in seeds] if seeds is not None else [
        row_seed(config.seed, m) for m in messages]
    order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i))
    results: list[str] = [""] * len(prompts)
    size = config.batch_size or auto_batch_size(model)
    if progress is not None and prompts:
        progress(0, len(prompts))  # starts the clock: elapsed and time left are honest
    done = 0
    start = 0
    while start < len(order):
        idx = order[start:start + size]
        row_coeffs = [float(coeffs[i]) for i in idx] if coeffs is not None else None
        try:
            texts = _generate_batch(
                model, tokenizer, [prompts[i] for i in idx], config, row_coeffs, steering,
                seeds=[row_seeds[i] for i in idx],
            )
        except torch.cuda.OutOfMemoryError:
            if size == 1:
                raise
            size = max(1, size // 2)
            torch.cuda.empty_cache()
            continue
        for i, text in zip(idx, texts):
            results[i] = text
        if on_batch is not None:
            on_batch(idx, texts)
        start += len(idx)
        done += len(idx)
        if progress is not None:
            progress(done, len(prompts))
    return results
