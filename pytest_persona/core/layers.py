"""Finding the decoder blocks of a causal language model, whatever its architecture."""

from __future__ import annotations

from torch import nn

# Attribute paths, tried in order, from the top-level model to its list of decoder blocks.
BLOCK_PATHS: tuple[str, ...] = (
    "model.layers",  # Llama, Qwen2, Mistral, Gemma, Gemma2, Phi3, SmolLM
    "model.language_model.layers",  # Gemma3 (text in a multimodal wrapper), newer VLM layouts
    "language_model.model.layers",
    "model.model.layers",
    "transformer.h",  # GPT-2, GPT-J, Falcon
    "gpt_neox.layers",  # GPT-NeoX, Pythia
    "model.decoder.layers",  # OPT
    "layers",
)


def _unwrap_peft(model: nn.Module) -> nn.Module:
    """Return the wrapped transformers model of a PEFT model, or the model itself."""
    get_base = getattr(model, "get_base_model", None)
    if callable(get_base):
        base = get_base()
        if isinstance(base, nn.Module):
            return base
    return model


def _follow(root: nn.Module, path: str) -> nn.Module | None:
    node: object = root
    for part in path.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node if isinstance(node, nn.Module) else None


def find_layers(model: nn.Module) -> nn.ModuleList:
    """Return the decoder blocks of ``model`` (0-based: block ``L`` is ``hidden_states[L + 1]``).

    Raises:
        ValueError: no known layout matched; the message names every path tried.
    """
    root = _unwrap_peft(model)
    for path in BLOCK_PATHS:
        blocks = _follow(root, path)
        if isinstance(blocks, nn.ModuleList) and len(blocks) > 0:
            return blocks
    kind = type(root).__name__
    tried = ", ".join(BLOCK_PATHS)
    raise ValueError(
        f"cannot find the decoder blocks of {kind}: tried the module paths {tried}. "
        "pytest-persona supports Llama, Qwen2, Mistral, Gemma 1-3, Phi3, GPT-2 and GPT-NeoX "
        "layouts (and PEFT wrappers of them)."
    )


def n_layers(model: nn.Module) -> int:
    """Number of decoder blocks."""
    return len(find_layers(model))


def check_layer(model: nn.Module, layer: int) -> int:
    """Validate a 0-based block index and return it."""
    count = n_layers(model)
    if not isinstance(layer, int) or isinstance(layer, bool):
        raise ValueError(f"layer must be an int, got {type(layer).__name__}")
    if not 0 <= layer < count:
        raise ValueError(
            f"layer {layer} is out of range: the model has {count} decoder blocks, "
            f"valid layers are 0..{count - 1} (0-based block index; hidden_states[L + 1])"
        )
    return layer
