"""Make a modified checkpoint for the demo: a trait vector folded into an MLP bias.

Adding ``coeff * v`` as the ``down_proj`` bias of block ``L`` adds it to that block's output
at every position: the same as steering with positions "all", but baked into weights that
load like any other checkpoint. It stands in for a fine-tune that drifted toward a trait.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_persona.core.arrays import Vector, to_tensor, vector_sha256
from pytest_persona.models.loading import LoadedModel

MARKER = "PERSONA_DEMO_CHECKPOINT.json"


def _recipe(base: Any, vector: Vector, layer: int, coeff: float) -> dict[str, Any]:
    return {"base_fingerprint": base.fingerprint, "vector_sha256": vector_sha256(vector),
            "layer": layer, "coeff": coeff}


def folded_checkpoint_is_current(out_dir: str | Path, base: Any, vector: Vector, layer: int,
                                 coeff: float) -> bool:
    """Whether ``out_dir`` holds the checkpoint :func:`fold_vector_into_bias` would write for
    these inputs (its marker records them), so it need not be made again (no torch)."""
    try:
        marker = json.loads((Path(out_dir) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    want = _recipe(base, vector, layer, coeff)
    return isinstance(marker, dict) and all(marker.get(k) == v for k, v in want.items()) and (
        Path(out_dir) / "config.json").is_file()


def fold_vector_into_bias(base: LoadedModel, vector: Vector, layer: int, coeff: float,
                          out_dir: str | Path, note: str = "") -> Path:
    """Save a copy of ``base`` whose block ``layer`` adds ``coeff * vector`` to its output."""
    import torch
    from transformers import AutoModelForCausalLM

    from pytest_persona.core.layers import find_layers

    recipe = _recipe(base, vector, layer, coeff)
    vector = to_tensor(vector)

    config: Any = base.model.config
    if not hasattr(config, "mlp_bias"):
        raise ValueError(f"{type(base.model).__name__} has no mlp_bias option: folding a vector "
                         "into a bias is supported for Llama-family models (SmolLM2, Llama)")
    cfg = config.__class__.from_dict(config.to_dict())
    cfg.mlp_bias = True
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(base.model.state_dict(), strict=False)
    if unexpected or any(not k.endswith(".bias") for k in missing):
        raise RuntimeError(f"state dict mismatch: missing {missing[:3]}, unexpected "
                           f"{unexpected[:3]}")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(".bias") and name in missing:
                param.zero_()
        block: Any = find_layers(model)[layer]
        bias = block.mlp.down_proj.bias
        bias.copy_(coeff * vector.to(bias.dtype))
    model.tie_weights()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    base.tokenizer.save_pretrained(out)
    (out / MARKER).write_text(json.dumps({
        "made_for": "pytest-persona demo (not a real fine-tune)",
        "base_model": base.model_id, **recipe, "note": note,
    }, indent=2))
    return out
