"""Lightly perturbed copies of a checkpoint: null candidates whose behaviour is intact, for
measuring the gate's noise floor (``persona calibrate --perturb``)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from pytest_persona.models.loading import LoadedModel

MARKER = "PERSONA_PERTURBED_CHECKPOINT.json"


def perturb_weights(model: torch.nn.Module, scale: float, seed: int) -> None:
    """Add Gaussian noise of ``scale`` x each weight matrix's standard deviation, in place
    (vectors such as norms and biases are left alone)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2 and scale > 0:
                noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
                p.add_((noise * (scale * float(p.float().std()))).to(p.dtype).to(p.device))


def save_perturbed(base: LoadedModel, scale: float, seed: int, out_dir: str | Path) -> Path:
    """Save a perturbed copy of ``base`` (its weights are restored afterwards)."""
    model = base.model
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        perturb_weights(model, scale, seed)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out)  # type: ignore[operator]  # typed nn.Module; a PreTrainedModel
        base.tokenizer.save_pretrained(out)
        (out / MARKER).write_text(json.dumps({
            "made_for": "pytest-persona calibration (a null candidate, not a real fine-tune)",
            "base_model": base.model_id, "base_fingerprint": base.fingerprint,
            "relative_noise": scale, "seed": seed}, indent=2))
    finally:
        model.load_state_dict(saved)
    return out
