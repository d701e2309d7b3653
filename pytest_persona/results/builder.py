"""ResultsBuilder: fills a results document section by section, then hands it over typed.

The session records what it measures for each trait (vector, sweep, projections, metrics,
per-question values); the plugin's collector adds the run's identity (model, judge, usage) and
each expectation's outcome, merging the trait sections that xdist workers send. Nobody else
writes the document's dicts: a key's spelling lives here and in :mod:`.schema`.

:meth:`ResultsBuilder.build` does not validate: the collector writes a run's own results
whatever they hold (``save_results(strict=False)``). Validate with ``validate_results`` or save
with ``save_results`` (strict by default).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from pytest_persona.results.paired import per_question_means, question_texts
from pytest_persona.results.schema import (
    SCHEMA_VERSION,
    AgreementRow,
    ComparisonRecord,
    CosineMatrix,
    DamageRow,
    DoseConversion,
    ExpectationRecord,
    JudgeInfo,
    ModelInfo,
    ProjectionSummary,
    ResultsDocument,
    SamplingInfo,
    SweepRow,
    TraitSection,
    UsageInfo,
    VectorInfo,
)


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Deep-merge ``new`` into ``into``; a ``None`` never overwrites what is there."""
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif value is not None:
            into[key] = copy.deepcopy(value)


class ResultsBuilder:
    """A results document under construction (schema version :data:`SCHEMA_VERSION`)."""

    def __init__(self) -> None:
        self._traits: dict[str, TraitSection] = {}
        self._expectations: dict[str, ExpectationRecord] = {}
        self._model: ModelInfo | None = None
        self._reference: ModelInfo | None = None
        self._judge: JudgeInfo | None = None
        self._usage: UsageInfo | None = None
        self._cache: dict[str, int | float | None] | None = None
        self._cosine: CosineMatrix | None = None
        self._comparison: ComparisonRecord | None = None
        self._created: str | None = None
        self._package_version: str | None = None
        self._duration_s: float | None = None

    # -- traits ---------------------------------------------------------------------------------
    @property
    def traits(self) -> dict[str, TraitSection]:
        """Every trait section so far, by trait name (the live sections)."""
        return self._traits

    def trait(self, name: str) -> TraitSection:
        """The live section of trait ``name``, created empty (with ``metrics``) on first use."""
        return self._traits.setdefault(name, {"metrics": {}})

    def _metrics(self, name: str) -> dict[str, Any]:
        return self.trait(name).setdefault("metrics", {})

    def set_metric(self, trait: str, metric: str, value: Any) -> None:
        """``traits.<trait>.metrics.<metric>``: a figure the comparison rules can name."""
        self._metrics(trait)[metric] = value

    def set_vector(self, trait: str, vector: VectorInfo) -> None:
        """How the trait vector was extracted; also the ``effective_pairs`` metric."""
        self.trait(trait)["vector"] = vector
        if "effective_pairs" in vector:
            self.set_metric(trait, "effective_pairs", vector["effective_pairs"])

    def add_sweep(
        self,
        trait: str,
        rows: Sequence[SweepRow],
        *,
        layer: int,
        positions: str,
        coefficients: Sequence[float],
        sampling: SamplingInfo,
        dose: DoseConversion | None,
    ) -> None:
        """The steering sweep of ``trait``: one row per coefficient, and where it ran."""
        section = self.trait(trait)
        section["layer"], section["positions"] = layer, positions
        section["coefficients"] = list(coefficients)
        section["sampling"], section["dose"] = sampling, dose
        section["sweep"] = sorted(rows, key=lambda row: row["coeff"])

    def set_projections(self, trait: str, projections: Mapping[str, ProjectionSummary]) -> None:
        """Mean projections onto the trait vector per condition (replacing earlier ones)."""
        self.trait(trait)["projections"] = dict(projections)

    def add_per_question(
        self, trait: str, metric: str, questions: Sequence[Any], values: Sequence[Any]
    ) -> None:
        """Per-question means of ``metric`` (for paired baseline comparisons): question id ->
        text under ``per_question.questions``, id -> mean under ``per_question.metrics``."""
        section = self.trait(trait)
        pq = section.get("per_question")
        if pq is None:
            pq = section["per_question"] = {}
        pq.setdefault("questions", {}).update(question_texts(questions))
        pq.setdefault("metrics", {})[metric] = per_question_means(questions, values)

    def add_damage(self, trait: str, rows: Iterable[DamageRow]) -> None:
        """Steering-damage rows; a row replaces an earlier one at the same coefficient."""
        section = self.trait(trait)
        known = {row["coeff"]: row for row in section.get("damage") or []}
        known.update({row["coeff"]: row for row in rows})
        section["damage"] = [known[c] for c in sorted(known)]

    def set_agreement(self, trait: str, file: str, row: AgreementRow) -> None:
        """How the judge agrees with the human labels of ``file``."""
        section = self.trait(trait)
        found = section.get("judge_agreement")
        if found is None:
            found = section["judge_agreement"] = {}
        found[file] = row

    def set_screen(self, trait: str, screen_id: str, screen: Mapping[str, Any]) -> None:
        """A dataset screen's summary, under the id of its expectation."""
        self.trait(trait).setdefault("screens", {})[screen_id] = dict(screen)

    def set_judge_identity(self, trait: str, judge: str, coherence_judge: str | None = None
                           ) -> None:
        """Which judges scored ``trait`` (``Judge.identity``): a comparison refuses to set
        judge scores of one identity against another's."""
        section = self.trait(trait)
        section["judge_identity"] = judge
        if coherence_judge is not None:
            section["coherence_judge_identity"] = coherence_judge

    def merge_trait(self, name: str, section: Mapping[str, Any]) -> None:
        """Merge a trait section recorded elsewhere (an xdist worker's) into this one."""
        _merge(cast(dict[str, Any], self.trait(name)), section)

    # -- the run --------------------------------------------------------------------------------
    def set_model(self, model: ModelInfo) -> None:
        """``model``: the identity of the model under test."""
        self._model = model

    def set_reference_model(self, model: ModelInfo | None) -> None:
        """``reference_model``: the checkpoint compared against (``None``: there is none)."""
        self._reference = model

    def set_judge(self, judge: JudgeInfo) -> None:
        self._judge = judge

    def set_usage(self, usage: UsageInfo) -> None:
        self._usage = usage

    def set_cache(self, cache: Mapping[str, int | float | None]) -> None:
        self._cache = dict(cache)

    def set_cosine(self, cosine: CosineMatrix | None) -> None:
        self._cosine = cosine

    def set_run(self, *, created: str, package_version: str, duration_s: float) -> None:
        """When the run was made, by which version of pytest-persona, and how long it took."""
        self._created, self._package_version = created, package_version
        self._duration_s = duration_s

    def add_expectation(self, expectation: ExpectationRecord) -> None:
        """One expectation (pytest item) and its outcome, in the order added; a second record
        of the same ``nodeid`` replaces the first (so building twice gives one document)."""
        self._expectations[expectation["nodeid"]] = expectation

    def set_comparison(self, comparison: ComparisonRecord | None) -> None:
        self._comparison = comparison

    def build(self) -> ResultsDocument:
        """The document (not validated; see the module docstring). Needs :meth:`set_model`."""
        if self._model is None:
            raise ValueError("ResultsBuilder.build: no model (call set_model first)")
        return {  # the key order of the files written so far
            "schema_version": SCHEMA_VERSION,
            "created": self._created,
            "package_version": self._package_version,
            "model": self._model,
            "reference_model": self._reference,
            "judge": self._judge,
            "usage": self._usage,
            "cache": self._cache,
            "duration_s": self._duration_s,
            # by name: the order sections were recorded in depends on which expectation needed
            # a trait first and, under xdist, on which worker finished first
            "traits": dict(sorted(self._traits.items())),
            "cosine": self._cosine,
            "expectations": list(self._expectations.values()),
            "comparison": self._comparison,
        }
