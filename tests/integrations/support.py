"""A tiny model, a training set and a vector file for the Trainer callback tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pytest_persona.core.vectors import TraitVectors
from pytest_persona.models.tiny import make_tiny_model

LAYER = 1
TRAIT = "sycophantic"
TEXTS = ["I think that is a great idea!", "Honestly, your plan has problems.",
         "The capital of France is Paris.", "yes no maybe because however"]


def tiny(name: str = "tiny-random-llama") -> tuple[Any, Any]:
    return make_tiny_model(name, seed=0)


def dataset(tokenizer: Any, n: int = 16) -> list[dict[str, torch.Tensor]]:
    """``n`` equal-length examples (labels = inputs), so the default collator stacks them."""
    rows = [tokenizer(TEXTS[i % len(TEXTS)], add_special_tokens=False)["input_ids"]
            for i in range(n)]
    width = max(len(r) for r in rows)
    out = []
    for r in rows:
        ids = r + [int(tokenizer.pad_token_id)] * (width - len(r))
        mask = [1] * len(r) + [0] * (width - len(r))
        labels = r + [-100] * (width - len(r))
        out.append({"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask),
                    "labels": torch.tensor(labels)})
    return out


def vector_file(path: Path, d_model: int = 64, n_layers: int = 4, seed: int = 0,
                trait: str = TRAIT) -> Path:
    rows = torch.zeros(n_layers, d_model)
    rows[LAYER] = torch.randn(d_model, generator=torch.Generator().manual_seed(seed))
    return TraitVectors(rows, {"trait": trait}).save(path)


def training_args(out: Path, steps: int = 6, **over: Any) -> Any:
    from transformers import TrainingArguments

    params: dict[str, Any] = dict(output_dir=str(out), max_steps=steps,
                                  per_device_train_batch_size=4, learning_rate=5e-2,
                                  report_to=[], save_strategy="no", logging_steps=1,
                                  use_cpu=True, disable_tqdm=True, seed=0,
                                  dataloader_num_workers=0)
    params.update(over)
    return TrainingArguments(**params)
