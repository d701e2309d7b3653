"""Judge stability: a suite's ``judge_repeats: k`` asks the judge k times per answer.

Repeat 0 is the ordinary score; repeats 1..k-1 are separate requests with their own judge
cache entries (``JudgeRequest.repeat``), so a warm run asks nothing and a cold one asks each
repeat once. Each answer's spread is max - min over its k scores. A judge-based expectation
is evaluated once per repeat (on that repeat's scores alone); its verdict *flips* when the k
verdicts disagree, and it *passes^k* when all k pass. The offline judge is deterministic:
k > 1 is refused for it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pytest_persona._util.deprecated import warn_renamed
from pytest_persona.errors import PersonaUsageError

if TYPE_CHECKING:
    from pytest_persona.judges import Judge, JudgeRequest, JudgeResult
    from pytest_persona.suites.schema import Expectation, ResolvedSuite
    from pytest_persona.suites.session import CoeffRun, PersonaSession, Sweep


def ask_again(judge: Judge, requests: Sequence[JudgeRequest], k: int,
              progress: Any = None) -> list[list[JudgeResult]]:
    """Results of repeats 1..k-1 of ``requests`` (empty when k <= 1)."""
    return [judge.score_many_sync([dataclasses.replace(r, repeat=i) for r in requests],
                                  progress=progress)
            for i in range(1, max(k, 1))]


def scores_by_repeat(first: Sequence[JudgeResult], again: Sequence[Sequence[JudgeResult]],
                     part: slice) -> list[list[float | None]]:
    """``[repeat][row]`` scores of the rows in ``part`` (empty without repeats)."""
    if not again:
        return []
    return [[r.score for r in res[part]] for res in (first, *again)]


def spread(repeats: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Per answer: max - min of its scores over the repeats (None with fewer than 2)."""
    out: list[float | None] = []
    for column in zip(*repeats):
        got = [float(x) for x in column if x is not None]
        out.append(max(got) - min(got) if len(got) > 1 else None)
    return out


def spread_figures(run: CoeffRun) -> dict[str, Any]:
    """``judge_spread`` of a sweep row: k, and the mean and max per-answer spread."""
    if not run.score_repeats:
        return {}
    per = [s for s in spread(run.score_repeats) if s is not None]
    return {"judge_spread": {"k": len(run.score_repeats),
                             "mean": sum(per) / len(per) if per else None,
                             "max": max(per) if per else None, "n": len(per),
                             "per_answer": spread(run.score_repeats)}}


class RepeatView:
    """A session whose sweeps and unsteered runs carry one repeat's judge scores."""

    def __init__(self, ps: PersonaSession, repeat: int) -> None:
        self._ps = ps
        self.repeat = repeat

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ps, name)

    def sweep(self, rs: ResolvedSuite, trait: Any) -> Sweep:
        from pytest_persona.suites.session import Sweep

        base = self._ps.sweep(rs, trait)
        return Sweep(base.layer, {c: run.at_repeat(self.repeat) for c, run in base.runs.items()})

    def unsteered_run(self, rs: ResolvedSuite, trait: Any) -> CoeffRun:
        return self._ps.unsteered_run(rs, trait).at_repeat(self.repeat)

    def baseline(self, rs: ResolvedSuite, trait: Any) -> CoeffRun:
        """Deprecated name of :meth:`unsteered_run`."""
        warn_renamed("PersonaSession.baseline", "unsteered_run")
        return self.unsteered_run(rs, trait)


def check_allowed(ps: PersonaSession, rs: ResolvedSuite) -> None:
    """Refuse k > 1 on a deterministic (offline) judge, naming the suite line."""
    if rs.judge_repeats > 1 and (ps.judge.is_offline or ps.coherence_judge.is_offline):
        line = rs.suite.located.line(("judge_repeats",))
        raise PersonaUsageError(f"{rs.suite.path}:{line}: field 'judge_repeats': "
                                f"{rs.judge_repeats} repeats on the offline judge, which is "
                                "deterministic (every repeat gives the same score); use 1, "
                                "or an LLM judge")


Evaluator = Callable[..., Any]


def repeatable(evaluator: Evaluator) -> Evaluator:
    """Wrap a judge-based evaluator: with ``judge_repeats: k`` it is also evaluated on each
    repeat's scores, and the outcome says whether the verdict flips and passes^k."""
    @functools.wraps(evaluator)
    def run(ps: Any, rs: ResolvedSuite, exp: Expectation, t: Any) -> Any:
        k = rs.judge_repeats
        if k > 1 and not isinstance(ps, RepeatView):
            check_allowed(ps, rs)
        outcome = evaluator(ps, rs, exp, t)
        if k <= 1 or isinstance(ps, RepeatView):
            return outcome
        verdicts = [bool(evaluator(RepeatView(ps, i), rs, exp, t).passed) for i in range(k)]
        held = sum(verdicts)
        flips = 0 < held < k
        outcome.figures.update({"judge_repeats": k, "repeat_verdicts": verdicts,
                                "verdict_flips": flips, "pass_k": held == k})
        outcome.message += (f"; across {k} judge repeats the verdict holds {held}/{k}"
                            + (" (FLIPS: a flaky verdict)" if flips else ""))
        return outcome

    return run
