"""Contrastive extraction: generate under positive/negative system prompts, judge, keep
effective pairs, and take mean differences of activations at every layer."""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from filelock import Timeout

from pytest_persona import __version__
from pytest_persona._util.progress import Progress, bind
from pytest_persona.cache.keys import VectorKey
from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.requests import GenerationConfig
from pytest_persona.core.vectors import TraitVectors
from pytest_persona.engines.base import Engine
from pytest_persona.errors import ExtractionError as ExtractionError
from pytest_persona.judges import COHERENCE_PROMPT, Judge, JudgeRequest, check_missing
from pytest_persona.models.loading import LoadedModel, cache_identity
from pytest_persona.pipeline.responses import generate_cached
from pytest_persona.traits.loader import (
    DEFAULT_NEG_SYSTEM_TEMPLATE,
    DEFAULT_POS_SYSTEM_TEMPLATE,
    Polarity,
    TraitData,
)

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractionConfig:
    """Parameters of the contrastive pipeline (reference: 5 pairs x 20 questions x 10 samples).

    A pair (same instruction, question and sample) is effective when the positive response
    scores ``>= trait_threshold``, the negative one ``< 100 - trait_threshold``, and both are
    ``>= coherence_threshold`` coherent: the reference's rule (its ``threshold``, default 50;
    coherence fixed at 50 there). System prompts come from ``pos_system_template`` and
    ``neg_system_template`` (defaults: the reference pair, the trait name in the positive one
    only).
    """

    n_samples: int = 1
    n_questions: int | None = None
    n_instructions: int | None = None
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    trait_threshold: float = 50.0
    coherence_threshold: float = 50.0
    min_pairs: int = 5
    max_missing_fraction: float = 0.2
    pos_system_template: str = DEFAULT_POS_SYSTEM_TEMPLATE
    neg_system_template: str = DEFAULT_NEG_SYSTEM_TEMPLATE
    batch_size: int | None = None

    def key(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("batch_size")
        data.pop("max_missing_fraction")
        return data

    def template(self, polarity: Polarity) -> str:
        """The system-prompt template of ``polarity`` (``"pos"`` or ``"neg"``)."""
        return self.pos_system_template if polarity == "pos" else self.neg_system_template

    @property
    def neg_threshold(self) -> float:
        """A negative response must score below this: ``100 - trait_threshold``."""
        return 100.0 - self.trait_threshold

    def generation(self) -> GenerationConfig:
        return GenerationConfig(max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                                top_p=self.top_p, seed=self.seed, batch_size=self.batch_size)


@dataclass(frozen=True)
class Row:
    """One contrastive response; pairs share (instruction, question, sample)."""

    polarity: Polarity
    instruction: int
    question: int
    sample: int
    system: str
    user: str

    @property
    def pair_key(self) -> tuple[int, int, int]:
        return (self.instruction, self.question, self.sample)


@dataclass
class ScoredRow:
    row: Row
    response: str
    trait_score: float | None
    coherence: float | None


@dataclass
class ExtractionResult:
    """Vectors plus what went into them."""

    vectors: TraitVectors
    rows: list[ScoredRow] = field(default_factory=list)
    effective_pairs: int = 0
    total_pairs: int = 0
    from_cache: bool = False
    seconds: float = 0.0


def build_rows(trait: TraitData, config: ExtractionConfig) -> list[Row]:
    """Every (polarity, instruction, question, sample) combination."""
    instructions = trait.instructions[: config.n_instructions]
    questions = trait.extract_questions[: config.n_questions]
    rows: list[Row] = []
    for pol in ("pos", "neg"):
        for i in range(len(instructions)):
            system = trait.system_prompt(pol, i, config.template(pol))
            for q, question in enumerate(questions):
                for s in range(config.n_samples):
                    rows.append(Row(pol, i, q, s, system, question))
    return rows


def vector_cache_key(
    loaded: LoadedModel, trait: TraitData, config: ExtractionConfig, judge: Judge,
    coherence_judge: Judge, engine: Engine | None = None,
) -> str:
    """Key of a vector: model identity (the generating engine's: its texts made the
    vector), trait data hash, parameters and judges."""
    model = engine.identity(loaded) if engine is not None else cache_identity(loaded)
    return VectorKey(model=model, trait=trait.name, trait_sha256=trait.sha256,
                     config=config.key(), judge=judge.identity(trait.name),
                     coherence_judge=coherence_judge.id,
                     version=2).digest()  # 2: reference negative threshold, empty responses out


def effective_pairs(
    scored: list[ScoredRow], config: ExtractionConfig
) -> list[tuple[ScoredRow, ScoredRow]]:
    """Pairs matched by (instruction, question, sample) that pass every threshold:
    pos >= t, neg < 100 - t, both coherence >= the coherence threshold (the reference rule)."""
    pos = {s.row.pair_key: s for s in scored if s.row.polarity == "pos"}
    neg = {s.row.pair_key: s for s in scored if s.row.polarity == "neg"}
    pairs = []
    for key in sorted(pos.keys() & neg.keys()):
        p, n = pos[key], neg[key]
        if None in (p.trait_score, n.trait_score, p.coherence, n.coherence):
            continue
        if (p.trait_score >= config.trait_threshold  # type: ignore[operator]
                and n.trait_score < config.neg_threshold  # type: ignore[operator]
                and p.coherence >= config.coherence_threshold  # type: ignore[operator]
                and n.coherence >= config.coherence_threshold):  # type: ignore[operator]
            pairs.append((p, n))
    return pairs


def _too_few(trait: str, scored: list[ScoredRow], n_eff: int, config: ExtractionConfig) -> str:
    pos = [s for s in scored if s.row.polarity == "pos"]
    neg = [s for s in scored if s.row.polarity == "neg"]
    hi = sum(1 for s in pos if (s.trait_score or 0) >= config.trait_threshold)
    lo = sum(1 for s in neg if s.trait_score is not None and s.trait_score < config.neg_threshold)
    coh = sum(1 for s in scored if (s.coherence or 0) >= config.coherence_threshold)
    return (
        f"{trait}: only {n_eff} effective pairs of {len(pos)} (minimum {config.min_pairs}). "
        f"Positive responses scoring >= {config.trait_threshold:g}: {hi}/{len(pos)}; negative "
        f"responses scoring < {config.neg_threshold:g} (100 - threshold): {lo}/{len(neg)}; "
        f"coherent responses: "
        f"{coh}/{len(scored)}. Try more samples per question (n_samples), more questions, a "
        "larger model, a stronger judge (--judge openai:... or anthropic:...), or lower "
        "thresholds (trait_threshold / coherence_threshold / min_pairs)."
    )


def score_rows(
    rows: list[Row], responses: list[str], trait: TraitData, judge: Judge,
    coherence_judge: Judge, config: ExtractionConfig, progress: Progress | None = None,
) -> list[ScoredRow]:
    """Judge every response for the trait and for coherence."""
    trait_req = [JudgeRequest(r.user, a, trait.eval_prompt, trait=trait.name)
                 for r, a in zip(rows, responses)]
    coh_req = [JudgeRequest(r.user, a, COHERENCE_PROMPT, trait="coherence")
               for r, a in zip(rows, responses)]
    trait_res = judge.score_many_sync(trait_req, progress=bind(progress, f"judge {trait.name}"))
    check_missing(trait_res, config.max_missing_fraction, f"{trait.name} trait scores")
    coh_res = coherence_judge.score_many_sync(
        coh_req, progress=bind(progress, f"judge coherence {trait.name}"))
    check_missing(coh_res, config.max_missing_fraction, f"{trait.name} coherence scores")
    return [ScoredRow(r, a, t.score, c.score)
            for r, a, t, c in zip(rows, responses, trait_res, coh_res)]


def extract_vectors(
    loaded: LoadedModel,
    trait: TraitData,
    judge: Judge,
    coherence_judge: Judge | None = None,
    config: ExtractionConfig = ExtractionConfig(),
    cache: PersonaCache | None = None,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> ExtractionResult:
    """Run the contrastive pipeline (or load its cached result) and return the vectors.
    ``engine`` generates the contrastive responses (default: hf); activations are read with
    transformers either way."""
    coherence_judge = coherence_judge or judge
    key = vector_cache_key(loaded, trait, config, judge, coherence_judge, engine)
    if cache is None:
        return _extract(loaded, trait, judge, coherence_judge, config, None, progress, engine,
                        key)
    found = _cached_result(cache, key, loaded)
    if found is not None:
        return found
    lock = cache.computing("vectors", key)
    stage = f"wait for {trait.name} vectors (another process extracts them)"
    waited = False
    try:
        lock.acquire(timeout=0)
    except Timeout:  # another process sharing the cache is extracting these vectors
        waited = True
        if progress is not None:
            progress(stage, 0, 1)
        start = time.monotonic()
        lock.acquire()
        log.info("%s vectors: waited %.1f s for another process", trait.name,
                 time.monotonic() - start)
    try:
        if waited and progress is not None:
            progress(stage, 1, 1)
        if waited or not cache.refresh:
            # written meanwhile by another process: the one waited for (during this run, so
            # taken even under refresh), or one that finished between the first look and the lock
            found = _cached_result(cache, key, loaded, recheck=True, ignore_refresh=waited)
            if found is not None:
                return found
        return _extract(loaded, trait, judge, coherence_judge, config, cache, progress,
                        engine, key)
    finally:
        lock.release()


def _cached_result(cache: PersonaCache, key: str, loaded: LoadedModel, recheck: bool = False,
                   ignore_refresh: bool = False) -> ExtractionResult | None:
    cached = cache.load_vectors(key, recheck=recheck, ignore_refresh=ignore_refresh)
    if cached is None:
        return None
    cached.check_model(loaded.n_layers, loaded.d_model, "the cache")
    return ExtractionResult(cached, effective_pairs=int(
        cached.metadata.get("effective_pairs", 0)), total_pairs=int(
        cached.metadata.get("total_pairs", 0)), from_cache=True)


def _extract(
    loaded: LoadedModel, trait: TraitData, judge: Judge, coherence_judge: Judge,
    config: ExtractionConfig, cache: PersonaCache | None, progress: Progress | None,
    engine: Engine | None, key: str,
) -> ExtractionResult:
    """The contrastive pipeline itself (the caller holds the computing lock)."""
    start = time.monotonic()
    rows = build_rows(trait, config)
    responses = generate_cached(
        loaded, [[{"role": "system", "content": r.system}, {"role": "user", "content": r.user}]
                 for r in rows],
        config.generation(), cache, salts=[r.sample for r in rows],
        progress=bind(progress, f"generate {trait.name} contrastive"), engine=engine,
    )
    scored = score_rows(rows, responses, trait, judge, coherence_judge, config, progress)
    pairs = effective_pairs(scored, config)
    total = len(scored) // 2
    if not pairs or len(pairs) < config.min_pairs:  # min_pairs: 0 still needs one pair
        raise ExtractionError(_too_few(trait.name, scored, len(pairs), config))
    kept = [p for pair in pairs for p in pair]
    import torch

    from pytest_persona.core.activations import collect_activations  # torch: misses only

    acts = collect_activations(
        loaded.model, loaded.tokenizer,
        [[{"role": "system", "content": s.row.system}, {"role": "user", "content": s.row.user}]
         for s in kept],
        [s.response for s in kept], batch_size=config.batch_size or 16,
        progress=bind(progress, f"activations {trait.name}"),
    )
    is_pos = torch.tensor([s.row.polarity == "pos" for s in kept])
    has_text = torch.tensor([bool(s.response.strip()) for s in kept])
    empty = {"pos": int((is_pos & ~has_text).sum()), "neg": int((~is_pos & ~has_text).sum())}
    for pol, mask in (("pos", is_pos), ("neg", ~is_pos)):
        if not bool((mask & has_text).any()):
            raise ExtractionError(f"{trait.name}: every effective {pol} response is empty; "
                                  "no response activations to average")

    def diff(pooling: str) -> torch.Tensor:
        a = acts.get(pooling)
        # an empty response has no response tokens: it is left out of the response mean
        use = has_text if pooling == "response_avg" else torch.ones_like(has_text)
        return a[is_pos & use].mean(0) - a[~is_pos & use].mean(0)

    meta = {
        "trait": trait.name, "trait_sha256": trait.sha256, "model_id": loaded.model_id,
        "model_name": loaded.name, "fingerprint": loaded.fingerprint,
        "n_layers": loaded.n_layers, "d_model": loaded.d_model,
        "layer_convention": "block_output_0based", "judge": judge.identity(trait.name),
        "coherence_judge": coherence_judge.id, "extraction": config.key(),
        "effective_pairs": len(pairs), "total_pairs": total,
        "empty_responses_excluded": empty["pos"] + empty["neg"],
        "empty_responses_excluded_by_polarity": empty,
        "pair_rule": (f"pos >= {config.trait_threshold:g}, neg < {config.neg_threshold:g}, "
                      f"coherence >= {config.coherence_threshold:g}"),
        "pos_mean_score": statistics.fmean(p.trait_score for p, _ in pairs),  # type: ignore[misc]
        "neg_mean_score": statistics.fmean(n.trait_score for _, n in pairs),  # type: ignore[misc]
        "package_version": __version__, "cache_key": key,
    }
    vectors = TraitVectors(diff("response_avg"), meta,
                           {"prompt_avg": diff("prompt_avg"), "prompt_last": diff("prompt_last")})
    if cache is not None:
        cache.save_vectors(key, vectors, {**meta, "norms": vectors.norms()})
    return ExtractionResult(vectors, scored, len(pairs), total, False, time.monotonic() - start)
