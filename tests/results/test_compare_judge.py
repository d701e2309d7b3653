"""A baseline scored by another judge (another judge, or the offline judge with other anchors):
rules on its scores are refused naming both judges, activation metrics are still compared, and
an older file without judge identities is compared with a warning (issue 25 item 12)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.cli import main
from pytest_persona.results.compare import (
    CompareUsageError,
    check_comparable,
    compare_results,
    metric_judges,
)
from tests.report.synthetic import make_results

ANCHORED = "offline+anchors:sycophantic:1234abcd"


def _pair(
    judge: str = "offline",
    coherence: str = "offline",
    *,
    base_judge: str = "offline",
    base_coherence: str = "offline",
) -> tuple[dict[str, Any], dict[str, Any]]:
    base = make_results(("sycophantic",))
    base["model"].update(name="tiny-random-qwen2", architecture="qwen2", n_layers=4, d_model=64)
    base["traits"]["sycophantic"].update(
        layer=1,
        data_sha256="a" * 64,
        judge_identity=base_judge,
        coherence_judge_identity=base_coherence,
    )
    cur = copy.deepcopy(base)
    cur["traits"]["sycophantic"].update(judge_identity=judge, coherence_judge_identity=coherence)
    return base, cur


@pytest.mark.parametrize(
    "rule", ["baseline_score:+5", "sycophantic.steered_score:-20%", "effective_pairs:-10"]
)
def test_a_score_rule_across_two_judges_is_refused_naming_both(rule: str) -> None:
    base, cur = _pair(judge=ANCHORED)
    with pytest.raises(CompareUsageError) as err:
        compare_results(cur, base, [rule], baseline_path="b.json")
    msg = str(err.value)
    assert "b.json cannot be compared with this run" in msg
    assert (
        f"sycophantic: rule(s) {rule} compare scores of another judge: baseline 'offline', "
        f"this run '{ANCHORED}'"
    ) in msg


def test_a_coherence_rule_is_refused_only_when_the_coherence_judge_differs() -> None:
    base, cur = _pair(coherence="openai:gpt-4o-2024-08-06")
    with pytest.raises(
        CompareUsageError,
        match="another coherence judge: baseline 'offline', this run 'openai:gpt-4o-2024-08-06'",
    ):
        compare_results(cur, base, ["coherence:-5"])
    assert compare_results(cur, base, ["baseline_score:+5"]).ok


def test_activation_metrics_are_still_compared_across_judges() -> None:
    base, cur = _pair(judge=ANCHORED)
    cur["traits"]["sycophantic"]["metrics"]["baseline_projection"] += 3.0
    comp = compare_results(cur, base, ["projection:+0.5", "cosine:+0.1"], baseline_path="b.json")
    assert [c.metric for c in comp.regressions] == ["baseline_projection"]
    assert (
        "sycophantic: judge differs (baseline 'offline', this run "
        f"'{ANCHORED}'): its scores are not compared, activation metrics are" in comp.compared
    )
    deltas = comp.deltas["sycophantic"]
    assert "baseline_projection" in deltas and "max_cross_cosine" in deltas
    assert not {"baseline_score", "steered_score", "effective_pairs"} & set(deltas)
    assert "coherence_at_max" in deltas  # the coherence judge is the same


def test_a_rule_on_another_trait_is_not_refused() -> None:
    base = make_results(("sycophantic", "evil"))
    for t in base["traits"].values():
        t.update(judge_identity="offline", coherence_judge_identity="offline")
    cur = copy.deepcopy(base)
    cur["traits"]["evil"]["judge_identity"] = "offline+anchors:evil:ff"
    assert compare_results(cur, base, ["sycophantic.baseline_score:+5"]).ok
    with pytest.raises(CompareUsageError, match="evil: rule"):
        compare_results(cur, base, ["baseline_score:+5"])


def test_the_same_judges_are_named_in_the_compared_lines() -> None:
    base, cur = _pair(judge=ANCHORED, base_judge=ANCHORED)
    comp = compare_results(cur, base, ["baseline_score:+5"])
    assert (
        f"sycophantic: scored by the same judge '{ANCHORED}' and coherence judge "
        "'offline'" in comp.compared
    )


def test_an_old_baseline_without_judge_identity_is_compared_with_a_warning() -> None:
    base, cur = _pair(judge=ANCHORED)
    for key in ("judge_identity", "coherence_judge_identity"):
        del base["traits"]["sycophantic"][key]
    comp = compare_results(cur, base, ["baseline_score:+5"], baseline_path="b.json")
    assert comp.checks and comp.ok
    [warning] = [line for line in comp.compared if line.startswith("warning: ")]
    assert warning == (
        "warning: sycophantic: the baseline does not record which judge scored it (a file "
        "written before judge identities were recorded): its scores are compared unchecked "
        f"with those of this run's judge '{ANCHORED}' and coherence judge 'offline'"
    )


def test_the_preflight_check_refuses_before_any_metric_exists() -> None:
    base, _ = _pair(base_judge=ANCHORED)
    current = {
        "model": dict(base["model"]),
        "traits": {
            "sycophantic": {
                "layer": 1,
                "data_sha256": "a" * 64,
                "judge_identity": "offline",
                "coherence_judge_identity": "offline",
            }
        },
    }
    assert check_comparable(current, base, "b.json", ["projection:+1"])
    with pytest.raises(
        CompareUsageError, match=re.escape(f"baseline '{ANCHORED}', this run 'offline'")
    ):
        check_comparable(current, base, "b.json", ["score:+5"])


def test_metric_judges_fail_closed_for_metrics_they_do_not_know() -> None:
    assert metric_judges("baseline_projection") == ()
    assert metric_judges("baseline_score") == ("judge_identity",)
    assert metric_judges("some_new_metric") == ("judge_identity", "coherence_judge_identity")


def test_persona_compare_refuses_another_judge_with_exit_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, cur = _pair(judge=ANCHORED)
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(base))
    pb.write_text(json.dumps(cur))
    out = str(tmp_path / "c.html")
    assert main(["compare", str(pa), str(pb), "--fail", "score:+5", "-o", out]) == 4
    err = capsys.readouterr().err
    assert f"another judge: baseline 'offline', this run '{ANCHORED}'" in err
    assert main(["compare", str(pa), str(pb), "--fail", "projection:+5", "-o", out]) == 0
    assert "compared: sycophantic: judge differs" in capsys.readouterr().out
