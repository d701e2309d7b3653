"""PersonaSession: the lazily loaded model, judges and cache of a run, and the shared,
memoised work (vectors, sweeps, projections) that every expectation draws on.

What it measures goes into the run's results through a
:class:`~pytest_persona.results.builder.ResultsBuilder` (``session.results``).

Words: the *unsteered* run is the model's answers at coefficient 0 (the sweep's 0 row, or
:meth:`PersonaSession.unsteered_run` alone); a *baseline* is an earlier results file that a run
is compared with. The metric names in the results (``baseline_score``, ``baseline_projection``)
keep their spelling: users name them in ``--persona-compare-fail`` rules.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pytest_persona._util.deprecated import warn_renamed
from pytest_persona._util.numbers import finite_or_none
from pytest_persona._util.progress import Progress, bind
from pytest_persona.cache.store import PersonaCache
from pytest_persona.core.arrays import Vector
from pytest_persona.core.dose import DoseScale
from pytest_persona.core.requests import STATS, GenerationConfig, Steering
from pytest_persona.core.stats import Summary, summarize
from pytest_persona.engines import Engine, select_engine
from pytest_persona.judges import COHERENCE_PROMPT, Judge, JudgeRequest, check_missing
from pytest_persona.models.loading import LazyLoadedModel, LoadedModel, load_model, tokenizer_for
from pytest_persona.pipeline.extraction import ExtractionConfig, ExtractionResult, extract_vectors
from pytest_persona.pipeline.projections import projections as cached_projections
from pytest_persona.pipeline.responses import generate_cached
from pytest_persona.results.builder import ResultsBuilder
from pytest_persona.results.schema import (
    DoseConversion,
    Example,
    ProjectionSummary,
    SamplingInfo,
    SweepRow,
    TraitSection,
)
from pytest_persona.suites.keys import SweepKey, UnsteeredKey
from pytest_persona.suites.repeats import ask_again, scores_by_repeat, spread_figures
from pytest_persona.suites.schema import ResolvedSuite
from pytest_persona.traits.loader import TraitData, load_trait, load_trait_pair


@dataclass
class PersonaOptions:
    """Run-wide settings (from command-line options and ini values)."""

    model: str = "smollm2-135m"
    reference_model: str | None = None
    tokenizer: str | None = None  # for --model (a directory saved without one)
    judge: str = "auto"
    judge_base_url: str | None = None
    judge_concurrency: int = 16
    judge_deadline: float | None = None  # None: the judges' default (3x the SDK timeout)
    coherence_judge: str | None = None
    cache_dir: Path = Path(".persona_cache")
    refresh: bool = False
    device: str | None = None
    dtype: str = "auto"
    batch_size: int | None = None
    max_new_tokens: int | None = None
    max_questions: int | None = None
    seed: int = 0
    trait_paths: tuple[Path, ...] = ()
    engine: str = "auto"  # hf | vllm | auto (vllm when installed and on a GPU)
    tensor_parallel: int = 1
    deterministic: bool = False
    vllm_steering: str = "hook"  # hook | graph (engines/_vllm_graph.py)


@dataclass
class CoeffRun:
    """Responses and scores at one steering coefficient, one row per (question, sample).

    ``question_ids`` and ``samples`` give each row's question index and sample index; with
    several samples per question, summaries average per question and resample questions.
    """

    coeff: float
    questions: list[str]
    answers: list[str]
    scores: list[float | None]
    coherence: list[float | None]
    question_ids: list[int] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    score_repeats: list[list[float | None]] = field(default_factory=list)  # [repeat][row]
    coherence_repeats: list[list[float | None]] = field(default_factory=list)

    def at_repeat(self, i: int) -> CoeffRun:
        """This run with the scores of judge repeat ``i`` (0: the ordinary ones)."""
        if not self.score_repeats:
            return self
        return CoeffRun(self.coeff, self.questions, self.answers, self.score_repeats[i],
                        self.coherence_repeats[i] if self.coherence_repeats else self.coherence,
                        self.question_ids, self.samples)

    def __post_init__(self) -> None:
        if not self.question_ids:
            self.question_ids = list(range(len(self.questions)))
        if not self.samples:
            self.samples = [0] * len(self.questions)

    def score_summary(self) -> Summary:
        return summarize(self.scores, clusters=self.question_ids)

    def coherence_summary(self) -> Summary:
        return summarize(self.coherence, clusters=self.question_ids)


@dataclass(frozen=True)
class EvalRows:
    """The evaluation rows: every question repeated ``samples_per_question`` times."""

    questions: list[str]
    question_ids: list[int]
    samples: list[int]

    @classmethod
    def of(cls, questions: list[str], samples_per_question: int) -> EvalRows:
        rows = [(i, q, k) for i, q in enumerate(questions) for k in range(samples_per_question)]
        return cls([q for _, q, _ in rows], [i for i, _, _ in rows], [k for _, _, k in rows])

    def run(self, coeff: float, answers: list[str], scores: list[float | None],
            coherence: list[float | None]) -> CoeffRun:
        return CoeffRun(coeff, list(self.questions), answers, scores, coherence,
                        list(self.question_ids), list(self.samples))


@dataclass
class Sweep:
    """One steering sweep over coefficients for a trait at a layer."""

    layer: int
    runs: dict[float, CoeffRun] = field(default_factory=dict)

    def at(self, coeff: float) -> CoeffRun:
        return self.runs[float(coeff)]


_finite = finite_or_none


def _record_per_question(results: ResultsBuilder, trait: str, unsteered: CoeffRun,
                         top: CoeffRun | None) -> None:
    """Per-question values of the sweep's figures, for paired baseline comparisons (the
    unsteered run's metrics keep their ``baseline_`` names)."""
    results.add_per_question(trait, "baseline_score", unsteered.questions, unsteered.scores)
    results.add_per_question(trait, "baseline_coherence", unsteered.questions,
                             unsteered.coherence)
    results.set_metric(trait, "baseline_coherence",
                       _finite(unsteered.coherence_summary().mean))
    if top is not None:
        results.add_per_question(trait, "steered_score", top.questions, top.scores)
        results.add_per_question(trait, "coherence_at_max", top.questions, top.coherence)


class PersonaSession:
    """Everything a run shares. Created once per pytest process (and per xdist worker)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that overrides the old ``baseline`` (and not ``unsteered_run``) keeps
        working, with a warning: its override becomes ``unsteered_run`` as well."""
        super().__init_subclass__(**kwargs)
        if "baseline" in cls.__dict__ and "unsteered_run" not in cls.__dict__:
            warnings.warn(f"{cls.__qualname__} overrides PersonaSession.baseline, now called "
                          "unsteered_run; the old name goes in the next release",
                          DeprecationWarning, stacklevel=2)
            cls.unsteered_run = cls.__dict__["baseline"]  # type: ignore[method-assign]

    def __init__(self, options: PersonaOptions, progress: Progress | None = None) -> None:
        self.options = options
        self.progress = progress
        self.cache = PersonaCache(options.cache_dir, refresh=options.refresh)
        self._models: dict[str, LazyLoadedModel | BaseException] = {}
        self._judges: dict[str, Judge] = {}
        self.judge_note = ""
        self._traits: dict[str, TraitData] = {}
        self._vectors: dict[Any, ExtractionResult] = {}
        self._failures: dict[Any, BaseException] = {}
        self._sweeps: dict[SweepKey, Sweep] = {}
        self._unsteered: dict[UnsteeredKey, CoeffRun] = {}
        self._projections: dict[Any, dict[str, list[float]]] = {}
        self.results = ResultsBuilder()
        self.sweeps_run = 0
        self._engines: dict[str, Engine] = {}
        self.engine_note = ""
        self._dose_scales: dict[Any, DoseScale] = {}

    # -- models -----------------------------------------------------------------------------
    def _load(self, name: str) -> LoadedModel:
        found = self._models.get(name)
        if isinstance(found, BaseException):
            raise found
        if found is None:
            try:
                found = LazyLoadedModel(name, device=self.options.device,
                                        dtype=self.options.dtype, tokenizer=tokenizer_for(
                                            name, self.options.tokenizer
                                            if name == self.options.model else None,
                                            self.options.reference_model))
            except Exception as exc:  # noqa: BLE001 - remembered so every item fails fast
                self._models[name] = exc
                raise
            self._models[name] = found
        # LazyLoadedModel loads its weights on first use and otherwise has LoadedModel's
        # attributes: the pipeline takes it wherever it takes a LoadedModel
        return cast(LoadedModel, found)

    @property
    def model(self) -> LoadedModel:
        return self._load(self.options.model)

    def engine_for(self, loaded: LoadedModel) -> Engine:
        """The generation engine of ``loaded`` (one per model: a vllm engine holds its own
        copy of the weights), chosen by ``--persona-engine``; built without starting it."""
        name = str(loaded.name)
        if name not in self._engines:
            engine, why = select_engine(self.options.engine, self.options.device,
                                        dtype=self.options.dtype,
                                        tensor_parallel=self.options.tensor_parallel,
                                        deterministic=self.options.deterministic,
                                        vllm_steering=self.options.vllm_steering)
            self._engines[name] = engine
            self.engine_note = why
        return self._engines[name]

    @property
    def reference(self) -> LoadedModel | None:
        ref = self.options.reference_model
        return self._load(ref) if ref else None

    def model_loaded(self) -> LoadedModel | None:
        found = self._models.get(self.options.model)
        return None if found is None or isinstance(found, BaseException) else cast(
            LoadedModel, found)

    # -- judges -----------------------------------------------------------------------------
    def _make_judge(self, spec: str) -> Judge:
        from pytest_persona.judges import make_judge, resolve_judge_spec

        resolved, note = resolve_judge_spec(spec)
        if resolved not in self._judges:
            self._judges[resolved] = make_judge(
                resolved, base_url=self.options.judge_base_url,
                concurrency=self.options.judge_concurrency, cache_path=self.cache.judge_path,
                refresh=self.options.refresh, deadline=self.options.judge_deadline,
                model_loader=lambda s: (lambda m: (m.model, m.tokenizer))(
                    load_model(s, device=self.options.device)),
            )
        if not self.judge_note:
            self.judge_note = note
        return self._judges[resolved]

    @property
    def judge(self) -> Judge:
        return self._make_judge(self.options.judge)

    @property
    def coherence_judge(self) -> Judge:
        return self._make_judge(self.options.coherence_judge or self.options.judge)

    def judge_usage(self) -> dict[str, Any]:
        total: dict[str, Any] = {"calls": 0, "cache_hits": 0, "input_tokens": 0,
                                 "output_tokens": 0, "cost_usd": None, "missing": 0}
        for judge in self._judges.values():
            usage = judge.usage.to_dict()
            for key in ("calls", "cache_hits", "input_tokens", "output_tokens", "missing"):
                count = usage.get(key)
                total[key] += int(count) if isinstance(count, (int, float)) else 0
            cost = usage.get("cost_usd")
            if isinstance(cost, (int, float)):
                total["cost_usd"] = (total["cost_usd"] or 0.0) + float(cost)
        return total

    def close(self) -> None:
        for judge in self._judges.values():
            judge.close()

    # -- traits and vectors -------------------------------------------------------------------
    def trait(self, name_or_path: str | Path | tuple[Path, Path]) -> TraitData:
        """A trait by name, by file, or by the reference's (extract file, eval file) pair."""
        key = str(name_or_path)
        if key not in self._traits:
            if isinstance(name_or_path, tuple):
                self._traits[key] = load_trait_pair(*name_or_path)
            else:
                self._traits[key] = load_trait(name_or_path,
                                               search_paths=self.options.trait_paths)
        return self._traits[key]

    def extraction_config(self, params: dict[str, Any] | None = None) -> ExtractionConfig:
        params = dict(params or {})
        if self.options.max_questions is not None:
            params["n_questions"] = min(params.get("n_questions", 10**6),
                                        self.options.max_questions)
        if self.options.max_new_tokens is not None:
            params["max_new_tokens"] = self.options.max_new_tokens
        params.setdefault("seed", self.options.seed)
        params["batch_size"] = self.options.batch_size
        return ExtractionConfig(**params)

    def vectors(self, trait: TraitData, params: dict[str, Any] | None = None,
                reference: bool = False) -> ExtractionResult:
        """Vectors of ``trait`` for the model under test (or the reference model)."""
        loaded = self.reference if reference else self.model
        assert loaded is not None
        config = self.extraction_config(params)
        key = (loaded.fingerprint, trait.sha256, config)
        failed = self._failures.get(key)
        if failed is not None:
            raise failed
        if key not in self._vectors:
            try:
                self._vectors[key] = extract_vectors(
                    loaded, trait, self.judge, self.coherence_judge, config, self.cache,
                    self.progress, engine=self.engine_for(loaded))
            except Exception as exc:  # noqa: BLE001 - remembered: every item fails fast
                self._failures[key] = exc
                raise
            if not reference:
                self._record_vector(trait.name, self._vectors[key])
                self._record_judges(trait.name)
        return self._vectors[key]

    def _record_judges(self, name: str) -> None:
        """Which judges scored trait ``name`` (a baseline comparison checks they are the same)."""
        self.results.set_judge_identity(name, self.judge.identity(name),
                                        self.coherence_judge.identity("coherence"))

    def _record_vector(self, name: str, result: ExtractionResult) -> None:
        meta = result.vectors.metadata
        rule = meta.get("pair_rule")
        self.results.set_vector(name, {
            "effective_pairs": int(meta.get("effective_pairs", result.effective_pairs)),
            "total_pairs": int(meta.get("total_pairs", result.total_pairs)),
            "pos_mean_score": _finite(meta.get("pos_mean_score")),
            "neg_mean_score": _finite(meta.get("neg_mean_score")),
            "empty_responses_excluded": int(meta.get("empty_responses_excluded", 0)),
            "pair_rule": rule if isinstance(rule, str) else None,
            "norms": list(result.vectors.norms()),
            "source": "cache" if result.from_cache else "extracted",
        })

    @property
    def sections(self) -> dict[str, dict[str, Any]]:
        """The trait sections recorded so far, as plain dicts (see :meth:`section`)."""
        return cast(dict[str, dict[str, Any]], self.results.traits)

    def section(self, trait: str) -> dict[str, Any]:
        """The live results section of ``trait`` as a plain dict, for evaluators that record
        figures of their own; the session itself writes through ``self.results``."""
        found: TraitSection = self.results.trait(trait)
        return cast(dict[str, Any], found)

    # -- sweeps -------------------------------------------------------------------------------
    def _gen_config(self, rs: ResolvedSuite) -> GenerationConfig:
        tokens = self.options.max_new_tokens or rs.max_new_tokens
        return GenerationConfig(max_new_tokens=tokens, temperature=rs.temperature,
                                top_p=rs.top_p, seed=self.options.seed,
                                batch_size=self.options.batch_size)

    def sampling(self, rs: ResolvedSuite) -> SamplingInfo:
        """Evaluation sampling as used (``--max-new-tokens`` applied), for the results."""
        config = self._gen_config(rs)
        return cast(SamplingInfo, {**rs.sampling(), "max_new_tokens": config.max_new_tokens})

    def eval_rows(self, rs: ResolvedSuite, trait: TraitData) -> EvalRows:
        return EvalRows.of(self.eval_questions(rs, trait), rs.samples_per_question)

    def eval_questions(self, rs: ResolvedSuite, trait: TraitData) -> list[str]:
        n = rs.n_questions
        if self.options.max_questions is not None:
            n = min(n, self.options.max_questions)
        return list(trait.eval_questions[:n])

    def dose_scale(self, rs: ResolvedSuite, trait: TraitData) -> DoseScale:
        """The dose scale of the trait vector at the suite layer: its norm over the mean
        block-output norm on the evaluation questions (measured once, cached)."""
        from pytest_persona.pipeline.dose import dose_scale

        questions = self.eval_questions(rs, trait)
        key = (self.model.fingerprint, trait.sha256, self.extraction_config(rs.suite.extraction),
               rs.layer, tuple(questions))
        if key not in self._dose_scales:
            vec = self.vectors(trait, rs.suite.extraction).vectors.array(rs.layer)
            self._dose_scales[key] = dose_scale(self.model, vec, rs.layer, questions,
                                                self.cache, self.options.batch_size or 16)
        return self._dose_scales[key]

    def dosed(self, rs: ResolvedSuite, trait: TraitData) -> ResolvedSuite:
        """``rs`` with its dose scale: doses become coefficients, coefficients get doses."""
        return rs if rs.dose_scale is not None else rs.with_scale(self.dose_scale(rs, trait))

    def sweep(self, rs: ResolvedSuite, trait: TraitData) -> Sweep:
        """Generate eval questions x coefficients as large batches, judge trait and coherence."""
        rs = self.dosed(rs, trait)
        vectors = self.vectors(trait, rs.suite.extraction).vectors
        coeffs = rs.sweep_coefficients()
        key = SweepKey(self._unsteered_key(rs, trait), rs.layer, rs.positions, tuple(coeffs),
                       rs.suite.max_missing_fraction,
                       self.extraction_config(rs.suite.extraction))
        config = key.unsteered.generation
        if key in self._sweeps:
            return self._sweeps[key]
        steering = Steering(vectors.array(rs.layer), rs.layer, rs.positions)
        rows = self.eval_rows(rs, trait)
        items = [q for c in coeffs for q in rows.questions]
        row_coeffs = [c for c in coeffs for _ in rows.questions]
        answers = generate_cached(self.model, items, config, self.cache, steering=steering,
                                  coeffs=row_coeffs, salts=rows.samples * len(coeffs),
                                  engine=self.engine_for(self.model),
                                  progress=bind(self.progress, f"generate {trait.name} sweep"))
        self.sweeps_run += 1
        t_req = [JudgeRequest(q, a, trait.eval_prompt, trait=trait.name)
                 for q, a in zip(items, answers)]
        c_req = [JudgeRequest(q, a, COHERENCE_PROMPT, trait="coherence")
                 for q, a in zip(items, answers)]
        frac = rs.suite.max_missing_fraction
        t_res = self.judge.score_many_sync(t_req, progress=bind(self.progress,
                                                                 f"judge {trait.name} sweep"))
        check_missing(t_res, frac, f"{trait.name} sweep trait scores")
        c_res = self.coherence_judge.score_many_sync(
            c_req, progress=bind(self.progress, f"judge coherence {trait.name} sweep"))
        check_missing(c_res, frac, f"{trait.name} sweep coherence scores")
        t_again = ask_again(self.judge, t_req, rs.judge_repeats)
        c_again = ask_again(self.coherence_judge, c_req, rs.judge_repeats)
        sweep = Sweep(rs.layer)
        n = len(rows.questions)
        for k, c in enumerate(coeffs):
            part = slice(k * n, (k + 1) * n)
            sweep.runs[c] = rows.run(c, answers[part], [r.score for r in t_res[part]],
                                     [r.score for r in c_res[part]])
            sweep.runs[c].score_repeats = scores_by_repeat(t_res, t_again, part)
            sweep.runs[c].coherence_repeats = scores_by_repeat(c_res, c_again, part)
        self._sweeps[key] = sweep
        self._record_sweep(trait.name, rs, sweep)
        return sweep

    def _record_sweep(self, name: str, rs: ResolvedSuite, sweep: Sweep) -> None:
        rows: list[SweepRow] = []
        for c, run in sweep.runs.items():
            s, h = run.score_summary(), run.coherence_summary()
            examples: list[Example] = [
                {"question": q, "answer": a, "score": _finite(t), "coherence": _finite(k)}
                for q, a, t, k, j in zip(run.questions, run.answers, run.scores, run.coherence,
                                         run.samples) if j == 0]
            row: SweepRow = {
                "coeff": c, "dose": rs.dose_of(c), "n": s.n, "n_questions": s.n_questions,
                "samples_per_question": s.samples_per_question, "mean": _finite(s.mean),
                "ci": [_finite(s.ci_low), _finite(s.ci_high)], "missing": s.missing,
                "coherence_mean": _finite(h.mean),
                "coherence_ci": [_finite(h.ci_low), _finite(h.ci_high)],
                "examples": examples[:3]}
            spread = spread_figures(run)
            if spread:
                row["judge_spread"] = spread["judge_spread"]
            rows.append(row)
        self.results.add_sweep(name, rows, layer=rs.layer, positions=rs.positions,
                               coefficients=rs.coefficients, sampling=self.sampling(rs),
                               dose=cast("DoseConversion | None", rs.conversion()))
        unsteered, top = sweep.at(0.0), sweep.at(max(rs.coefficients))
        self.results.set_metric(name, "baseline_score", _finite(unsteered.score_summary().mean))
        self.results.set_metric(name, "steered_score", _finite(top.score_summary().mean))
        self.results.set_metric(name, "coherence_at_max", _finite(top.coherence_summary().mean))
        _record_per_question(self.results, name, unsteered, top)
        self._record_judges(name)

    def _unsteered_key(self, rs: ResolvedSuite, trait: TraitData) -> UnsteeredKey:
        return UnsteeredKey(self.model.fingerprint, trait.sha256,
                            tuple(self.eval_questions(rs, trait)), self._gen_config(rs),
                            rs.samples_per_question, rs.judge_repeats)

    def unsteered_run(self, rs: ResolvedSuite, trait: TraitData) -> CoeffRun:
        """Unsteered answers to the eval questions, judged: needs no vector (checkpoint gates).

        A sweep already run with the same questions, sampling and judging gives its
        coefficient-0 row; otherwise the run is generated here, from the same cache entries.
        """
        key = self._unsteered_key(rs, trait)
        found = next((sweep.at(0.0) for sweep_key, sweep in self._sweeps.items()
                      if sweep_key.unsteered == key), None) or self._unsteered.get(key)
        if found is not None:
            return found
        config = key.generation
        rows = self.eval_rows(rs, trait)
        answers = generate_cached(self.model, rows.questions, config, self.cache,
                                  salts=rows.samples, engine=self.engine_for(self.model),
                                  progress=bind(self.progress,
                                                f"generate {self.model.name} unsteered"))
        t_res = self.judge.score_many_sync(
            [JudgeRequest(q, a, trait.eval_prompt, trait=trait.name)
             for q, a in zip(rows.questions, answers)],
            progress=bind(self.progress, f"judge {trait.name} unsteered"))
        check_missing(t_res, rs.suite.max_missing_fraction, f"{trait.name} unsteered scores")
        c_res = self.coherence_judge.score_many_sync(
            [JudgeRequest(q, a, COHERENCE_PROMPT, trait="coherence")
             for q, a in zip(rows.questions, answers)],
            progress=bind(self.progress, f"judge coherence {trait.name} unsteered"))
        t_req = [JudgeRequest(q, a, trait.eval_prompt, trait=trait.name)
                 for q, a in zip(rows.questions, answers)]
        c_req = [JudgeRequest(q, a, COHERENCE_PROMPT, trait="coherence")
                 for q, a in zip(rows.questions, answers)]
        run = rows.run(0.0, answers, [r.score for r in t_res], [r.score for r in c_res])
        everything = slice(0, len(answers))
        run.score_repeats = scores_by_repeat(
            t_res, ask_again(self.judge, t_req, rs.judge_repeats), everything)
        run.coherence_repeats = scores_by_repeat(
            c_res, ask_again(self.coherence_judge, c_req, rs.judge_repeats), everything)
        self._unsteered[key] = run
        self.results.set_metric(trait.name, "baseline_score", _finite(run.score_summary().mean))
        _record_per_question(self.results, trait.name, run, None)
        self._record_judges(trait.name)
        return run

    def baseline(self, rs: ResolvedSuite, trait: TraitData) -> CoeffRun:
        """Deprecated name of :meth:`unsteered_run` ("baseline" is the file compared with)."""
        warn_renamed("PersonaSession.baseline", "unsteered_run")
        return self.unsteered_run(rs, trait)

    # -- projections ----------------------------------------------------------------------------
    def projections(self, rs: ResolvedSuite, trait: TraitData, coeff: float
                    ) -> dict[str, list[float]]:
        """Projections of response activations (unsteered model) onto the vector at the suite
        layer: unsteered answers (condition ``baseline`` in the results), answers under the
        positive system prompt, steered answers."""
        key = (self.model.fingerprint, trait.sha256, rs.layer, rs.positions, coeff,
               tuple(self.eval_questions(rs, trait)), self._gen_config(rs),
               self.extraction_config(rs.suite.extraction), rs.samples_per_question)
        if key in self._projections:
            return self._projections[key]
        sweep = self.sweep(rs, trait)
        vec = self.vectors(trait, rs.suite.extraction).vectors.array(rs.layer)
        rows = self.eval_rows(rs, trait)
        system = trait.system_prompt("pos", 0)
        prompted_msgs = [[{"role": "system", "content": system}, {"role": "user", "content": q}]
                         for q in rows.questions]
        prompted = generate_cached(self.model, prompted_msgs, self._gen_config(rs), self.cache,
                                   salts=rows.samples, engine=self.engine_for(self.model),
                                   progress=bind(self.progress, f"generate {trait.name} prompted"))
        conds: dict[str, tuple[list[Any], list[str]]] = {
            "baseline": (list(rows.questions), sweep.at(0.0).answers),
            "prompted": (prompted_msgs, prompted),
            "steered": (list(rows.questions), sweep.at(coeff).answers),
        }
        out: dict[str, list[float]] = {}
        for name, (prompts, answers) in conds.items():
            out[name] = cached_projections(self.model, prompts, list(answers), vec, rs.layer,
                                           self.cache, self.options.batch_size or 16)
        self._projections[key] = out
        summaries: dict[str, ProjectionSummary] = {}
        for name, values in out.items():
            s = summarize(values, clusters=rows.question_ids)
            summaries[name] = {"mean": s.mean, "ci": [s.ci_low, s.ci_high], "n": s.n,
                               "n_questions": s.n_questions,
                               "samples_per_question": s.samples_per_question}
        self.results.set_projections(trait.name, summaries)
        for name in ("baseline", "steered"):
            self.results.set_metric(trait.name, f"{name}_projection", summaries[name]["mean"])
            self.results.add_per_question(trait.name, f"{name}_projection", list(rows.questions),
                                          out[name])
        return out

    def response_projections(self, loaded: LoadedModel, prompts: list[Any], answers: list[str],
                             vector: Vector, layer: int) -> list[float]:
        return cached_projections(loaded, prompts, answers, vector, layer, self.cache,
                                  self.options.batch_size or 16)

    def unsteered_answers(self, loaded: LoadedModel, rs: ResolvedSuite, questions: list[str]
                          ) -> list[str]:
        return generate_cached(loaded, questions, self._gen_config(rs), self.cache,
                               progress=bind(self.progress, f"generate {loaded.name} baseline"),
                               engine=self.engine_for(loaded))

    def describe(self) -> dict[str, Any]:
        loaded = self.model_loaded()
        return {
            "model": {**(loaded.describe() if loaded else {"name": self.options.model}),
                      **({"engine": {**self._engines[self.options.model].describe(),
                                     "note": self.engine_note}}
                         if self.options.model in self._engines else {})},
            "reference": (lambda r: r.describe() if r is not None and not isinstance(
                r, BaseException) else None)(self._models.get(self.options.reference_model or "")),
            "judge_note": self.judge_note,
            "judge_usage": self.judge_usage(),
            "judge_models": sorted({m for j in self._judges.values() for m in j.usage.models}),
            "model_usage": {"generated_tokens": STATS.generated_tokens,
                            "generate_calls": STATS.generate_calls,
                            "sweeps": self.sweeps_run},
            "cache": self.cache.stats(),
            "pid": os.getpid(),
        }
