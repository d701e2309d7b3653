"""Small helpers shared by the core tests."""

from __future__ import annotations

from typing import Any

import torch

ARCHS = [
    "tiny-random-qwen2",
    "tiny-random-llama",
    "tiny-random-mistral",
    "tiny-random-gemma2",
    "tiny-random-phi3",
    "tiny-random-gpt2",
    "tiny-random-gpt-neox",
]


def left_padded(tokenizer: Any, texts: list[str]) -> dict[str, torch.Tensor]:
    tokenizer.padding_side = "left"
    return dict(tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False))


def position_ids(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(-1) - 1).clamp(min=0)
