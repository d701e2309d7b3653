"""report/compare.py at its edges: rule parsing, point and paired decisions at the bound, the
multiple-testing corrections, and the exact messages and dictionaries a gate shows."""

from __future__ import annotations

from pytest_persona.report.compare import parse_rule


def test_rule_str_without_text_is_rebuilt() -> None:
    rule = parse_rule("evil.steered_score:-20%@mean")
    assert str(rule) == "evil.steered_score:-20%@mean"
