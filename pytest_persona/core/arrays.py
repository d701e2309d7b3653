"""Vectors as plain float32 bytes, whichever backend holds them (torch or numpy), without
importing torch: cache keys hash these bytes, so a warm run that never imports torch and a
cold run that computed the vector with torch key the same entries."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:
    import torch

#: a vector or matrix held by torch or by numpy
Vector = Union["torch.Tensor", "np.ndarray[Any, Any]"]


def is_tensor(value: object) -> bool:
    """Whether ``value`` is a torch tensor (checked without importing torch)."""
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def as_float32(value: Vector) -> np.ndarray[Any, Any]:
    """A C-contiguous float32 numpy array of ``value``: a torch tensor is detached, moved to
    the CPU and upcast exactly as ``tensor.detach().float().cpu().numpy()``."""
    if is_tensor(value):
        array = value.detach().float().cpu().contiguous().numpy()  # type: ignore[union-attr]
    else:
        array = np.asarray(value, dtype=np.float32)
    return np.ascontiguousarray(array, dtype=np.float32)


def float32_bytes(value: Vector) -> bytes:
    """The row-major float32 bytes of ``value`` (what every vector hash in a cache key reads)."""
    return as_float32(value).tobytes()


def vector_sha256(value: Vector) -> str:
    """Full sha256 hex digest of :func:`float32_bytes`."""
    return hashlib.sha256(float32_bytes(value)).hexdigest()


def to_tensor(value: Vector) -> torch.Tensor:
    """``value`` as a torch tensor (imports torch; a numpy array is copied into float32)."""
    if is_tensor(value):
        return value  # type: ignore[return-value]
    import torch

    return torch.from_numpy(np.array(value, dtype=np.float32, copy=True))
