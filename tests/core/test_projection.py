from __future__ import annotations

import math

import pytest
import torch

from pytest_persona.core.projection import (
    checkpoint_shift,
    cosine,
    cosine_matrix,
    pearson,
    project,
    spearman,
)


def test_project_is_scalar_projection() -> None:
    v = torch.tensor([3.0, 4.0])
    acts = torch.tensor([[3.0, 4.0], [0.0, 0.0], [-4.0, 3.0]])
    assert project(acts, v).tolist() == pytest.approx([5.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="zero vector"):
        project(acts, torch.zeros(2))


def test_cosine_and_matrix() -> None:
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])
    assert cosine(a, b) == pytest.approx(1 / math.sqrt(2))
    names, m = cosine_matrix({"z": a, "a": b})
    assert names == ["a", "z"]
    assert m[0][0] == pytest.approx(1.0) and m[0][1] == pytest.approx(1 / math.sqrt(2))
    with pytest.raises(ValueError, match="differ in size"):
        cosine(a, torch.ones(3))


def test_checkpoint_shift() -> None:
    v = torch.tensor([0.0, 2.0])
    test = torch.tensor([[0.0, 3.0], [1.0, 5.0]])
    ref = torch.tensor([[0.0, 1.0], [5.0, 1.0]])
    assert checkpoint_shift(test, ref, v) == pytest.approx(3.0)


def test_rank_correlations() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 100]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(pearson([1.5, 1.5, 3], [1, 2, 3]))
    assert math.isnan(pearson([1, 1], [1, 2]))
