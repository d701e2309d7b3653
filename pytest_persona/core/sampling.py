"""Per-row seeded sampling: each row draws from its own generator, so a sampled response
depends on its own seed only, never on which other rows share its batch.

:class:`RowSampler` is a logits processor for ``model.generate`` in greedy mode: it applies
temperature and top-p itself, draws one uniform number per row and step from that row's
``torch.Generator``, picks the token by inverse CDF over the probabilities sorted in
descending order, and leaves only that token finite, so greedy decoding takes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pytest_persona.core.requests import row_seed as row_seed  # re-exported


def filtered_probs(logits: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """Probabilities after temperature and nucleus (top-p) filtering, renormalised, rows last."""
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p >= 1.0:
        return probs
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True, stable=True)
    before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
    sorted_probs = sorted_probs.masked_fill(before >= top_p, 0.0)  # the first token always stays
    kept = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def pick(probs: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Token index per row by inverse CDF over descending-sorted probabilities."""
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True, stable=True)
    cdf = torch.cumsum(sorted_probs, dim=-1)
    cdf = cdf / cdf[..., -1:]
    rank = torch.searchsorted(cdf, uniform.unsqueeze(-1).to(cdf), right=True)
    rank = rank.clamp_(max=probs.shape[-1] - 1)
    return order.gather(-1, rank).squeeze(-1)


class RowSampler:
    """Logits processor that samples each row from its own seeded generator."""

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float) -> None:
        if temperature <= 0:
            raise ValueError("RowSampler needs temperature > 0 (use greedy decoding for 0)")
        self.temperature = temperature
        self.top_p = top_p
        self.generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if scores.shape[0] != len(self.generators):
            raise ValueError(f"{scores.shape[0]} rows for {len(self.generators)} seeds")
        uniform = torch.stack([torch.rand((), generator=g, dtype=torch.float64)
                               for g in self.generators])
        probs = filtered_probs(scores, self.temperature, self.top_p)
        chosen = pick(probs.double(), uniform.to(probs.device))
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(-1, chosen.unsqueeze(-1), 0.0)
        return out
