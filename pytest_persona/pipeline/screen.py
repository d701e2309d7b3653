"""Screen a training set before fine-tuning: the projection difference of every sample.

A sample's **projection difference** along a trait vector (Chen et al. 2025, data screening)
is the projection of the model's activations on the *training response*, minus the same for
the *model's own response* to the same prompt. Both are averaged over the response tokens at
the output of decoder block ``layer`` (0-based, ``hidden_states[layer + 1]``), and projected as
``a . v / |v|`` (the scalar projection onto the unit vector, :func:`core.projection.project`,
the same convention as every other projection in this package). High values mark samples that
push the model towards the trait more than it already goes.

``own="none"`` skips the model's own response and reports the raw projection: no
generation, but a prompt that already draws the trait out of the model (a question about
poisons) scores high even with a harmless answer, and length or style shifts are not
cancelled, so its ranking and threshold mean less.

The file is streamed in batches; memory stays constant (rows go to a sink, the summary is a
streaming bootstrap, the top samples a bounded heap). Each finished batch is cached under a
key of everything that changes it, so an interrupted screen resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import torch

from pytest_persona._util.atomic import write_text
from pytest_persona._util.deprecated import module_alias, renamed_keyword, warn_renamed
from pytest_persona._util.numbers import finite_or_none
from pytest_persona.cache.store import PersonaCache, stable_hash
from pytest_persona.core.activations import collect_activations
from pytest_persona.core.arrays import vector_sha256
from pytest_persona.core.generation import GenerationConfig, Messages
from pytest_persona.core.projection import project
from pytest_persona.core.streaming import RESAMPLES, StreamingMean, StreamSummary
from pytest_persona.errors import ScreenInputError as ScreenInputError
from pytest_persona.models.loading import LoadedModel, cache_identity
from pytest_persona.pipeline.responses import generate_cached

#: the own-answer mode: "generate" the model's own answer to each prompt and subtract its
#: projection, or "none" (the raw projection). It was called "baseline" before #24.
OwnMode = Literal["generate", "none"]
OWN_MODES: tuple[str, ...] = ("generate", "none")

if TYPE_CHECKING:  # deprecated aliases (at runtime the module __getattr__ below warns)
    Baseline = OwnMode
    BASELINES = OWN_MODES
else:

    def __getattr__(name: str) -> Any:
        return module_alias(__name__, name, {"Baseline": "OwnMode", "BASELINES": "OWN_MODES"})

ROLES = ("system", "user", "assistant", "tool", "developer")
TEXT_LIMIT = 4000  # characters of a top sample's text kept for the report
#: the longest line read, in bytes: a longer one is a bad line (read past in chunks, never held)
MAX_LINE_BYTES = 4 * 1024 * 1024
#: the most tokens of one sample (prompt and response, or prompt and the generated answer)
#: the screen runs through the model; a longer sample is a bad line, located and counted
MAX_SAMPLE_TOKENS = 2048
SCREEN_VERSION = 1


@dataclass(frozen=True)
class Sample:
    """One training example: the prompt turns, the response, and a content digest."""

    line: int
    prompt: Messages
    response: str
    id: str | None
    digest: str


# -- reading -----------------------------------------------------------------------------------
def _text(value: Any, where: str) -> str:
    """A message content: a string, or a list of ``{"type": "text", "text": ...}`` parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for i, part in enumerate(value):
            if not (isinstance(part, dict) and part.get("type") == "text"
                    and isinstance(part.get("text"), str)):
                raise ValueError(f"field '{where}[{i}]': only text parts are supported")
            parts.append(part["text"])
        return "".join(parts)
    raise ValueError(f"field '{where}' must be a string, got {type(value).__name__}")


def _messages(value: Any, name: str) -> Messages:
    if not isinstance(value, list) or not value:
        raise ValueError(f"field '{name}' must be a non-empty list of {{role, content}} messages")
    out: Messages = []
    for i, msg in enumerate(value):
        if not isinstance(msg, dict):
            raise ValueError(f"field '{name}[{i}]' must be an object with 'role' and 'content'")
        role = msg.get("role")
        if role not in ROLES:
            raise ValueError(f"field '{name}[{i}].role' must be one of {', '.join(ROLES)}, "
                             f"got {role!r}")
        out.append({"role": role, "content": _text(msg.get("content"), f"{name}[{i}].content")})
    return out


def parse_sample(text: str, path: Path | str, line: int) -> Sample:
    """Parse one JSONL line in chat format (``messages``) or ``prompt``/``response`` format.

    The digest is the sha256 of the line's text (surrounding whitespace stripped)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ScreenInputError(path, line, f"not valid JSON: {exc}") from None
    except RecursionError:
        raise ScreenInputError(path, line, "not valid JSON: nested too deep") from None
    if not isinstance(data, dict):
        raise ScreenInputError(path, line, "each line must be a JSON object")
    try:
        if "messages" in data:
            if "prompt" in data or "response" in data:
                raise ValueError("has both 'messages' and 'prompt'/'response': use one format")
            msgs = _messages(data["messages"], "messages")
            last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=-1)
            if last < 0:
                raise ValueError("field 'messages' has no assistant turn (the response)")
            if last != len(msgs) - 1:
                raise ValueError(f"field 'messages[{last + 1}]' comes after the last assistant "
                                 "turn; the response must be the final message")
            prompt, response = msgs[:last], msgs[last]["content"]
            if not prompt:
                raise ValueError("field 'messages' has no turn before the assistant response")
        elif "prompt" in data and "response" in data:
            raw = data["prompt"]
            is_turns = isinstance(raw, list) and bool(raw) and all(
                isinstance(m, dict) and "role" in m for m in raw)
            prompt = (_messages(raw, "prompt") if is_turns
                      else [{"role": "user", "content": _text(raw, "prompt")}])
            if data.get("system") is not None:
                prompt.insert(0, {"role": "system", "content": _text(data["system"], "system")})
            response = _text(data["response"], "response")
        else:
            raise ValueError("needs a 'messages' list, or 'prompt' and 'response' fields")
        if not response.strip():
            raise ValueError("the response is empty")
        ident = data.get("id")
        if ident is not None and not isinstance(ident, (str, int)):
            raise ValueError("field 'id' must be a string or an integer")
    except ValueError as exc:
        raise ScreenInputError(path, line, str(exc)) from None
    digest = hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:32]
    return Sample(line, prompt, response, None if ident is None else str(ident), digest)


@dataclass
class BadLines:
    """Lines skipped with ``on_bad_line="skip"``: a count and the first few messages."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, error: ScreenInputError) -> None:
        self.count += 1
        if len(self.examples) < 20:
            self.examples.append(str(error))


def count_lines(path: Path) -> int:
    """Non-blank lines of a file (for progress), in constant memory (read in chunks)."""
    n, content = 0, False
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            for part in chunk.split(b"\n")[:-1]:
                n += content or bool(part.strip())
                content = False
            content = content or bool(chunk.rsplit(b"\n", 1)[-1].strip())
    return n + content


def _lines(handle: Any, digest: Any) -> Iterator[bytes | None]:
    """The file's lines, each at most :data:`MAX_LINE_BYTES`; a longer one is read past in
    chunks and given as None. Every byte goes to ``digest``."""
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        if digest is not None:
            digest.update(raw)
        if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
            yield raw
            continue
        while raw and not raw.endswith(b"\n"):
            raw = handle.readline(1 << 16)
            if digest is not None:
                digest.update(raw)
        yield None


def read_samples(path: Path, on_bad_line: str = "fail", bad: BadLines | None = None,
                 digest: Any = None) -> Iterator[Sample]:
    """Samples of a JSONL file one by one; blank lines are ignored. ``digest`` (a hashlib
    object) is fed every raw byte, so the caller gets the file's hash for free. A line over
    :data:`MAX_LINE_BYTES` is a bad line (never held in memory whole)."""
    if on_bad_line not in ("fail", "skip"):
        raise ValueError(f"on_bad_line must be 'fail' or 'skip', got {on_bad_line!r}")
    with open(path, "rb") as handle:
        for number, raw in enumerate(_lines(handle, digest), 1):
            if raw is not None and not raw.strip():
                continue
            try:
                if raw is None:
                    raise ScreenInputError(path, number, f"line longer than {MAX_LINE_BYTES:,} "
                                           "bytes: too long to screen")
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ScreenInputError(path, number, f"not UTF-8 text: {exc.reason}") from None
                yield parse_sample(text, path, number)
            except ScreenInputError as exc:
                if on_bad_line == "fail":
                    raise
                if bad is not None:
                    bad.add(exc)


def bounded(samples: Iterator[Sample], path: Path, check: Callable[[Sample], str | None] | None,
            on_bad_line: str, bad: BadLines) -> Iterator[Sample]:
    """``samples`` less those ``check`` finds too long: each is a located bad line."""
    for sample in samples:
        why = check(sample) if check is not None else None
        if why is None:
            yield sample
            continue
        error = ScreenInputError(path, sample.line, why)
        if on_bad_line == "fail":
            raise error
        bad.add(error)


def batched(samples: Iterator[Sample], size: int) -> Iterator[list[Sample]]:
    chunk: list[Sample] = []
    for sample in samples:
        chunk.append(sample)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- projecting --------------------------------------------------------------------------------
class Projector(Protocol):
    """What the screen needs from a model: projections and its own responses."""

    traits: tuple[str, ...]

    def key(self) -> dict[str, Any]:
        """Everything that changes the numbers: model identity, vectors, layer, sampling."""
        ...

    def project(self, prompts: Sequence[Messages], responses: Sequence[str]) -> list[list[float]]:
        """``[len(prompts)][len(traits)]`` projections of response-averaged activations."""
        ...

    def respond(self, prompts: Sequence[Messages]) -> list[str]:
        """The model's own (greedy) responses."""
        ...


def vector_hash(vector: torch.Tensor) -> str:
    """The screen cache's vector key: the first 32 hex digits of
    :func:`~pytest_persona.core.arrays.vector_sha256`."""
    return vector_sha256(vector)[:32]


class ModelProjector:
    """A loaded model with one vector per trait at ``layer``; generation goes through the
    response cache (greedy, ``max_new_tokens``)."""

    def __init__(self, loaded: LoadedModel, vectors: Mapping[str, torch.Tensor], layer: int,
                 cache: PersonaCache | None = None, max_new_tokens: int = 64,
                 batch_size: int = 16, max_tokens: int = MAX_SAMPLE_TOKENS) -> None:
        if not vectors:
            raise ValueError("screen needs at least one trait vector")
        if not 0 <= layer < loaded.n_layers:
            raise ValueError(f"layer {layer} is out of range for {loaded.name}, which has "
                             f"{loaded.n_layers} decoder blocks (0..{loaded.n_layers - 1})")
        for name, vec in vectors.items():
            if vec.ndim != 1 or vec.shape[0] != loaded.d_model:
                raise ValueError(f"the {name} vector has shape {tuple(vec.shape)}; the model "
                                 f"needs one layer's vector of size {loaded.d_model}")
        self.loaded = loaded
        self.traits = tuple(vectors)
        self.vectors = {k: v.detach().float().cpu() for k, v in vectors.items()}
        self.layer = layer
        self.cache = cache
        self.batch_size = batch_size
        self.config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0,
                                       batch_size=batch_size)
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        self.max_tokens = max_tokens

    def _count(self, text: str) -> int:
        return len(self.loaded.tokenizer(text, add_special_tokens=False)["input_ids"])

    def too_long(self, sample: Sample) -> str | None:
        """Why ``sample`` is over :attr:`max_tokens` (its prompt, chat template included, with
        its response or with the ``max_new_tokens`` of its own answer), or None."""
        tok = self.loaded.tokenizer
        try:
            prompt = tok.apply_chat_template(sample.prompt, tokenize=False,
                                             add_generation_prompt=True)
        except (ValueError, AttributeError):
            prompt = "\n".join(m["content"] for m in sample.prompt)
        n_prompt = self._count(prompt)
        n_response = self._count(sample.response)
        longest = n_prompt + max(n_response, self.config.max_new_tokens)
        if longest <= self.max_tokens:
            return None
        return (f"{n_prompt:,} prompt tokens and {n_response:,} response tokens (own answers "
                f"up to {self.config.max_new_tokens}): over the cap of {self.max_tokens:,} "
                "tokens per sample (--max-tokens)")

    def key(self) -> dict[str, Any]:
        return {"model": cache_identity(self.loaded), "layer": self.layer,
                "vectors": {k: vector_hash(v) for k, v in self.vectors.items()},
                "generation": self.config.key()}

    def project(self, prompts: Sequence[Messages], responses: Sequence[str]) -> list[list[float]]:
        acts = collect_activations(self.loaded.model, self.loaded.tokenizer, list(prompts),
                                   list(responses), batch_size=self.batch_size,
                                   layers=[self.layer])
        at_layer = acts.response_avg[:, 0]
        cols = [project(at_layer, self.vectors[t]) for t in self.traits]
        return torch.stack(cols, dim=1).tolist() if cols else []

    def respond(self, prompts: Sequence[Messages]) -> list[str]:
        return generate_cached(self.loaded, list(prompts), self.config, self.cache)


# -- the screen ---------------------------------------------------------------------------------
@dataclass
class ScreenRow:
    """Per-sample numbers; ``own`` and ``difference`` are None with ``own="none"``."""

    line: int
    id: str | None
    digest: str
    projection: dict[str, float]
    own: dict[str, float] | None
    difference: dict[str, float] | None

    def score(self, trait: str) -> float:
        """What the screen ranks and summarises: the difference, else the raw projection."""
        return (self.difference or self.projection)[trait]

    def flat(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "id": self.id, "digest": self.digest}
        for t, value in self.projection.items():
            out[f"{t}.projection"] = value
            if self.own is not None and self.difference is not None:
                out[f"{t}.own_projection"] = self.own[t]
                out[f"{t}.difference"] = self.difference[t]
        return out


@dataclass
class TraitScreen:
    """Dataset-level figures of one trait."""

    trait: str
    summary: StreamSummary
    top: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        return {"trait": self.trait, "n": s.n, "mean": _finite(s.mean),
                "ci": [_finite(s.ci_low), _finite(s.ci_high)], "threshold": s.threshold,
                "above": s.above if s.threshold is not None else None,
                "fraction_above": _finite(s.fraction_above) if s.threshold is not None else None,
                "top": self.top}


@renamed_keyword("baseline", "own")
@dataclass
class ScreenResult:
    """What a screen found, JSON-ready through :meth:`to_dict`."""

    data: str
    data_sha256: str
    own: str  # the own-answer mode, one of OWN_MODES
    threshold: float | None
    key: dict[str, Any]
    traits: dict[str, TraitScreen]
    n_samples: int
    skipped: BadLines
    batches_computed: int
    batches_cached: int
    histograms: dict[str, dict[str, Any]]
    resamples: int = RESAMPLES
    seed: int = 0

    @property
    def measure(self) -> str:
        return "projection_difference" if self.own == "generate" else "projection"

    @property
    def baseline(self) -> str:
        """Deprecated name of :attr:`own`."""
        warn_renamed("ScreenResult.baseline", "ScreenResult.own")
        return self.own

    def to_dict(self) -> dict[str, Any]:
        """The ``screen.json`` document. The mode is written as ``own`` and, for readers of
        earlier files, as ``baseline`` too (the same value; ``baseline`` goes in a release)."""
        return {
            "kind": "persona-screen", "version": SCREEN_VERSION, "data": self.data,
            "data_sha256": self.data_sha256, "own": self.own, "baseline": self.own,
            "measure": self.measure,
            "threshold": self.threshold, "n_samples": self.n_samples,
            "skipped_lines": self.skipped.count, "skipped_examples": self.skipped.examples,
            "batches": {"computed": self.batches_computed, "cached": self.batches_cached},
            "model": self.key.get("model"), "layer": self.key.get("layer"),
            "vectors": self.key.get("vectors"), "generation": self.key.get("generation"),
            "interval": f"95% Poisson-bootstrap percentile interval of the mean "
                        f"({self.resamples} replicates, seed {self.seed})",
            "traits": {t: s.to_dict() for t, s in self.traits.items()},
            "histograms": self.histograms,
        }


_finite = finite_or_none


class _Histogram:
    """Fixed-bin counts over a range widened as values arrive (bins merge pairwise)."""

    def __init__(self, bins: int = 40) -> None:
        self.bins = bins
        self.lo: float | None = None
        self.width = 0.0
        self.counts = [0] * bins

    def add(self, values: Sequence[float]) -> None:
        for v in values:
            if not math.isfinite(v):
                continue
            if self.lo is None:
                self.lo, self.width = v - 0.5, 1.0 / self.bins
            while v < self.lo:
                self._widen(left=True)
            while v >= self.lo + self.width * self.bins:
                self._widen(left=False)
            self.counts[min(self.bins - 1, int((v - self.lo) / self.width))] += 1

    def _widen(self, left: bool) -> None:
        assert self.lo is not None
        merged = [self.counts[i] + self.counts[i + 1] for i in range(0, self.bins, 2)]
        pad = [0] * (self.bins - len(merged))
        if left:
            self.lo -= self.width * self.bins
            self.counts = pad + merged
        else:
            self.counts = merged + pad
        self.width *= 2

    def to_dict(self) -> dict[str, Any]:
        edges = [] if self.lo is None else [self.lo + i * self.width for i in range(self.bins + 1)]
        return {"edges": edges, "counts": list(self.counts)}


class _Top:
    """The ``k`` highest-scoring samples of one trait, with their text."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.heap: list[tuple[float, int, dict[str, Any]]] = []

    def offer(self, score: float, line: int, make: Callable[[], dict[str, Any]]) -> None:
        if len(self.heap) < self.k:
            heapq.heappush(self.heap, (score, -line, make()))
        elif score > self.heap[0][0]:
            heapq.heapreplace(self.heap, (score, -line, make()))

    def items(self) -> list[dict[str, Any]]:
        return [e for _, _, e in sorted(self.heap, key=lambda x: (-x[0], -x[1]))]


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + " [...]"


def _top_entry(row: ScreenRow, sample: Sample, trait: str, own_text: str | None
               ) -> dict[str, Any]:
    return {"line": sample.line, "id": sample.id, "score": row.score(trait),
            "projection": row.projection[trait],
            "own_projection": row.own[trait] if row.own is not None else None,
            "prompt": [{"role": m["role"], "content": _clip(m["content"])} for m in sample.prompt],
            "response": _clip(sample.response),
            "own_response": _clip(own_text) if own_text is not None else None}


def _batch_path(cache: PersonaCache, key: str) -> Path:
    return cache.root / "screen" / key[:2] / f"{key}.json"


def _load_batch(path: Path, n: int, n_traits: int, own: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        proj = data["projection"]
        ok = len(proj) == n and all(len(r) == n_traits for r in proj)
        if own == "generate":
            ok = ok and len(data["own"]) == n and len(data["own_text"]) == n
        return data if ok else None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable: recompute


def _compute_batch(projector: Projector, batch: list[Sample], own: str) -> dict[str, Any]:
    prompts = [s.prompt for s in batch]
    if own == "none":
        return {"projection": projector.project(prompts, [s.response for s in batch])}
    def ident(p: Messages) -> tuple[tuple[str, str], ...]:
        return tuple((m["role"], m["content"]) for m in p)

    unique: dict[tuple[tuple[str, str], ...], Messages] = {}
    for p in prompts:
        unique.setdefault(ident(p), p)
    answers = dict(zip(unique, projector.respond(list(unique.values()))))
    own_text = [answers[ident(p)] for p in prompts]
    both = projector.project(prompts + prompts, [s.response for s in batch] + own_text)
    return {"projection": both[:len(batch)], "own": both[len(batch):], "own_text": own_text}


def screen(
    path: str | Path,
    projector: Projector,
    *,
    own: str = "generate",
    threshold: float | None = None,
    batch_size: int = 32,
    cache: PersonaCache | None = None,
    on_bad_line: str = "fail",
    top_k: int = 20,
    seed: int = 0,
    resamples: int = RESAMPLES,
    progress: Callable[[int, int], None] | None = None,
    sink: Callable[[list[ScreenRow]], None] | None = None,
    baseline: str | None = None,
) -> ScreenResult:
    """Screen the JSONL file at ``path``; per-sample rows go to ``sink`` batch by batch.

    ``own``: "generate" ranks by the projection difference from the model's own answers,
    "none" by the raw projection (see the module docstring). ``baseline`` is its deprecated
    name, kept in the signature so that callers of the old name still type-check."""
    if baseline is not None:
        if own not in ("generate", baseline):
            raise TypeError(f"screen() got own={own!r} and its old name baseline={baseline!r}")
        warn_renamed("screen(baseline=)", "own=")
        own = baseline
    if own not in OWN_MODES:
        raise ValueError(f"own must be one of {', '.join(OWN_MODES)}, got {own!r}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    data = Path(path)
    if not data.is_file():
        raise FileNotFoundError(f"{data}: no such data file")
    traits = projector.traits
    # "baseline": the mode's name in the persisted batch keys, kept so cached batches still match
    base_key = {**projector.key(), "baseline": own, "v": SCREEN_VERSION}
    if own == "none":
        base_key.pop("generation", None)
    total = count_lines(data) if progress is not None else 0
    stats = {t: StreamingMean(threshold, resamples, seed) for t in traits}
    tops = {t: _Top(top_k) for t in traits}
    hists = {t: _Histogram() for t in traits}
    bad = BadLines()
    digest = hashlib.sha256()
    computed = cached = n = 0
    if progress is not None:
        progress(0, total)
    samples = bounded(read_samples(data, on_bad_line, bad, digest), data,
                      getattr(projector, "too_long", None), on_bad_line, bad)
    for number, batch in enumerate(batched(samples, batch_size)):
        key = stable_hash({**base_key, "lines": [s.digest for s in batch]}, 40)
        path_b = _batch_path(cache, key) if cache is not None else None
        found = (_load_batch(path_b, len(batch), len(traits), own)
                 if path_b is not None and not (cache and cache.refresh) else None)
        if found is None:
            found = _compute_batch(projector, batch, own)
            computed += 1
            if path_b is not None:
                write_text(path_b, json.dumps(found, ensure_ascii=False))
        else:
            cached += 1
        rows: list[ScreenRow] = []
        for i, sample in enumerate(batch):
            proj = dict(zip(traits, map(float, found["projection"][i])))
            own_p = dict(zip(traits, map(float, found["own"][i]))) if own == "generate" \
                else None
            diff = {t: proj[t] - own_p[t] for t in traits} if own_p is not None else None
            rows.append(ScreenRow(sample.line, sample.id, sample.digest, proj, own_p, diff))
        for t in traits:
            scores = [r.score(t) for r in rows]
            stats[t].add_block(number, scores)
            hists[t].add(scores)
            for i, (row, sample) in enumerate(zip(rows, batch)):
                own_text = found["own_text"][i] if "own_text" in found else None
                tops[t].offer(row.score(t), row.line,
                              partial(_top_entry, row, sample, t, own_text))
        n += len(batch)
        if sink is not None:
            sink(rows)
        if progress is not None:
            progress(min(n + bad.count, total), total)
    if progress is not None and total and n + bad.count < total:
        progress(total, total)
    return ScreenResult(str(data), digest.hexdigest(), own, threshold, base_key,
                        {t: TraitScreen(t, stats[t].summary(), tops[t].items()) for t in traits},
                        n, bad, computed, cached, {t: h.to_dict() for t, h in hists.items()},
                        resamples, seed)
