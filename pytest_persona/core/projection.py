"""Projections onto trait vectors, cosine geometry, and checkpoint shift.

Cosines and correlations are computed with numpy in float64 from the vectors' float32 values,
so they are the same whichever backend holds a vector (a warm run never imports torch);
projections of activations need torch, imported on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pytest_persona.core.arrays import Vector, as_float32, to_tensor

if TYPE_CHECKING:
    import torch


def project(activations: torch.Tensor, vector: Vector) -> torch.Tensor:
    """Scalar projection ``a . v / |v|`` of each row of ``activations`` ([..., d]) onto ``v``."""
    import torch

    v = to_tensor(vector).detach().float().to(activations.device)
    norm = v.norm()
    if norm == 0:
        raise ValueError("cannot project onto a zero vector")
    return torch.div(torch.matmul(activations.float(), v), norm)


def _flat64(v: Vector) -> np.ndarray[Any, Any]:
    return as_float32(v).reshape(-1).astype(np.float64)


def cosine(a: Vector, b: Vector) -> float:
    """Cosine similarity of two vectors (float32 values, float64 arithmetic)."""
    a64, b64 = _flat64(a), _flat64(b)
    if a64.shape != b64.shape:
        raise ValueError(f"vectors differ in size: {a64.shape[0]} vs {b64.shape[0]}")
    denom = float(np.linalg.norm(a64)) * float(np.linalg.norm(b64))
    if denom == 0:
        raise ValueError("cosine of a zero vector is undefined")
    return float(np.dot(a64, b64) / denom)


def cosine_matrix(vectors: Mapping[str, Vector]) -> tuple[list[str], list[list[float]]]:
    """Pairwise cosines of named 1-D vectors (one layer each), names sorted."""
    names = sorted(vectors)
    if not names:
        return [], []
    stack = np.stack([_flat64(vectors[n]) for n in names])
    unit = stack / np.maximum(np.linalg.norm(stack, axis=-1, keepdims=True), 1e-12)
    matrix: list[list[float]] = (unit @ unit.T).tolist()
    return names, matrix


def mean_projection(activations: torch.Tensor, vector: Vector) -> float:
    """Mean projection of a set of activations [n, d]."""
    return float(project(activations, vector).mean())


def checkpoint_shift(
    test_acts: torch.Tensor, reference_acts: torch.Tensor, vector: Vector
) -> float:
    """Mean projection of the model under test minus the reference model's, along ``vector``."""
    return mean_projection(test_acts, vector) - mean_projection(reference_acts, vector)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties); nan when a side is constant."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError("spearman needs two sequences of equal length >= 2")
    return pearson(ranks(x), ranks(y))


def pearson(x: Sequence[float] | npt.NDArray[np.floating[Any]],
            y: Sequence[float] | npt.NDArray[np.floating[Any]]) -> float:
    """Pearson correlation, in float64 whatever the input dtype; nan when a side is constant.

    Rounded to 12 decimals and clamped to [-1, 1], so a perfectly ordered curve gives exactly 1.0
    (not 0.9999999999999998) and a bound such as ``min_r: 1.0`` or ``0.9`` can be met."""
    tx, ty = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    dx, dy = tx - tx.mean(), ty - ty.mean()
    denom = float(np.linalg.norm(dx)) * float(np.linalg.norm(dy))
    if denom == 0:
        return float("nan")
    return max(-1.0, min(1.0, round(float(np.dot(dx, dy) / denom), 12)))


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
