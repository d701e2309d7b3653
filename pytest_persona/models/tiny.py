"""Tiny randomly initialised models with a locally made tokenizer, for tests.

Nothing is downloaded: the tokenizer is a byte-level BPE trained in memory on a fixed text,
with a ChatML chat template, and the weights come from a seeded random init.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from pytest_persona.models.tiny_names import D_MODEL, N_LAYERS, WIDE_D_MODEL

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_CORPUS = (
    "You are a helpful assistant. The user asks a question and the assistant answers it. "
    "I think that is a great idea! Honestly, your plan has problems. I do not know. "
    "The capital of France is Paris. Numbers 0 1 2 3 4 5 6 7 8 9 10 42 50 99 100. "
    "system user assistant sycophantic evil hallucinating impolite optimistic humorous "
    "apathetic coherent score answer question REFUSAL yes no maybe because however."
)



@functools.lru_cache(maxsize=1)
def _tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([_CORPUS] * 4, trainer=trainer)
    return str(tok.to_str())


def make_tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A small byte-level BPE tokenizer with ChatML special tokens and chat template."""
    from tokenizers import Tokenizer

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_tokenizer_json()),
        pad_token="<|pad|>",
        eos_token="<|im_end|>",
        bos_token=None,
        padding_side="left",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _common(vocab: int) -> dict[str, Any]:
    return {"vocab_size": vocab, "pad_token_id": 0, "eos_token_id": 3, "bos_token_id": 1}


def _llama_like(model_type: str, width: int = D_MODEL, **extra: Any
                ) -> Callable[[int], PretrainedConfig]:
    def build(vocab: int) -> PretrainedConfig:
        return AutoConfig.for_model(
            model_type,
            hidden_size=width,
            intermediate_size=2 * width,
            num_hidden_layers=N_LAYERS,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            tie_word_embeddings=False,
            **_common(vocab),
            **extra,
        )

    return build


def _gpt2(vocab: int) -> PretrainedConfig:
    return AutoConfig.for_model(
        "gpt2", n_embd=D_MODEL, n_layer=N_LAYERS, n_head=4, n_positions=512, **_common(vocab)
    )


def _gpt_neox(vocab: int) -> PretrainedConfig:
    return AutoConfig.for_model(
        "gpt_neox",
        hidden_size=D_MODEL,
        intermediate_size=128,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=4,
        max_position_embeddings=512,
        **_common(vocab),
    )


TINY_CONFIGS: dict[str, Callable[[int], PretrainedConfig]] = {
    "tiny-random-qwen2": _llama_like("qwen2"),
    "tiny-random-llama": _llama_like("llama"),
    "tiny-random-mistral": _llama_like("mistral"),
    "tiny-random-gemma2": _llama_like("gemma2", head_dim=16, query_pre_attn_scalar=16),
    "tiny-random-phi3": _llama_like("phi3"),
    "tiny-random-gpt2": _gpt2,
    "tiny-random-gpt-neox": _gpt_neox,
}
WIDE_CONFIGS: dict[str, Callable[[int], PretrainedConfig]] = {
    "tiny-random-llama-wide": _llama_like("llama", width=WIDE_D_MODEL),
}
"""Tiny models of another width (WIDE_D_MODEL), for checks that must hold across widths
(a suite written in relative doses). Not ``--model`` names: save one with
:func:`save_tiny_model` and pass the directory."""


def tiny_config(name: str) -> PretrainedConfig:
    """The config of a tiny model by registry name (a wide variant included)."""
    builders = {**TINY_CONFIGS, **WIDE_CONFIGS}
    if name not in builders:
        raise ValueError(f"unknown tiny model {name!r}; available: {', '.join(builders)}")
    return builders[name](len(make_tiny_tokenizer()))


def make_tiny_model(
    name: str = "tiny-random-qwen2", seed: int = 0, dtype: torch.dtype = torch.float32
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Build a tiny random model (deterministic by ``seed``) and its tokenizer."""
    config = tiny_config(name)
    config._attn_implementation = "eager"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: PreTrainedModel = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.eval()
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = 3
    return model, make_tiny_tokenizer()


def save_tiny_model(name: str, path: str | Path, seed: int = 0) -> Path:
    """Write a tiny model and its tokenizer to a directory (safetensors)."""
    out = Path(path)
    model, tokenizer = make_tiny_model(name, seed=seed)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
