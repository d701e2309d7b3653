"""Steering damage: KL(steered || unsteered) of next-token distributions, teacher-forced.

Each benign prompt is followed by its reference continuation (as the assistant turn); one
forward pass without and one with steering give the next-token distributions at every
position that predicts a continuation token. A prompt's damage is the mean KL over those
positions; the figure is the mean over prompts, with a bootstrap interval over prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from pytest_persona.core.generation import as_messages, chat_prompt, ensure_pad_token
from pytest_persona.core.layers import check_layer, find_layers
from pytest_persona.core.steering import POSITIONS, Positions


def kl_divergence(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """KL(p || q) in nats over the last axis, from logits (float64)."""
    lp = torch.log_softmax(p_logits.double(), dim=-1)
    lq = torch.log_softmax(q_logits.double(), dim=-1)
    return (lp.exp() * (lp - lq)).sum(-1)


def steered_mask(width: int, offsets: Sequence[int], prompt_lens: Sequence[int],
                 positions: Positions) -> torch.Tensor:
    """[batch, width] float mask of the positions generation would steer, teacher-forced:
    ``all`` every token; ``response`` the last prompt token and every continuation token
    (what the steerer adds to while generating); ``prompt`` the prompt tokens only (the
    prefill; generated tokens are not steered)."""
    if positions not in POSITIONS:
        raise ValueError(f"unknown positions {positions!r}: use one of {', '.join(POSITIONS)}")
    pos = torch.arange(width)[None, :]
    off = torch.tensor(list(offsets))[:, None]
    plen = torch.tensor(list(prompt_lens))[:, None]
    if positions == "all":
        keep = pos >= off
    elif positions == "response":
        keep = pos >= off + plen - 1
    else:
        keep = (pos >= off) & (pos < off + plen)
    return keep.float()


def _rows(tokenizer: Any, prompts: Sequence[str], continuations: Sequence[str]
          ) -> list[tuple[list[int], int]]:
    out = []
    for p, c in zip(prompts, continuations):
        head = list(tokenizer(chat_prompt(tokenizer, as_messages(p)),
                              add_special_tokens=False)["input_ids"])
        tail = list(tokenizer(c, add_special_tokens=False)["input_ids"])
        if not tail:
            raise ValueError(f"reference continuation of {p[:40]!r} has no tokens")
        out.append((head + tail, len(head)))
    return out


def teacher_forced_kl(model: nn.Module, tokenizer: Any, prompts: Sequence[str],
                      continuations: Sequence[str], vector: Any, coeff: float, layer: int,
                      positions: Positions = "all", batch_size: int = 8) -> list[float]:
    """Per prompt: mean KL(steered || unsteered) over the positions that predict its reference
    continuation's tokens (the last prompt token up to the second-last continuation token)."""
    if len(prompts) != len(continuations):
        raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
    ensure_pad_token(tokenizer)
    block = find_layers(model)[check_layer(model, layer)]
    device = next(model.parameters()).device
    vec = torch.as_tensor(vector).detach().float().flatten()
    rows = _rows(tokenizer, prompts, continuations)
    out: list[float] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        width = max(len(r) for r, _ in chunk)
        ids = torch.full((len(chunk), width), int(tokenizer.pad_token_id), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, (r, _) in enumerate(chunk):
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
        kwargs = {"input_ids": ids.to(device), "attention_mask": mask.to(device),
                  "position_ids": (mask.cumsum(-1) - 1).clamp(min=0).to(device),
                  "use_cache": False}
        where = steered_mask(width, [width - len(r) for r, _ in chunk],
                             [p for _, p in chunk], positions)

        def hook(_m: nn.Module, _i: Any, output: Any) -> Any:
            hidden = output[0] if isinstance(output, tuple) else output
            add = (float(coeff) * where.to(hidden.device, hidden.dtype)[:, :, None]
                   * vec.to(hidden.device, hidden.dtype))
            return (hidden + add, *output[1:]) if isinstance(output, tuple) else hidden + add

        with torch.inference_mode():
            base = model(**kwargs).logits.float().cpu()
            handle = block.register_forward_hook(hook)
            try:
                steered = model(**kwargs).logits.float().cpu()
            finally:
                handle.remove()
        kl = kl_divergence(steered, base)
        for i, (r, plen) in enumerate(chunk):
            off = width - len(r)
            # logits at position t predict token t+1: continuation tokens sit at plen..len-1
            span = kl[i, off + plen - 1: off + len(r) - 1]
            out.append(float(span.mean()))
    return out
