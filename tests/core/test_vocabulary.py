"""#24 finding 5: an activation summary is a *pooling*. The new names work silently, the old ones
(``KINDS``, ``kind=``, ``.kinds``) warn and give the same result, and the pooling names written
into vector files are unchanged."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from pytest_persona.core import activations
from pytest_persona.core.activations import POOLINGS, Activations
from pytest_persona.core.vectors import TraitVectors

N_LAYERS, D_MODEL = 3, 4


def _acts() -> Activations:
    gen = torch.Generator().manual_seed(0)
    r, p, last = (torch.randn(2, N_LAYERS, D_MODEL, generator=gen) for _ in range(3))
    return Activations(response_avg=r, prompt_avg=p, prompt_last=last)


def _vectors() -> TraitVectors:
    rng = np.random.default_rng(0)
    main, p, last = (rng.standard_normal((N_LAYERS, D_MODEL)).astype(np.float32) for _ in range(3))
    return TraitVectors(main, {"trait": "evil"}, {"prompt_avg": p, "prompt_last": last})


def test_poolings_are_the_three_summaries() -> None:
    assert POOLINGS == ("response_avg", "prompt_avg", "prompt_last")


def test_old_kinds_constant_warns_and_is_the_poolings() -> None:
    with pytest.warns(DeprecationWarning, match=r"activations\.KINDS is now .*\.POOLINGS") as rec:
        old = activations.KINDS
    assert old is POOLINGS
    assert rec[0].filename == __file__  # the warning points at the user's line


def test_activations_get_by_pooling_is_silent_and_kind_warns_with_the_same_tensor() -> None:
    acts = _acts()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = {p: acts.get(pooling=p) for p in POOLINGS}
        assert all(torch.equal(new[p], acts.get(p)) for p in POOLINGS)
    for p in POOLINGS:
        with pytest.warns(DeprecationWarning, match=r"Activations\.get\(kind=\) is now pooling="):
            old = acts.get(kind=p)  # type: ignore[call-arg]
        assert torch.equal(old, new[p])
    assert torch.equal(new["prompt_last"], acts.prompt_last)


def test_activations_get_rejects_an_unknown_pooling_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="the pooling is one of response_avg, prompt_avg"):
        _acts().get("mean")


def test_trait_vectors_poolings_and_the_deprecated_kinds() -> None:
    vecs = _vectors()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert vecs.poolings == ["response_avg", "prompt_avg", "prompt_last"]
    with pytest.warns(DeprecationWarning, match=r"TraitVectors\.kinds is now .*\.poolings"):
        assert vecs.kinds == vecs.poolings


@pytest.mark.parametrize("pooling", POOLINGS)
def test_trait_vectors_array_and_layer_take_pooling_and_warn_on_kind(pooling: str) -> None:
    vecs = _vectors()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arr = vecs.array(1, pooling=pooling)
        row = vecs.layer(1, pooling=pooling)
        whole = vecs.array(pooling=pooling)
    assert np.array_equal(arr, whole[1]) and torch.equal(row, torch.from_numpy(arr))
    with pytest.warns(DeprecationWarning, match=r"TraitVectors\.array\(kind=\) is now pooling="):
        assert np.array_equal(vecs.array(1, kind=pooling), arr)  # type: ignore[call-arg]
    with pytest.warns(DeprecationWarning, match=r"TraitVectors\.layer\(kind=\) is now pooling="):
        assert torch.equal(vecs.layer(1, kind=pooling), row)  # type: ignore[call-arg]


def test_vector_files_keep_the_pooling_names_as_tensor_names(tmp_path: Path) -> None:
    path = _vectors().save(tmp_path / "evil.safetensors")
    with safe_open(str(path), framework="np") as handle:
        assert sorted(handle.keys()) == ["prompt_avg", "prompt_last", "response_avg"]
    loaded = TraitVectors.load(path)
    assert loaded.poolings == ["response_avg", "prompt_avg", "prompt_last"]
    assert np.array_equal(
        loaded.array(pooling="prompt_last"), _vectors().array(pooling="prompt_last")
    )
