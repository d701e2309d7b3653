"""Hidden states of (prompt, response) pairs at every layer, one forward pass per batch.

Block outputs are captured with forward hooks (the same place the steerer adds to), so
"layer L" here means exactly the output of decoder block L. Padding is masked out and all
averages are taken in float32.

Each summary is a *pooling* of a block's outputs over positions: ``response_avg`` (mean over the
response tokens), ``prompt_avg`` (mean over the prompt tokens), ``prompt_last`` (the last prompt
token). The pooling names are also the names under which vector files store them.

The forward pass stops after the deepest block asked for (a private exception raised from its
hook): the final norm and the unembedding, whose full-vocabulary logits nothing here reads, are
never computed, and neither are blocks below none of the requested layers' outputs. Every
captured block output is bit-identical to a full forward pass's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from pytest_persona._util.deprecated import module_alias, renamed_keyword
from pytest_persona.core.generation import Messages, as_messages, chat_prompt, ensure_pad_token
from pytest_persona.core.layers import find_layers

POOLINGS = ("response_avg", "prompt_avg", "prompt_last")

if TYPE_CHECKING:
    KINDS = POOLINGS  # deprecated alias (at runtime the module __getattr__ below warns)
else:

    def __getattr__(name: str) -> Any:
        return module_alias(__name__, name, {"KINDS": "POOLINGS"})


@dataclass
class Activations:
    """Per-example summaries, each ``[n_examples, n_layers, d_model]`` float32 on CPU."""

    response_avg: torch.Tensor
    prompt_avg: torch.Tensor
    prompt_last: torch.Tensor

    @renamed_keyword("kind", "pooling")
    def get(self, pooling: str) -> torch.Tensor:
        """The summary of one pooling (one of :data:`POOLINGS`)."""
        if pooling not in POOLINGS:
            # "activation kind": the old word, which tests/core/test_activations.py matches
            raise ValueError(f"unknown activation kind {pooling!r}: the pooling is one of "
                             f"{', '.join(POOLINGS)}")
        return {"response_avg": self.response_avg, "prompt_avg": self.prompt_avg,
                "prompt_last": self.prompt_last}[pooling]


class _StopForward(Exception):
    """Raised from the deepest requested block's hook: nothing after it is needed."""


def _tokenize_pair(tokenizer: Any, prompt: str, response: str) -> tuple[list[int], int]:
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] if response else []
    return list(prompt_ids) + list(response_ids), len(prompt_ids)


def _pad(
    rows: list[list[int]], pad_id: int, side: Literal["left", "right"]
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    offsets: list[int] = []
    for i, row in enumerate(rows):
        off = width - len(row) if side == "left" else 0
        ids[i, off:off + len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, off:off + len(row)] = 1
        offsets.append(off)
    return ids, mask, offsets


def collect_activations(
    model: nn.Module,
    tokenizer: Any,
    prompts: Sequence[str | Messages],
    responses: Sequence[str],
    *,
    batch_size: int = 16,
    padding_side: Literal["left", "right"] = "left",
    progress: Callable[[int, int], None] | None = None,
    layers: Sequence[int] | None = None,
) -> Activations:
    """Average hidden states over response tokens and prompt tokens, and take the last prompt
    token, at the output of every decoder block, or of the blocks in ``layers`` only (then the
    layer axis holds those blocks, in that order).

    An empty response gives a zero ``response_avg`` row (and a warning is the caller's job).
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    ensure_pad_token(tokenizer)
    all_blocks = find_layers(model)
    wanted = list(range(len(all_blocks))) if layers is None else [int(x) for x in layers]
    for layer in wanted:
        if not 0 <= layer < len(all_blocks):
            raise ValueError(f"layer {layer} is out of range: the model has {len(all_blocks)} "
                             f"blocks (0-{len(all_blocks) - 1})")
    if not wanted:
        raise ValueError("layers is empty: ask for at least one block")
    blocks = [all_blocks[i] for i in wanted]
    deepest = all_blocks[max(wanted)]
    device = next(model.parameters()).device
    texts = [chat_prompt(tokenizer, as_messages(p)) for p in prompts]
    all_pairs = [_tokenize_pair(tokenizer, t, r) for t, r in zip(texts, responses)]
    # similar lengths share a batch: less padding, same results (rows are restored below)
    order = sorted(range(len(all_pairs)), key=lambda i: len(all_pairs[i][0]))
    pairs = [all_pairs[i] for i in order]
    out: dict[str, list[torch.Tensor]] = {k: [] for k in POOLINGS}
    if progress is not None and pairs:
        progress(0, len(pairs))
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        ids, mask, offsets = _pad([p[0] for p in chunk], int(tokenizer.pad_token_id), padding_side)
        seq = ids.shape[1]
        pos = torch.arange(seq)[None, :]
        off = torch.tensor(offsets)[:, None]
        plen = torch.tensor([p[1] for p in chunk])[:, None]
        total = torch.tensor([len(p[0]) for p in chunk])[:, None]
        prompt_mask = ((pos >= off) & (pos < off + plen)).float()
        resp_mask = ((pos >= off + plen) & (pos < off + total)).float()
        last_idx = (off + plen - 1).squeeze(1)
        rows = torch.arange(len(chunk), device=device)
        resp_w = (resp_mask / resp_mask.sum(1, keepdim=True).clamp(min=1)).to(device)
        prompt_w = (prompt_mask / prompt_mask.sum(1, keepdim=True).clamp(min=1)).to(device)
        last_idx = last_idx.to(device)
        captured: dict[nn.Module, dict[str, torch.Tensor]] = {}

        def hook(module: nn.Module, _i: Any, output: Any) -> None:
            hidden = (output[0] if isinstance(output, tuple) else output).detach().float()
            dev = hidden.device  # blocks may sit on several GPUs (device_map="auto")
            captured[module] = {
                "response_avg": torch.einsum("bsd,bs->bd", hidden, resp_w.to(dev)).cpu(),
                "prompt_avg": torch.einsum("bsd,bs->bd", hidden, prompt_w.to(dev)).cpu(),
                "prompt_last": hidden[rows.to(dev), last_idx.to(dev), :].cpu(),
            }
            if module is deepest:
                raise _StopForward

        handles = [b.register_forward_hook(hook) for b in set(blocks)]
        try:
            position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.inference_mode():
                model(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    position_ids=position_ids.to(device),
                    use_cache=False,
                )
        except _StopForward:
            pass
        finally:
            for handle in handles:
                handle.remove()
        missing = [i for i, b in zip(wanted, blocks) if b not in captured]
        if missing:
            raise RuntimeError(f"decoder blocks {missing} produced no output in the forward "
                               "pass (a model whose forward skips layers)")
        for pooling in POOLINGS:
            out[pooling].append(  # [batch, layers, d]
                torch.stack([captured[b][pooling] for b in blocks], dim=1))
        if progress is not None:
            progress(min(start + batch_size, len(pairs)), len(pairs))
    if not pairs:
        from pytest_persona.core.steering import model_d_model

        empty = torch.zeros((0, len(wanted), model_d_model(model)))
        return Activations(empty, empty, empty)
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    merged = {k: torch.cat(v)[inverse] for k, v in out.items()}
    return Activations(merged["response_avg"], merged["prompt_avg"], merged["prompt_last"])
