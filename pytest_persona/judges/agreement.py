"""How well a judge agrees with human labels: AUC (binary labels) or Spearman (graded).

A labelled file is JSONL, one ``{"question", "answer", "label"}`` per line; ``label`` is 0 or 1
(binary: 1 = the trait is expressed) or a number in 0..100 (graded). A file whose labels are
all 0 or 1 is binary. The judge scores every answer with the trait's evaluation prompt, through
its own cache; answers it gives no score are left out and counted.

- AUC: the Mann-Whitney probability that a positive answer scores above a negative one (ties
  count one half), from average ranks. Its 95% interval is a percentile bootstrap that
  resamples positives and negatives separately (stratified: each resample keeps both classes).
- Spearman: Pearson correlation of average ranks. Its 95% interval is a percentile bootstrap
  over rows; a resample in which one side is constant is drawn again.

Both bootstraps use 2000 resamples and a fixed seed, so a run is reproducible.

The project ships labelled sets it wrote for three traits under ``data/judge_labels``; a suite
names one as ``builtin:<trait>``.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_persona._util.textfile import read_bounded_text
from pytest_persona.core.projection import ranks, spearman
from pytest_persona.errors import LocatedError

from .base import Judge, JudgeRequest

MAX_LABEL_BYTES = 8 << 20
RESAMPLES = 2000
BUILTIN_PREFIX = "builtin:"


def builtin_labels(trait: str) -> Path:
    """The shipped labelled set of ``trait`` (``builtin:<trait>`` in a suite)."""
    return Path(str(resources.files("pytest_persona") / "data" / "judge_labels"
                    / f"{trait}.jsonl"))


def builtin_traits() -> list[str]:
    folder = resources.files("pytest_persona") / "data" / "judge_labels"
    return sorted(p.name[:-len(".jsonl")] for p in folder.iterdir()
                  if p.name.endswith(".jsonl"))


@dataclass(frozen=True)
class LabelledSet:
    """Labelled answers: binary (labels 0/1) or graded (0..100)."""

    questions: list[str]
    answers: list[str]
    labels: list[float]
    source: str

    @property
    def binary(self) -> bool:
        return all(x in (0, 1) for x in self.labels)

    @property
    def metric(self) -> str:
        return "auc" if self.binary else "spearman"


def _label(path: Path, number: int, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or not 0 <= value <= 100:
        raise LocatedError(path, number, "label", f"must be 0 or 1 (binary) or a number in "
                           f"0..100 (graded), got {value!r}")
    return float(value)


def load_labels(path: str | Path) -> LabelledSet:
    """Read a labelled JSONL file; bad input is a LocatedError naming file, line and field."""
    file = Path(path)
    text = read_bounded_text(file, MAX_LABEL_BYTES, "labelled set")
    qs, ans, labels = [], [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise LocatedError(file, number, None, f"not a JSON object: {exc}") from exc
        if not isinstance(row, dict):
            raise LocatedError(file, number, None, "each line must be a JSON object with "
                               "'question', 'answer' and 'label'")
        extra = sorted(set(row) - {"question", "answer", "label"})
        if extra:
            raise LocatedError(file, number, extra[0], "unknown field; allowed: question, "
                               "answer, label")
        for name in ("question", "answer"):
            if not isinstance(row.get(name), str) or not row[name].strip():
                raise LocatedError(file, number, name, "must be a non-empty string")
        if "label" not in row:
            raise LocatedError(file, number, "label", "missing")
        labels.append(_label(file, number, row["label"]))
        qs.append(row["question"])
        ans.append(row["answer"])
    found = LabelledSet(qs, ans, labels, str(file))
    if found.binary and (sum(labels) == 0 or sum(labels) == len(labels)):
        raise LocatedError(file, 1, "label", f"binary labels need both classes; found "
                           f"{int(sum(labels))} of {len(labels)} labelled 1")
    if not found.binary and (len(labels) < 3 or len(set(labels)) < 2):
        raise LocatedError(file, 1, "label", "graded labels need at least 3 rows and two "
                           "different values")
    return found


def auc(scores: Sequence[float], labels: Sequence[float]) -> float:
    """Mann-Whitney AUC of ``scores`` for binary ``labels`` (1 = positive), ties one half."""
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    n_pos = sum(1 for y in labels if y == 1)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    r = ranks(list(scores))
    pos_rank_sum = sum(rank for rank, y in zip(r, labels) if y == 1)
    return (pos_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _percentile(values: list[float], level: float = 0.95) -> tuple[float, float]:
    values = sorted(values)
    alpha = (1 - level) / 2
    lo = values[int(math.floor(alpha * (len(values) - 1)))]
    hi = values[int(math.ceil((1 - alpha) * (len(values) - 1)))]
    return float(lo), float(hi)


def auc_interval(scores: Sequence[float], labels: Sequence[float], seed: int = 0,
                 resamples: int = RESAMPLES) -> tuple[float, float]:
    """Stratified percentile bootstrap of the AUC (positives and negatives resampled apart)."""
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y != 1]
    if not pos or not neg:
        return (math.nan, math.nan)
    rng = random.Random(seed)
    out = []
    for _ in range(resamples):
        p, n = rng.choices(pos, k=len(pos)), rng.choices(neg, k=len(neg))
        out.append(auc(p + n, [1] * len(p) + [0] * len(n)))
    return _percentile(out)


def spearman_interval(scores: Sequence[float], labels: Sequence[float], seed: int = 0,
                      resamples: int = RESAMPLES) -> tuple[float, float]:
    """Percentile bootstrap of Spearman's rho over rows (constant resamples drawn again)."""
    rows = list(zip(scores, labels))
    if len(rows) < 3:
        return (math.nan, math.nan)
    rng = random.Random(seed)
    out: list[float] = []
    tries = 0
    while len(out) < resamples and tries < resamples * 20:
        tries += 1
        pick = rng.choices(rows, k=len(rows))
        r = spearman([a for a, _ in pick], [b for _, b in pick])
        if not math.isnan(r):
            out.append(r)
    return _percentile(out) if out else (math.nan, math.nan)


@dataclass(frozen=True)
class Agreement:
    """The judge's agreement with one labelled set."""

    metric: str  # "auc" | "spearman"
    value: float
    ci_low: float
    ci_high: float
    n: int  # scored rows
    missing: int  # rows the judge gave no score
    n_positive: int | None  # binary only
    judge: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        how = ("AUC (Mann-Whitney, ties 1/2); 95% CI: stratified percentile bootstrap, "
               f"{RESAMPLES} resamples" if self.metric == "auc" else
               "Spearman rank correlation of judge score with label; 95% CI: percentile "
               f"bootstrap over rows, {RESAMPLES} resamples")
        return {**asdict(self), "ci": [self.ci_low, self.ci_high], "procedure": how}


def measure(judge: Judge, labelled: LabelledSet, eval_prompt: str, trait: str,
            seed: int = 0) -> Agreement:
    """Score every labelled answer with ``judge`` (through its cache) and measure agreement."""
    results = judge.score_many_sync([JudgeRequest(q, a, eval_prompt, trait=trait)
                                     for q, a in zip(labelled.questions, labelled.answers)])
    kept = [(float(r.score), y) for r, y in zip(results, labelled.labels) if r.score is not None]
    scores, labels = [s for s, _ in kept], [y for _, y in kept]
    missing = len(results) - len(kept)
    if labelled.binary:
        value = auc(scores, labels)
        lo, hi = auc_interval(scores, labels, seed)
        n_pos: int | None = sum(1 for y in labels if y == 1)
    else:
        value = spearman(scores, labels) if len(scores) >= 2 else math.nan
        lo, hi = spearman_interval(scores, labels, seed)
        n_pos = None
    return Agreement(labelled.metric, value, lo, hi, len(kept), missing, n_pos,
                     str(getattr(judge, "id", type(judge).__name__)), labelled.source)
