from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pytest_persona.core.projection import (
    checkpoint_shift,
    cosine,
    cosine_matrix,
    mean_projection,
    pearson,
    project,
    ranks,
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


# -- against independent computations ----------------------------------------------------------

@pytest.mark.parametrize("values, expected", [
    ([10, 20, 10, 30, 20, 10], [2.0, 4.5, 2.0, 6.0, 4.5, 2.0]),
    ([1, 2, 2], [1.0, 2.5, 2.5]),            # tie at the end
    ([5, 5], [1.5, 1.5]),
    ([3, 1, 2], [3.0, 1.0, 2.0]),
    ([-1.5, 7, 7, 7, 0], [1.0, 4.0, 4.0, 4.0, 2.0]),
])
def test_ranks_average_ties(values: list[float], expected: list[float]) -> None:
    assert ranks(values) == expected


def test_spearman_known_values_with_ties() -> None:
    # ranks of y: (1, 2.5, 2.5, 4.5, 4.5); r = 9 / sqrt(10 * 9) = 3 / sqrt(10)
    assert spearman([1, 2, 3, 4, 5], [1, 2, 2, 3, 3]) == pytest.approx(3 / math.sqrt(10))
    # ties on both sides, exactly reversed ranks
    assert spearman([1, 1, 2, 3], [3, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 2], [1, 2, 1, 2]) == pytest.approx(0.0)
    # monotone transform invariance, ties included: r of (1,2,2,3) vs (1,4,4,9) is 1
    assert spearman([1, 2, 2, 3], [1, 4, 4, 9]) == pytest.approx(1.0)
    # classic textbook set without ties: sum d^2 = 4 over n = 5 -> 1 - 24/120 = 0.8
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert math.isnan(spearman([1, 2, 3], [4, 4, 4]))
    with pytest.raises(ValueError, match="equal length >= 2"):
        spearman([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="equal length >= 2"):
        spearman([1], [1])


def test_spearman_is_pearson_of_numpy_average_ranks() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 30).tolist()  # many ties
    y = (np.array(x) * 2 + rng.integers(0, 4, 30)).tolist()

    def avg_ranks(v: list[int]) -> np.ndarray:
        a = np.asarray(v, dtype=float)
        return np.array([(a < e).sum() + ((a == e).sum() + 1) / 2 for e in a])

    want = float(np.corrcoef(avg_ranks(x), avg_ranks(y))[0, 1])
    assert spearman(x, y) == pytest.approx(want, abs=1e-12)


def test_pearson_against_numpy() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=50), rng.normal(size=50)
    y = y + 0.5 * x
    assert pearson(x.tolist(), y.tolist()) == pytest.approx(float(np.corrcoef(x, y)[0, 1]),
                                                            abs=1e-12)
    assert pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert pearson([1, 2, 3], [-2, -4, -6]) == pytest.approx(-1.0)
    assert pearson([0, 0, 1], [5, 5, 5]) != pearson([0, 0, 1], [5, 5, 5])  # nan


def test_cosine_against_numpy_and_shapes() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=16), rng.normal(size=16)
    want = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    assert cosine(torch.tensor(a), torch.tensor(b)) == pytest.approx(want, abs=1e-6)
    assert cosine(torch.tensor(a), torch.tensor(-a)) == pytest.approx(-1.0, abs=1e-6)
    assert cosine(torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.tensor([1.0, 1.0, 1.0, 1.0])) \
        == pytest.approx(0.5)  # flattened
    assert cosine(torch.tensor([2.0, 0.0]), torch.tensor([5.0, 0.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="zero vector is undefined"):
        cosine(torch.zeros(3), torch.ones(3))
    with pytest.raises(ValueError, match="zero vector is undefined"):
        cosine(torch.ones(3), torch.zeros(3))


def test_cosine_matrix_against_numpy() -> None:
    rng = np.random.default_rng(4)
    vecs = {n: rng.normal(size=8) for n in ("c", "a", "b")}
    names, m = cosine_matrix({k: torch.tensor(v) for k, v in vecs.items()})
    assert names == ["a", "b", "c"]
    for i, p in enumerate(names):
        for j, q in enumerate(names):
            u, w = vecs[p], vecs[q]
            assert m[i][j] == pytest.approx(float(u @ w / np.linalg.norm(u) / np.linalg.norm(w)),
                                            abs=1e-6)
    assert cosine_matrix({}) == ([], [])
    _, z = cosine_matrix({"z": torch.zeros(3), "o": torch.ones(3)})
    assert z[1][1] == 0.0 and z[0][0] == pytest.approx(1.0)  # a zero vector gives 0, not nan


def test_projection_against_numpy() -> None:
    rng = np.random.default_rng(5)
    acts, v = rng.normal(size=(2, 3, 6)), rng.normal(size=6)
    got = project(torch.tensor(acts), torch.tensor(v))
    assert got.shape == (2, 3)
    assert np.allclose(got.numpy(), acts @ v / np.linalg.norm(v), atol=1e-5)
    flat = acts.reshape(6, 6)
    assert mean_projection(torch.tensor(flat), torch.tensor(v)) == pytest.approx(
        float((flat @ v / np.linalg.norm(v)).mean()), abs=1e-5)
    test, ref = rng.normal(size=(4, 6)), rng.normal(size=(5, 6))
    want = float((test @ v).mean() - (ref @ v).mean()) / float(np.linalg.norm(v))
    assert checkpoint_shift(torch.tensor(test), torch.tensor(ref), torch.tensor(v)) == \
        pytest.approx(want, abs=1e-5)


def test_small_vectors_and_short_sequences() -> None:
    small = {"a": torch.tensor([0.003, 0.004]), "b": torch.tensor([0.0, 0.01])}
    _, m = cosine_matrix(small)  # norms far below 1 are still normalised exactly
    assert m[0][0] == pytest.approx(1.0) and m[0][1] == pytest.approx(0.8)
    assert spearman([1, 2], [5, 3]) == pytest.approx(-1.0)  # two points are enough
    assert spearman([1, 2], [3, 5]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"^spearman needs two sequences of equal length >= 2$"):
        spearman([1], [2])
    with pytest.raises(ValueError, match=r"^cannot project onto a zero vector$"):
        project(torch.ones(2, 3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"^cosine of a zero vector is undefined$"):
        cosine(torch.zeros(2), torch.ones(2))
    with pytest.raises(ValueError, match=r"^vectors differ in size: 2 vs 3$"):
        cosine(torch.ones(2), torch.ones(3))


def test_pearson_with_unit_denominator() -> None:
    x = [0.5, -0.5, 0.5, -0.5]  # centred, norm exactly 1: the denominator is exactly 1
    assert pearson(x, x) == 1.0
    assert pearson(x, [-v for v in x]) == -1.0
