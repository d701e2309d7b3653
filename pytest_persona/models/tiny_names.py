"""Names and shape of the tiny test models, without torch or transformers (model identity on a
warm run). :mod:`pytest_persona.models.tiny` builds them and checks it agrees with this."""

from __future__ import annotations

D_MODEL = 64
N_LAYERS = 4
TINY_NAMES = ("tiny-random-qwen2", "tiny-random-llama", "tiny-random-mistral",
              "tiny-random-gemma2", "tiny-random-phi3", "tiny-random-gpt2",
              "tiny-random-gpt-neox")
WIDE_D_MODEL = 128
WIDE_NAMES = ("tiny-random-llama-wide",)  # built by tiny.py; not resolvable as --model names
