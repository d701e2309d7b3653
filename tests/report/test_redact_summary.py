from __future__ import annotations

import json

import pytest

from pytest_persona._util.redact import redact_secrets
from pytest_persona.report.html import (
    render_comparison_report,
    render_persona_section,
    render_report,
)
from pytest_persona.report.summary import format_summary_table, projection_order
from pytest_persona.results.compare import compare_results
from pytest_persona.results.document import save_results
from tests.report.synthetic import make_results

FAKE = {
    "OPENAI_API_KEY": "sk-proj-FAKEopenaiKEY0123456789abcdef",
    "ANTHROPIC_API_KEY": "sk-ant-api03-FAKEanthropic_KEY-0123456789",
    "MY_JUDGE_API_KEY": "judge&key<with>\"odd\"chars-777",
    "HF_TOKEN": "hf_FAKEhuggingfaceTOKEN12345",
    "SHORT_TOKEN": "abc",
}


def test_redact_env_values_and_patterns():
    text = ("a sk-proj-FAKEopenaiKEY0123456789abcdef b hf_FAKEhuggingfaceTOKEN12345 "
            "c sk-abcdefghijklmnopqrstu d sk-ant-xxxxxxxxxxxxxxxxxxxxxx e abc risk-assessment-x")
    out = redact_secrets(text, env=FAKE)
    assert "FAKE" not in out and "sk-abcdef" not in out and "sk-ant-x" not in out
    assert out.count("[REDACTED]") == 4
    assert " abc " in out and "risk-assessment-x" in out  # short values and words untouched
    assert redact_secrets("", env=FAKE) == ""


def test_redact_escaped_forms():
    import html

    v = FAKE["MY_JUDGE_API_KEY"]
    out = redact_secrets(html.escape(v) + " " + json.dumps(v), env=FAKE)
    assert "odd" not in out


@pytest.fixture
def leaky_results(monkeypatch):
    for k, v in FAKE.items():
        monkeypatch.setenv(k, v)
    r = make_results(("sycophantic", "evil"), payload=True)
    first = next(iter(r["traits"]))
    leak = " ".join(v for v in FAKE.values() if len(v) >= 8)
    r["traits"][first]["sweep"][0]["examples"][0]["answer"] += " my key is " + leak
    r["traits"][first]["sweep"][0]["examples"][0]["question"] += leak
    r["judge"]["note"] = "auth failed for " + leak
    r["expectations"][2]["message"] = "error: " + leak
    r["expectations"][2]["figures"]["key"] = leak
    r["model"]["id"] = FAKE["OPENAI_API_KEY"]
    r["traits"]["leak " + FAKE["HF_TOKEN"]] = {"metrics": {"baseline_score": 1.0}}
    return r


def _assert_clean(text: str):
    for v in FAKE.values():
        if len(v) >= 8:
            assert v not in text
    assert "FAKE" not in text
    assert "odd" not in text


def test_no_key_in_any_output(leaky_results, tmp_path):
    r = leaky_results
    base = make_results(("sycophantic", "evil"))
    r["comparison"] = compare_results(r, base, ["baseline_score:+5"]).to_dict()
    outputs = [render_persona_section(r), render_report(r), render_comparison_report(r, base),
               render_comparison_report(base, r, ["baseline_score:+5"]), format_summary_table(r)]
    p = save_results(r, tmp_path / "r.json")
    outputs.append(p.read_text())
    for i, text in enumerate(outputs):
        _assert_clean(text)
        if i != len(outputs) - 2:  # the summary table shows no free text to redact
            assert "[REDACTED]" in text, i
    json.loads(outputs[-1])


def test_summary_table():
    r = make_results(("sycophantic", "evil", "hallucinating"))
    r["traits"]["evil"]["projections"]["steered"]["mean"] = 0.5
    out = format_summary_table(r)
    lines = out.splitlines()
    assert lines[0].split() == ["trait", "baseline", "steered", "projection", "order", "max",
                                "cos", "outcome"]
    assert all(len(line) <= 100 for line in lines)
    syc = next(line for line in lines if line.startswith("sycophantic"))
    assert "1.20 < 3.40 < 5.60 \u2713" in syc and "2 passed, 1 failed, 1 xfailed" in syc
    assert "0.37" in syc
    evil = next(line for line in lines if line.startswith("evil"))
    assert "\u2717" in evil
    assert "OFFLINE judge" in out
    narrow = format_summary_table(r, width=70)
    assert all(len(line) <= 70 for line in narrow.splitlines()[:5])
    assert "NO" in format_summary_table(r, ascii_only=True)


def test_summary_partial_and_comparison():
    r = {"schema_version": 1, "model": {"name": "m"}, "traits": {"t": {"metrics": {
        "baseline_projection": 1.0, "steered_projection": 2.0}}},
        "expectations": [{"nodeid": "x", "trait": "t", "outcome": "passed"},
                         {"nodeid": "y", "trait": "other", "outcome": "error"}],
        "comparison": {"baseline_path": "b.json", "rules": [], "regressions": [
            {"message": "t: baseline_score rose from 1.0 to 9.0 (+8.0), beyond rule "
                        "baseline_score:+5"}]}}
    out = format_summary_table(r)
    assert "1.00 < 2.00 \u2713" in out
    assert "other" in out and "1 error" in out
    assert "1 regression(s)" in out and "beyond rule baseline_score:+5" in out
    assert projection_order({}) == "-"


def test_summary_counts_the_checks_and_names_the_correction():
    from pytest_persona.report import format_summary_table
    from pytest_persona.results.compare import compare_results
    from tests.results.test_compare import _noisy_pair

    base, cur = _noisy_pair(shift=12.0, noise=2.0)
    cur["comparison"] = compare_results(cur, base, ["baseline_score:+5"],
                                        baseline_path="b.json").to_dict()
    text = format_summary_table(cur)
    assert "baseline comparison against b.json (1 check(s), correction holm): 1 regression(s)" \
        in text
    assert "REGRESSION sycophantic: baseline_score rose 12" in text
