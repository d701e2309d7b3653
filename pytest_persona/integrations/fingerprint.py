"""A content fingerprint of the weights a model holds in memory (every byte of every tensor).

The callback's reference is "the weights at the start of training": they are named by this
digest (never kept as a second copy), so its cached vectors and projections are keyed by what
the weights are, not by a file name that a later run may reuse for other weights.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any


def weights_fingerprint(model: Any) -> tuple[str, float]:
    """``("weights-sha256:<32 hex>", seconds taken)`` over every parameter and buffer:
    its name, dtype, shape and raw bytes, in ``state_dict`` order (tensors are copied to the
    CPU one at a time: the peak extra memory is the largest tensor)."""
    import torch

    start = time.perf_counter()
    digest = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            t = tensor.detach()
            digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
            if t.numel():
                raw = t.contiguous().reshape(-1).view(torch.uint8).cpu()
                digest.update(raw.numpy().tobytes())
    return "weights-sha256:" + digest.hexdigest()[:32], time.perf_counter() - start
