"""The results document's types: one ``TypedDict`` per section of the JSON (schema version 2).

A document on disk is plain JSON; these types describe it to a type checker and to a reader.
Required keys sit in a base class (``total=True``), optional ones in a ``total=False`` subclass
(the Python 3.10 spelling of ``NotRequired``). ``null`` in JSON is ``None`` here.

Unknown keys are allowed in every section (a newer writer may add some): the types name what
this version writes and reads. ``metrics`` and ``figures`` are open maps by design (each kind
of expectation adds its own), so their values are typed ``Any``.

The tree::

    ResultsDocument
    ├── model, reference_model: ModelInfo
    ├── judge: JudgeInfo          usage: UsageInfo (judge, model)        cache: {name: count}
    ├── traits: {name: TraitSection}   (layer, data_sha256, judge_identity: the comparison's keys)
    │   ├── vector: VectorInfo    dose: DoseConversion    sweep: [SweepRow (examples, spread)]
    │   ├── projections: {condition: ProjectionSummary}  damage: [DamageRow]
    │   ├── judge_agreement: {file: AgreementRow}       per_question: PerQuestion
    │   └── metrics: {name: value}   screens: {id: object}   sampling: SamplingInfo
    ├── cosine: CosineMatrix
    ├── expectations: [ExpectationRecord]
    ├── calibration: {figures, ...} (persona calibrate)
    └── comparison: ComparisonRecord (checks, regressions: [CheckRecord]; deltas)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

#: the version this package writes; every version in ``READABLE_VERSIONS`` is read
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)

#: the outcomes an expectation can have (pytest's, plus ``error`` for a setup failure)
OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "skipped", "error")

#: ``[low, high]`` of a 95% interval; an end is ``None`` where it was not finite
Interval = list[float | None]


class _ModelName(TypedDict):
    name: str


class ModelInfo(_ModelName, total=False):
    """``model`` and ``reference_model``: the identity of a model (only ``name`` is required)."""

    id: str | None
    fingerprint: str | None
    architecture: str | None
    device: str | None
    dtype: str | None
    revision: str | None
    n_layers: int | None
    d_model: int | None
    engine: dict[str, Any]


class JudgeInfo(TypedDict, total=False):
    """``judge``: which judges scored the run."""

    id: str | None
    coherence_id: str | None
    offline: bool
    note: str | None
    resolved_models: list[str]


class UsageInfo(TypedDict, total=False):
    """``usage``: judge calls and tokens, model-under-test generation counts."""

    judge: Mapping[str, float | None]
    model: Mapping[str, float | None]


class VectorInfo(TypedDict, total=False):
    """``traits.<name>.vector``: how the trait vector was extracted."""

    effective_pairs: int
    total_pairs: int
    pos_mean_score: float | None
    neg_mean_score: float | None
    empty_responses_excluded: int
    pair_rule: str | None
    norms: list[float | None]
    source: str


class SamplingInfo(TypedDict, total=False):
    """``traits.<name>.sampling``: the evaluation sampling as used."""

    samples_per_question: int
    temperature: float
    top_p: float
    max_new_tokens: int | None


class _DoseRequired(TypedDict):
    vector_norm: float
    mean_norm: float
    n_tokens: int
    layer: int


class DoseConversion(_DoseRequired, total=False):
    """``traits.<name>.dose``: how coefficients and relative doses convert at this layer."""

    given: str | None
    procedure: str | None
    coefficients: list[float | None]
    doses: list[float | None]


class Example(TypedDict, total=False):
    """One kept response of a sweep point (the first sample of up to three questions)."""

    question: str | None
    answer: str | None
    score: float | None
    coherence: float | None


class JudgeSpread(TypedDict, total=False):
    """``judge_spread`` of a sweep point: how much ``k`` repeated judgements disagree."""

    k: int
    mean: float | None
    max: float | None
    n: int
    per_answer: list[float | None]


class _SweepCoeff(TypedDict):
    coeff: float


class SweepRow(_SweepCoeff, total=False):
    """``traits.<name>.sweep[i]``: judged responses at one steering coefficient."""

    dose: float | None
    n: int
    n_questions: int | None
    samples_per_question: int | None
    mean: float | None
    ci: Interval | None
    missing: int
    coherence_mean: float | None
    coherence_ci: Interval | None
    examples: list[Example]
    judge_spread: JudgeSpread


class ProjectionSummary(TypedDict, total=False):
    """``traits.<name>.projections.<condition>``: mean projection onto the vector."""

    mean: float | None
    ci: Interval | None
    n: int
    n_questions: int | None
    samples_per_question: int | None


class _DamageRequired(TypedDict):
    coeff: float
    kl: float


class DamageRow(_DamageRequired, total=False):
    """``traits.<name>.damage[i]``: steering KL at one coefficient."""

    dose: float | None
    n: int
    ci: Interval | None


class _AgreementMetric(TypedDict):
    metric: str


class AgreementRow(_AgreementMetric, total=False):
    """``traits.<name>.judge_agreement.<file>``: the judge against human labels."""

    value: float | None
    ci: Interval | None
    n: int
    missing: int
    judge: str | None
    file: str
    procedure: Any


class PerQuestion(TypedDict, total=False):
    """``traits.<name>.per_question``: question id -> text, and metric -> id -> value."""

    questions: dict[str, str]
    metrics: dict[str, dict[str, float | None]]


class TraitSection(TypedDict, total=False):
    """``traits.<name>``: everything measured for one trait (every key optional)."""

    layer: int | None
    positions: str | None
    coefficients: list[float | None]
    data_sha256: str
    #: ``Judge.identity(trait)`` of the judge that scored the trait (the offline judge's id
    #: carries a hash of custom anchors); absent in files written before it was recorded
    judge_identity: str
    #: the same for the coherence judge (``coherence`` scores)
    coherence_judge_identity: str
    sampling: SamplingInfo
    vector: VectorInfo | None
    dose: DoseConversion | None
    sweep: list[SweepRow] | None
    damage: list[DamageRow] | None
    judge_agreement: dict[str, AgreementRow] | None
    projections: dict[str, ProjectionSummary | None] | None
    per_question: PerQuestion | None
    screens: dict[str, Any]
    metrics: dict[str, Any]


class _CosineRequired(TypedDict):
    traits: list[str]
    matrix: list[list[float | None]]


class CosineMatrix(_CosineRequired, total=False):
    """``cosine``: cosine similarity of every pair of trait vectors at one layer."""

    layer: int | None


class _ExpectationRequired(TypedDict):
    nodeid: str
    outcome: str


class ExpectationRecord(_ExpectationRequired, total=False):
    """``expectations[i]``: one pytest item of a suite and its outcome (see ``OUTCOMES``)."""

    suite: str | None
    trait: str | None
    kind: str | None
    name: str | None
    message: str | None
    figures: dict[str, Any]
    duration_s: float | None
    xfail_reason: str


class CheckRecord(TypedDict, total=False):
    """``comparison.checks[i]`` (and ``regressions[i]``): one rule on one trait's metric."""

    trait: str | None
    metric: str | None
    rule: str | None
    mode: str | None
    verdict: str | None
    message: str | None
    old: float | None
    new: float | None
    delta: float | None
    n: int | None
    ci: Interval | None
    level: float | None
    allowed: float | None
    p_value: float | None
    unpaired: int | None  #: questions with a value on one side only
    correction: str | None
    m: int | None
    per_question: dict[str, Any] | None


class ComparisonRecord(TypedDict, total=False):
    """``comparison``: this run against a baseline results file."""

    baseline_path: str | None
    rules: list[str]
    correction: str | None
    level: float | None
    checks: list[CheckRecord]
    regressions: list[CheckRecord]
    deltas: dict[str, dict[str, dict[str, Any]]]
    notes: list[str]
    compared: list[str]


class _DocumentRequired(TypedDict):
    schema_version: int
    model: ModelInfo
    traits: dict[str, TraitSection]
    expectations: list[ExpectationRecord]


class ResultsDocument(_DocumentRequired, total=False):
    """A whole results file: what ``validate_results``, ``load_results`` and
    :meth:`ResultsBuilder.build <pytest_persona.results.builder.ResultsBuilder.build>` return."""

    created: str | None
    package_version: str | None
    duration_s: float | None
    reference_model: ModelInfo | None
    judge: JudgeInfo | None
    usage: UsageInfo | None
    cache: dict[str, int | float | None] | None
    cosine: CosineMatrix | None
    comparison: ComparisonRecord | None
    #: null shifts of an unchanged model (``persona calibrate --baseline``), read by ``auto``
    calibration: dict[str, Any]
    non_finite: list[str]
    invalid: list[str]
