"""The dose scale of a (model, layer, prompt set), measured once and cached.

The mean block-output norm needs a forward pass over the prompts; it does not depend on the
vector, so one cache entry (``<cache>/dose/<key>.json``) serves every trait steered at that
layer. The entry is written atomically and checked on every read: a wrong type, a missing
field, a non-positive or non-finite norm, or a layer that does not match its key warns and is
measured again (the new entry replaces it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pytest_persona._util.deprecated import module_alias
from pytest_persona.cache.store import PersonaCache, stable_hash
from pytest_persona.core.arrays import Vector, as_float32
from pytest_persona.core.dose import DoseScale
from pytest_persona.models.loading import cache_identity

FOLDER = "dose"  # the cache folder of these records

if TYPE_CHECKING:
    KIND = FOLDER  # deprecated alias (at runtime the module __getattr__ below warns)
else:

    def __getattr__(name: str) -> Any:
        return module_alias(__name__, name, {"KIND": "FOLDER"})


@dataclass(frozen=True)
class DoseKey:
    """Key of a measured mean block-output norm."""

    model: str  # cache identity: weights fingerprint | dtype | device type
    layer: int
    prompts: list[Any]
    measure: str = "mean_l2_norm_block_output_prompt_tokens_but_first_chat_template"
    v: int = 2

    def digest(self) -> str:
        return stable_hash(asdict(self))


def vector_norm(vector: Vector) -> float:
    """L2 norm of a vector (tensor or array), float64."""
    import numpy as np

    return float(np.linalg.norm(as_float32(vector).astype(np.float64).ravel()))


def check_dose_entry(data: Any, layer: int) -> tuple[float, int]:
    """``(mean_norm, n_tokens)`` of a cache entry; ValueError naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"entry is a JSON {type(data).__name__}, not an object")
    for name in ("mean_norm", "n_tokens", "layer"):
        if name not in data:
            raise ValueError(f"field {name!r} is missing")
    mean, n, at = data["mean_norm"], data["n_tokens"], data["layer"]
    if isinstance(mean, bool) or not isinstance(mean, (int, float)) or not (
            math.isfinite(mean) and mean > 0):
        raise ValueError(f"field 'mean_norm' is {mean!r}, expected a positive finite number")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"field 'n_tokens' is {n!r}, expected a positive integer")
    if at != layer:
        raise ValueError(f"field 'layer' is {at!r}, expected {layer}")
    return float(mean), int(n)


def mean_norm_cached(loaded: Any, layer: int, prompts: Sequence[Any],
                     cache: PersonaCache | None, batch_size: int = 16) -> tuple[float, int]:
    """Mean L2 norm of block ``layer``'s output over the prompts' tokens, and the token count
    (:func:`pytest_persona.core.dose.mean_block_norm`), read from the cache when present."""
    key = DoseKey(cache_identity(loaded), int(layer), list(prompts)).digest()
    if cache is not None:
        found = cache.load_checked(FOLDER, key, lambda d: check_dose_entry(d, layer), "dose")
        if found is not None:
            return found
    from pytest_persona.core.dose import mean_block_norm  # torch: misses only

    mean, n = mean_block_norm(loaded.model, loaded.tokenizer, list(prompts), layer,
                              batch_size=batch_size)
    if cache is not None and math.isfinite(mean) and mean > 0:
        cache.save_record(FOLDER, key, {"mean_norm": mean, "n_tokens": n, "layer": int(layer),
                                      "model": cache_identity(loaded)})
    return mean, n


def dose_scale(loaded: Any, vector: Vector, layer: int, prompts: Sequence[Any],
               cache: PersonaCache | None, batch_size: int = 16) -> DoseScale:
    """The scale converting coefficients of ``vector`` at ``layer`` to doses and back."""
    mean, n = mean_norm_cached(loaded, layer, prompts, cache, batch_size)
    return DoseScale(vector_norm=vector_norm(vector), mean_norm=mean, n_tokens=n,
                     layer=int(layer))
