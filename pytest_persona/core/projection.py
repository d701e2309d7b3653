"""Projections onto trait vectors, cosine geometry, and checkpoint shift."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


def project(activations: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    """Scalar projection ``a . v / |v|`` of each row of ``activations`` ([..., d]) onto ``v``."""
    v = vector.detach().float().to(activations.device)
    norm = v.norm()
    if norm == 0:
        raise ValueError("cannot project onto a zero vector")
    return torch.div(torch.matmul(activations.float(), v), norm)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two vectors."""
    a32, b32 = a.detach().float().flatten(), b.detach().float().flatten()
    if a32.shape != b32.shape:
        raise ValueError(f"vectors differ in size: {a32.shape[0]} vs {b32.shape[0]}")
    denom = a32.norm() * b32.norm()
    if denom == 0:
        raise ValueError("cosine of a zero vector is undefined")
    return float(a32 @ b32 / denom)


def cosine_matrix(vectors: Mapping[str, torch.Tensor]) -> tuple[list[str], list[list[float]]]:
    """Pairwise cosines of named 1-D vectors (one layer each), names sorted."""
    names = sorted(vectors)
    if not names:
        return [], []
    stack = torch.stack([vectors[n].detach().float().flatten() for n in names])
    unit = stack / stack.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return names, (unit @ unit.T).tolist()


def mean_projection(activations: torch.Tensor, vector: torch.Tensor) -> float:
    """Mean projection of a set of activations [n, d]."""
    return float(project(activations, vector).mean())


def checkpoint_shift(
    test_acts: torch.Tensor, reference_acts: torch.Tensor, vector: torch.Tensor
) -> float:
    """Mean projection of the model under test minus the reference model's, along ``vector``."""
    return mean_projection(test_acts, vector) - mean_projection(reference_acts, vector)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties); nan when a side is constant."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError("spearman needs two sequences of equal length >= 2")
    return pearson(ranks(x), ranks(y))


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; nan when a side is constant.

    Rounded to 12 decimals and clamped to [-1, 1], so a perfectly ordered curve gives exactly 1.0
    (not 0.9999999999999998) and a bound such as ``min_r: 1.0`` or ``0.9`` can be met."""
    tx, ty = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    dx, dy = tx - tx.mean(), ty - ty.mean()
    denom = dx.norm() * dy.norm()
    if denom == 0:
        return float("nan")
    return max(-1.0, min(1.0, round(float(dx @ dy / denom), 12)))


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks
