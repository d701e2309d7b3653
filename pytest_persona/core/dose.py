"""Relative dose: a steering coefficient expressed against the residual stream's own scale.

``dose = |c| * ||v|| / mean ||h||``, where ``h`` runs over block ``layer``'s output at every
token of the evaluation prompts but the first of each, unsteered. A dose carries across models
and layers whose residual norms differ by orders of magnitude; ``coeff_for_dose`` inverts it
(the sign of the dose is the sign of the coefficient).

The first token is left out because it carries the attention sink's massive activation: on
SmolLM2-135M at block 12 its norm is about 25,000 against about 145 for the other tokens, so
over 20 short prompts it alone would make the mean 4.8 times the typical norm (695 vs 145),
and the sink's size differs between models far more than the rest of the stream does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported only to measure (a warm run converts without it)
    from torch import nn

    from pytest_persona.core.generation import Messages


@dataclass(frozen=True)
class DoseScale:
    """What converts a coefficient to a dose at one (model, layer, vector)."""

    vector_norm: float
    mean_norm: float  # mean L2 norm of block-layer outputs over the prompts' tokens
    n_tokens: int
    layer: int

    def dose(self, coeff: float) -> float:
        return relative_dose(coeff, self.vector_norm, self.mean_norm)

    def coeff(self, dose: float) -> float:
        return coeff_for_dose(dose, self.vector_norm, self.mean_norm)

    def to_dict(self) -> dict[str, Any]:
        return {"vector_norm": self.vector_norm, "mean_norm": self.mean_norm,
                "n_tokens": self.n_tokens, "layer": self.layer,
                "procedure": "dose = |coeff| * ||v|| / mean L2 norm of block-layer outputs "
                             "over every token but the first (the attention sink) of each "
                             "evaluation prompt (chat template, unsteered)"}


def _check(vector_norm: float, mean_norm: float) -> None:
    if not (math.isfinite(vector_norm) and vector_norm > 0):
        raise ValueError(f"vector norm must be a positive finite number, got {vector_norm}")
    if not (math.isfinite(mean_norm) and mean_norm > 0):
        raise ValueError(f"mean residual norm must be a positive finite number, got {mean_norm}")


def relative_dose(coeff: float, vector_norm: float, mean_norm: float) -> float:
    """``|coeff| * vector_norm / mean_norm``."""
    _check(vector_norm, mean_norm)
    return abs(float(coeff)) * vector_norm / mean_norm


def coeff_for_dose(dose: float, vector_norm: float, mean_norm: float) -> float:
    """The coefficient whose relative dose is ``|dose|``, with the sign of ``dose``."""
    _check(vector_norm, mean_norm)
    return float(dose) * mean_norm / vector_norm


def mean_block_norm(model: nn.Module, tokenizer: Any, prompts: Sequence[str | Messages],
                    layer: int, batch_size: int = 16, skip_first: bool = True
                    ) -> tuple[float, int]:
    """Mean L2 norm of block ``layer``'s output over every non-padding token of the prompts
    (rendered with the chat template, assistant turn opened) but the first of each (with
    ``skip_first``: the attention sink), and the token count."""
    import torch

    from pytest_persona.core.generation import as_messages, chat_prompt, ensure_pad_token
    from pytest_persona.core.layers import check_layer, find_layers

    if not prompts:
        raise ValueError("mean_block_norm needs at least one prompt")
    layer = check_layer(model, layer)
    ensure_pad_token(tokenizer)
    block = find_layers(model)[layer]
    device = next(model.parameters()).device
    texts = [chat_prompt(tokenizer, as_messages(p)) for p in prompts]
    total, count = 0.0, 0
    for start in range(0, len(texts), batch_size):
        rows = [list(tokenizer(t, add_special_tokens=False)["input_ids"])
                for t in texts[start:start + batch_size]]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), int(tokenizer.pad_token_id), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
        found: list[torch.Tensor] = []

        def hook(_m: nn.Module, _i: Any, output: Any) -> None:
            found.append((output[0] if isinstance(output, tuple) else output).detach().float())

        handle = block.register_forward_hook(hook)
        try:
            with torch.inference_mode():
                model(input_ids=ids.to(device), attention_mask=mask.to(device),
                      position_ids=(mask.cumsum(-1) - 1).clamp(min=0).to(device),
                      use_cache=False)
        finally:
            handle.remove()
        norms = found[0].norm(dim=-1).cpu()
        keep = mask.bool()
        if skip_first:
            for i, r in enumerate(rows):
                keep[i, width - len(r)] = False
        total += float(norms[keep].double().sum())
        count += int(keep.sum())
    if count == 0:
        raise ValueError("every prompt is a single token: no token left to measure")
    return total / count, count
