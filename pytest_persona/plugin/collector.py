"""Collects expectation outcomes (also from xdist workers) into the results document, writes
it, compares it with a baseline, and adds the persona section to the pytest-html report."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_persona import __version__
from pytest_persona.results.builder import ResultsBuilder
from pytest_persona.results.schema import (
    CosineMatrix,
    ExpectationRecord,
    ModelInfo,
    ResultsDocument,
)


def _outcome(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.when != "call" and report.failed:
        return "error"
    return report.outcome


def configured_rules(config: pytest.Config) -> list[str]:
    """The gate's comparison rules: ``--persona-compare-fail``, else the ini's defaults
    (``auto`` not yet expanded: see ``results.calibration.expand_rules``)."""
    return list(config.getoption("persona_compare_fail", None) or
                config.getini("persona_compare_fail"))


class ResultsCollector:
    """Registered on the controlling process only."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.monotonic()
        self.expectations: dict[str, dict[str, Any]] = {}
        self.builder = ResultsBuilder()  # trait sections merged as they arrive
        self.sessions: dict[Any, dict[str, Any]] = {}
        self.cosine: CosineMatrix | None = None
        self._cos_pairs: dict[tuple[str, str], float | None] = {}
        self.results: ResultsDocument | None = None
        self.comparison: Any = None
        self.compare_error: str | None = None

    # -- gathering ----------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        raw = getattr(report, "persona", None)
        nodeid = report.nodeid
        is_suite_item = ".yaml::" in nodeid or ".yml::" in nodeid
        if not is_suite_item:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            entry = self.expectations.setdefault(nodeid, {"nodeid": nodeid})
            entry["outcome"] = _outcome(report)
            entry["duration_s"] = float(getattr(report, "duration", 0.0))
            if report.failed and "message" not in entry:
                entry["message"] = str(report.longreprtext)[-2000:]
            if report.skipped and isinstance(report.longrepr, tuple):
                entry["message"] = str(report.longrepr[2])
            if hasattr(report, "wasxfail"):
                entry["xfail_reason"] = str(report.wasxfail)
            path, _, name = nodeid.partition("::")
            entry.setdefault("suite", path)
            entry.setdefault("name", name)
        if raw:
            payload = json.loads(raw)
            session = payload.get("session") or {}
            self.sessions[session.get("pid")] = session
            if "trait" not in payload:  # the expectation raised: only its session's usage
                return
            entry = self.expectations.setdefault(nodeid, {"nodeid": nodeid})
            for key in ("suite", "trait", "kind", "name", "message", "figures", "duration_s"):
                entry[key] = payload.get(key)
            self.junit_properties(nodeid, payload.get("figures") or {})
            self.builder.merge_trait(payload["trait"], payload.get("section") or {})
            if payload.get("cosine"):
                self._merge_cosine(payload["cosine"])

    def junit_properties(self, nodeid: str, figures: dict[str, Any]) -> None:
        """Under ``junit_family=xunit2`` (pytest's default) an expectation's figures become
        properties of the test suite, named ``NODEID::persona.KEY``: the JUnit schema
        (junit-10.xsd) allows ``<properties>`` there and not inside ``<testcase>``. Done here,
        on the controlling process, so it works under xdist too. Under xunit1 they stay
        testcase properties (ExpectationItem.runtest)."""
        try:
            from _pytest.junitxml import xml_key
        except ImportError:  # pragma: no cover - a pytest without it writes no such XML
            return
        xml = self.config.stash.get(xml_key, None)
        if xml is None or getattr(xml, "family", "xunit2") == "xunit1":
            return
        from pytest_persona.plugin.items import junit_figures

        for key, value in junit_figures(figures):
            xml.add_global_property(f"{nodeid}::persona.{key}", value)

    def _merge_cosine(self, cos: dict[str, Any]) -> None:
        """Union of every cosine matrix seen (they may come from several workers/suites)."""
        names, matrix = cos["traits"], cos["matrix"]
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                self._cos_pairs[(a, b)] = matrix[i][j]
        traits = sorted({a for a, _ in self._cos_pairs})
        self.cosine = {"layer": cos.get("layer"), "traits": traits, "matrix": [
            [self._cos_pairs.get((a, b)) for b in traits] for a in traits]}

    # -- assembling -----------------------------------------------------------------------------
    def build(self) -> ResultsDocument:
        from pytest_persona.judges import resolve_judge_spec
        from pytest_persona.plugin.options import opt

        sessions = list(self.sessions.values())
        found = next((s["model"] for s in sessions if "fingerprint" in s.get("model", {})), None)
        model: ModelInfo = {"name": str(opt(self.config, "persona_model"))}
        if found:
            model = found
        usage: dict[str, Any] = {"calls": 0, "cache_hits": 0, "input_tokens": 0,
                                 "output_tokens": 0, "cost_usd": None, "missing": 0}
        model_usage = {"generated_tokens": 0, "generate_calls": 0, "sweeps": 0}
        cache = {"hits": 0, "misses": 0}
        for s in sessions:
            for key, value in (s.get("judge_usage") or {}).items():
                if key == "cost_usd":
                    if value is not None:
                        usage["cost_usd"] = (usage["cost_usd"] or 0.0) + value
                else:
                    usage[key] = usage.get(key, 0) + (value or 0)
            for key in model_usage:
                model_usage[key] += int((s.get("model_usage") or {}).get(key, 0))
            for key in cache:
                cache[key] += int((s.get("cache") or {}).get(key, 0))
        spec = str(opt(self.config, "persona_judge"))
        try:
            resolved, note = resolve_judge_spec(spec)
        except ValueError as exc:
            resolved, note = spec, str(exc)
        coh = opt(self.config, "persona_coherence_judge") or resolved
        ref = opt(self.config, "persona_reference_model") or None
        b = self.builder
        b.set_run(created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  package_version=__version__, duration_s=time.monotonic() - self.started)
        b.set_model(model)
        reference: ModelInfo | None = {"name": ref} if ref else None
        if ref:
            reference = next((s["reference"] for s in sessions if s.get("reference")), reference)
        b.set_reference_model(reference)
        b.set_judge({"id": resolved, "offline": resolved.startswith("offline"),
                     "coherence_id": coh, "note": note,
                     "resolved_models": sorted({m for s in sessions
                                                for m in s.get("judge_models") or []})})
        b.set_usage({"judge": usage, "model": model_usage})
        b.set_cache(cache)
        b.set_cosine(self.cosine)
        for _, e in sorted(self.expectations.items()):
            b.add_expectation(self._expectation(e))
        return b.build()

    @staticmethod
    def _expectation(e: dict[str, Any]) -> ExpectationRecord:
        record: ExpectationRecord = {
            "nodeid": e["nodeid"], "suite": e.get("suite", ""), "trait": e.get("trait") or "",
            "kind": e.get("kind") or e.get("name", "").split("[")[0], "name": e.get("name", ""),
            "outcome": e.get("outcome", "error"), "message": e.get("message") or "",
            "figures": e.get("figures") or {}, "duration_s": e.get("duration_s") or 0.0,
        }
        if e.get("xfail_reason"):
            record["xfail_reason"] = e["xfail_reason"]
        return record

    # -- the gate's rules: checked before anything expensive runs -------------------------------
    def _rules(self) -> list[str]:
        return configured_rules(self.config)

    def _correction(self) -> str:
        from pytest_persona.plugin.options import opt

        return str(opt(self.config, "persona_compare_correction") or "holm").strip().lower()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Fail closed: a rule that cannot be evaluated is a usage error (exit 4) up front."""
        from pytest_persona.plugin.options import opt
        from pytest_persona.results.compare import CORRECTIONS, check_rules, parse_rule
        from pytest_persona.results.document import ResultsError, load_results

        rules, baseline_path = self._rules(), opt(self.config, "persona_compare")
        if self._correction() not in CORRECTIONS:
            raise pytest.UsageError(
                f"--persona-compare-correction {self._correction()!r}: use one of "
                f"{', '.join(CORRECTIONS)}")
        cli_rules = self.config.getoption("persona_compare_fail", None)
        if cli_rules and not baseline_path:  # ini rules are defaults for runs that compare
            raise pytest.UsageError(
                f"--persona-compare-fail {', '.join(cli_rules)} needs --persona-compare "
                "BASELINE.json "
                "(the results file to compare with); without it no rule could be checked")
        if not baseline_path:
            return
        from pytest_persona.results.calibration import expand_rules

        try:
            baseline = load_results(baseline_path)
            parsed = [parse_rule(r) for r in expand_rules(rules, baseline, str(baseline_path))]
            traits = baseline.get("traits") or {}
            check_rules(parsed, {}, traits, str(baseline_path))
        except (ResultsError, ValueError, OSError, RecursionError) as exc:
            raise pytest.UsageError(f"--persona-compare: {exc}") from None

    # -- finishing ------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.expectations:
            return
        from pytest_persona.plugin.options import opt
        from pytest_persona.report import compare_results, load_results, save_results

        results = self.build()
        baseline_path = opt(self.config, "persona_compare")
        if baseline_path:
            try:
                from pytest_persona.results.calibration import expand_rules

                baseline = load_results(baseline_path)
                rules = expand_rules(self._rules(), baseline, str(baseline_path))
                self.comparison = compare_results(results, baseline, rules,
                                                  baseline_path=str(baseline_path),
                                                  correction=self._correction())
                results["comparison"] = self.comparison.to_dict()
                if self.comparison.regressions:
                    session.exitstatus = pytest.ExitCode.TESTS_FAILED
            except (ValueError, OSError, RecursionError) as exc:
                self.compare_error = str(exc)
                self.comparison = None
                session.exitstatus = pytest.ExitCode.USAGE_ERROR
        from pytest_persona.results.document import non_finite_paths

        bad = non_finite_paths(results)
        if bad:  # shown in the terminal and the HTML report as well as in the file
            results["non_finite"] = bad[:200]
        out = Path(str(opt(self.config, "persona_results")))
        if not out.is_absolute():
            out = self.config.rootpath / out
        save_results(results, out, strict=False)
        self.results_path = out
        save = opt(self.config, "persona_save")
        if save:
            save_results(results, save, strict=False)
        self.results = results

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str],
                                    postfix: list[str], session: Any = None) -> None:
        if self.results is None:
            return
        from pytest_persona.report import render_persona_section
        from pytest_persona.report.html import render_error

        try:
            prefix.append(render_persona_section(self.results))
        except Exception as exc:  # noqa: BLE001 - the report must be written whatever happened
            prefix.append(render_error("the persona section could not be rendered", exc))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.results is None:
            return
        from pytest_persona.report import format_summary_table

        tr = terminalreporter
        tr.write_sep("=", "persona summary")
        writer = getattr(tr, "_tw", None)
        width = int(writer.fullwidth) if writer is not None else 100
        try:
            tr.write_line(format_summary_table(self.results, width=min(width, 120)))
        except Exception as exc:  # noqa: BLE001 - the summary must not hide the run's outcome
            tr.write_line(f"persona summary table could not be rendered: {exc!r}", red=True)
        usage = self.results.get("usage") or {}
        judge, model = usage.get("judge") or {}, usage.get("model") or {}
        cost = f", ${judge['cost_usd']:.4f}" if judge.get("cost_usd") is not None else ""
        tr.write_line(
            f"judge ({(self.results.get('judge') or {}).get('id')}): {judge['calls']} calls, "
            f"{judge['cache_hits']} cached, {judge['missing']} missing, "
            f"{judge['input_tokens']} in / {judge['output_tokens']} out tokens{cost}; "
            f"model under test: {model['generated_tokens']} tokens in "
            f"{model['generate_calls']} generate calls")
        tr.write_line(f"results: {self.results_path}")
        if self.compare_error:
            tr.write_line(f"baseline comparison failed: {self.compare_error}", red=True)
        elif self.comparison is not None:  # the table lists the comparison and regressions
            for line in self.comparison.compared:
                if line.startswith("warning: "):  # e.g. a baseline that records no judge
                    tr.write_line(line, yellow=True)
