"""Per-row seeded sampling: each row draws from its own generator, so a sampled response
depends on its own seed only, never on which other rows share its batch.

:class:`RowSampler` is a logits processor for ``model.generate`` in greedy mode: it applies
temperature and top-p itself, draws one uniform number per row and step from that row's
``torch.Generator``, picks the token by inverse CDF over the probabilities sorted in
descending order (float64 cumulative sums), and leaves only that token finite, so greedy
decoding takes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
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
    """Token index per row by inverse CDF over descending-sorted probabilities.

    The token is the one a stable descending sort, a float64 cumulative sum normalised by its
    last entry and a right-sided search would give, computed without the full argsort (a
    quarter of a sampled step on CPU at a 49k vocabulary): the CDF needs only the sorted
    values, and the rank found in it is mapped back to a token by counting the larger
    probabilities and taking the tied ones in index order, as the stable sort orders them.
    """
    if probs.ndim != 2 or not bool(torch.isfinite(probs).all()):
        return _pick_by_argsort(probs, uniform)
    descending = _sorted_values(probs)
    cdf = torch.cumsum(descending.to(torch.float64), dim=-1)
    cdf = cdf / cdf[..., -1:]
    rank = torch.searchsorted(cdf, uniform.unsqueeze(-1).to(cdf), right=True)
    rank = rank.clamp_(max=probs.shape[-1] - 1)
    value = descending.gather(-1, rank).to(probs.dtype)  # [rows, 1]
    larger = (probs > value).sum(-1)
    chosen: list[int] = []
    for row in range(probs.shape[0]):
        tied = torch.nonzero(probs[row] == value[row], as_tuple=True)[0]
        chosen.append(int(tied[int(rank[row, 0]) - int(larger[row])]))
    return torch.tensor(chosen, dtype=torch.long, device=probs.device)


def _sorted_values(probs: torch.Tensor) -> torch.Tensor:
    """Each row's values in descending order (the order of equal values is immaterial)."""
    if probs.device.type == "cpu" and probs.dtype in (torch.float32, torch.float64):
        values = np.sort(probs.detach().numpy(), axis=-1)[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(values))
    return torch.sort(probs, dim=-1, descending=True).values


def _pick_by_argsort(probs: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """The defining computation, in float64 whatever the input's dtype (kept for inputs the
    fast path does not take: NaN, 1-D)."""
    sorted_probs, order = torch.sort(probs.double(), dim=-1, descending=True, stable=True)
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
        chosen = pick(probs, uniform.to(probs.device))
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(-1, chosen.unsqueeze(-1), 0.0)
        return out
