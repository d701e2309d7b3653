"""MkDocs hook (mkdocs.yml ``hooks:``): pages carry markers that are replaced, at build time, by
text generated from the files they describe, so that no figure or option is retyped by hand.

Markers (an HTML comment alone on its line):

``<!-- bench: FILE.json [steps=a,b] [names=x,y] -->``
    a table of the measured figures in ``benchmarks/results/FILE.json`` (the one shape every
    bench writes, ``benchmarks/_harness.py``: a ``figures`` list of ``{name, value, unit, what,
    target, step}``), with where they come from under it: the command, the machine, its load
    average and the run's wall time, or, for figures copied from an earlier run
    (``"remeasured": false``), that run's ``provenance`` (commit, date, command). ``steps=``
    keeps the figures of those steps, ``names=`` those figures.
``<!-- demo-results: FILE.json commit=HASH -->``
    the per-trait table of a results document (``docs/reference/results.md``) committed as
    ``benchmarks/results/FILE.json`` by a ``make demo`` run: effective pairs, the unsteered and the
    steered score (at the suite's top coefficient) with their interval and n, and each
    expectation's verdict; its comparison checks, when it has them; under it the file, the command
    and the commit (``commit=``, which the document itself does not record).
``<!-- options -->``
    every ``--persona-...`` option and ini value, read from ``plugin/options.py`` by running its
    ``add_options`` against a recording parser.
``<!-- cli -->``
    the ``--help`` of every ``persona`` subcommand, from ``cli.parser()``.
``<!-- kind-fields -->``
    the fields, types and defaults of every built-in expectation kind, from
    ``suites/registry.py``; the build fails if the page does not describe a built-in kind.
``<!-- floors -->``
    the import floors of the package, read from ``FLOORS`` in ``tests/test_layout.py``.

Anything wrong (a missing file, an unknown marker or argument, an unknown step or name) raises,
so ``mkdocs build --strict`` fails instead of publishing a stale or empty table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

MARKER = re.compile(r"^<!--\s*([a-z-]+)(?::\s*(.*?))?\s*-->[ \t]*$", re.MULTILINE)
RESULTS_DIR = Path("benchmarks") / "results"


class DocsHookError(ValueError):
    """A marker that cannot be rendered; the message names the page and the marker."""


# --------------------------------------------------------------------------- tables


def _cell(value: Any) -> str:
    """Markdown table cell: pipes escaped, newlines folded."""
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ").strip() or "–"


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) >= 1 else f"{value:.4g}"


def _unit(unit: Any) -> str:
    return "" if unit in (None, "", "bool") else str(unit)


# --------------------------------------------------------------------------- bench


def _args(text: str) -> dict[str, list[str]]:
    """``FILE.json steps=a,b names=x`` -> {"file": [FILE.json], "steps": [a, b], ...}."""
    words = text.split()
    if not words:
        raise DocsHookError("bench marker without a file name")
    out: dict[str, list[str]] = {"file": [words[0]]}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq or key not in ("steps", "names"):
            raise DocsHookError(f"bench marker argument {word!r}: expected steps=... or names=...")
        out[key] = [v for v in value.split(",") if v]
    return out


def _read(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; a missing file or bad JSON names the file (and the line)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DocsHookError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise DocsHookError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(doc, dict):
        raise DocsHookError(f"{path}: expected a JSON object")
    return doc


def _figures(doc: Mapping[str, Any], path: Path) -> list[dict[str, Any]]:
    """The file's ``figures``, each checked to be an object with a name and a value."""
    figures = doc.get("figures")
    if not isinstance(figures, list):
        raise DocsHookError(f"{path}: no 'figures' list (the shape of benchmarks/_harness.py's "
                            "report)")
    for i, f in enumerate(figures):
        if not isinstance(f, Mapping) or "name" not in f or "value" not in f:
            raise DocsHookError(f"{path}: figures[{i}]: expected an object with 'name' and "
                                "'value'")
    return [dict(f) for f in figures]


def _machine(doc: Mapping[str, Any]) -> str:
    m = doc.get("machine") or {}
    if not isinstance(m, Mapping):  # some benchmarks record only the platform's name
        return str(m)
    name = m.get("device_name") or m.get("device")
    cores = m.get("cpu_count") or m.get("cpus")
    parts = [name, cores and not (name and "cores" in str(name)) and f"{cores} CPU cores",
             m.get("torch") and f"torch {m['torch']}",
             m.get("transformers") and f"transformers {m['transformers']}",
             m.get("python") and f"Python {m['python']}"]
    text = ", ".join(str(p) for p in parts if p)
    start, end = m.get("loadavg_start"), m.get("loadavg_end")
    if start:
        text += f"; load average {start[0]:g} at the start" + (
            f", {end[0]:g} at the end" if end else "")
    return text


def _provenance(doc: Mapping[str, Any], path: Path) -> str | None:
    """For figures copied from earlier runs (``"remeasured": false``): which runs, said so.
    ``provenance`` is one ``{commit, date, command[, note]}`` object or a list of them."""
    if doc.get("remeasured", True) is not False:
        return None
    prov = doc.get("provenance")
    runs = prov if isinstance(prov, list) else [prov]
    if not prov or not all(isinstance(r, Mapping) for r in runs):
        raise DocsHookError(f"{path}: 'remeasured' is false but there is no 'provenance' (an "
                            "object or a list of objects with commit, date, command) saying "
                            "which run the figures come from")
    said = []
    for i, run in enumerate(runs):
        where = "provenance" + (f"[{i}]" if isinstance(prov, list) else "")
        missing = [k for k in ("commit", "date", "command") if not run.get(k)]
        if missing:
            raise DocsHookError(f"{path}: {where}: missing {', '.join(missing)}")
        note = f" ({run['note']})" if run.get("note") else ""
        said.append(f"`{run['command']}`, recorded in commit `{str(run['commit'])[:10]}` "
                    f"({run['date']}){note}")
    return ("not re-measured: the figures of earlier runs: " if len(said) > 1 else
            "not re-measured: the figures of an earlier run, ") + "; ".join(said) + "."


def render_bench(text: str, root: Path) -> str:
    """The markdown table for one ``bench:`` marker (``text`` is what follows the colon)."""
    args = _args(text)
    name = args["file"][0]
    if "/" in name or not name.endswith(".json"):
        raise DocsHookError(f"bench marker file {name!r}: expected a FILE.json in {RESULTS_DIR}")
    path = root / RESULTS_DIR / name
    doc = _read(path)
    figures = _figures(doc, path)
    for key, field in (("steps", "step"), ("names", "name")):
        if key in args:
            known = {str(f.get(field)) for f in figures}
            unknown = sorted(set(args[key]) - known)
            if unknown:
                raise DocsHookError(f"{path}: {key} {', '.join(unknown)} not in the file "
                                    f"(known: {', '.join(sorted(known))})")
            figures = [f for f in figures if str(f.get(field)) in args[key]]
    rows = [(f"`{f.get('name')}`", f"**{_number(f.get('value'))}** {_unit(f.get('unit'))}",
             f.get("target"), f.get("what")) for f in figures]
    table = _table(("figure", "measured", "target", "what"), rows)
    complete = "" if doc.get("complete", True) else " **(run incomplete)**"
    old = _provenance(doc, path)
    if old is not None:
        return f"{table}\n\n*Rendered from `{RESULTS_DIR / name}`: {old}{complete}*"
    wall = doc.get("total_wall_s") or doc.get("seconds_total")
    command = f"`{doc['command']}` on " if doc.get("command") else ""
    source = (f"*Rendered from `{RESULTS_DIR / name}`: {command}{_machine(doc)}"
              + (f"; {_number(wall)} s for the whole run" if wall else "") + f".{complete}*")
    return f"{table}\n\n{source}"


# --------------------------------------------------------------------------- demo results

#: the outcomes of ``expectations[].outcome`` (docs/reference/results.md), in the order shown
OUTCOMES = ("failed", "error", "xpassed", "xfailed", "passed", "skipped")
_COMMIT = re.compile(r"[0-9a-f]{7,40}")


def _demo_args(text: str) -> tuple[str, str]:
    """``FILE.json commit=HASH`` -> (FILE.json, HASH); both are required."""
    words = text.split()
    if not words:
        raise DocsHookError("demo-results marker without a file name")
    name, commit = words[0], None
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if key != "commit" or not eq:
            raise DocsHookError(f"demo-results marker argument {word!r}: expected commit=HASH")
        commit = value
    if "/" in name or not name.endswith(".json"):
        raise DocsHookError(f"demo-results marker file {name!r}: expected a FILE.json in "
                            f"{RESULTS_DIR}")
    if commit is None or not _COMMIT.fullmatch(commit):
        raise DocsHookError("demo-results marker: commit=HASH (7 to 40 hex digits) is required: "
                            "the results document does not record the commit that wrote it")
    return name, commit


def _num(value: Any, field: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DocsHookError(f"{path}: {field}: expected a number, got {value!r}")
    return float(value)


def _obj(value: Any, field: str, path: Path) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DocsHookError(f"{path}: {field}: expected an object")
    return value


def _interval(ci: Any, field: str, path: Path) -> tuple[float, float] | None:
    if ci is None:
        return None
    if not isinstance(ci, list) or len(ci) != 2:
        raise DocsHookError(f"{path}: {field}: expected [low, high]")
    return _num(ci[0], f"{field}[0]", path), _num(ci[1], f"{field}[1]", path)


def _score(mean: float, ci: tuple[float, float] | None, n: Any) -> str:
    """``41.1 (95% CI 27.8–55.3, n=20)``: a judge score with what it is."""
    said = [f"95% CI {ci[0]:.1f}–{ci[1]:.1f}"] if ci else ["no interval in the file"]
    if n is not None:
        said.append(f"n={n}")
    return f"{mean:.1f} ({', '.join(said)})"


def _coeff(value: float) -> str:
    return f"{value:+g}" if value else "0"


def _sweep_scores(trait: Mapping[str, Any], where: str, path: Path) -> dict[float, str]:
    """coefficient -> its score cell, for every sweep row with a mean."""
    sweep = trait.get("sweep", [])
    if not isinstance(sweep, list):
        raise DocsHookError(f"{path}: {where}.sweep: expected a list")
    out = {}
    for i, row in enumerate(sweep):
        field = f"{where}.sweep[{i}]"
        row = _obj(row, field, path)
        coeff = _num(row.get("coeff"), f"{field}.coeff", path)
        if row.get("mean") is not None:
            mean = _num(row["mean"], f"{field}.mean", path)
            out[coeff] = _score(mean, _interval(row.get("ci"), f"{field}.ci", path), row.get("n"))
    return out


def _unsteered(name: str, trait: Mapping[str, Any], scores: dict[float, str],
               expectations: list[Mapping[str, Any]], path: Path) -> str | None:
    """The sweep's coefficient 0; without a sweep (a gate run), the figures of the trait's
    ``baseline_ceiling`` expectation, else its ``baseline_score`` metric."""
    if 0.0 in scores:
        return scores[0.0]
    for i, e in enumerate(expectations):
        figures = e.get("figures")
        if e.get("trait") == name and e.get("kind") == "baseline_ceiling" and isinstance(
                figures, Mapping) and figures.get("mean") is not None:
            field = f"expectations[{i}].figures"
            ci = None
            if figures.get("ci_low") is not None:
                ci = (_num(figures["ci_low"], f"{field}.ci_low", path),
                      _num(figures.get("ci_high"), f"{field}.ci_high", path))
            return _score(_num(figures["mean"], f"{field}.mean", path), ci, figures.get("n"))
    metrics = trait.get("metrics")
    if isinstance(metrics, Mapping) and metrics.get("baseline_score") is not None:
        value = _num(metrics["baseline_score"], f"traits.{name}.metrics.baseline_score", path)
        return _score(value, None, None)
    return None


def _pairs(name: str, trait: Mapping[str, Any], path: Path) -> str | None:
    vector = trait.get("vector")
    if vector is None:
        return None
    vector = _obj(vector, f"traits.{name}.vector", path)
    field = f"traits.{name}.vector.effective_pairs"
    effective = int(_num(vector.get("effective_pairs"), field, path))
    if vector.get("total_pairs") is None:
        return str(effective)
    total = int(_num(vector["total_pairs"], f"traits.{name}.vector.total_pairs", path))
    return f"{effective} of {total}"


def _expectations(doc: Mapping[str, Any], path: Path) -> list[Mapping[str, Any]]:
    expectations = doc.get("expectations")
    if not isinstance(expectations, list):
        raise DocsHookError(f"{path}: no 'expectations' list (a results document, "
                            "docs/reference/results.md)")
    for i, e in enumerate(expectations):
        e = _obj(e, f"expectations[{i}]", path)
        if e.get("outcome") not in OUTCOMES:
            raise DocsHookError(f"{path}: expectations[{i}].outcome: {e.get('outcome')!r} is "
                                f"not one of {', '.join(OUTCOMES)}")
        if not isinstance(e.get("nodeid"), str):
            raise DocsHookError(f"{path}: expectations[{i}].nodeid: expected text")
    return expectations


def _verdicts(name: str, expectations: list[Mapping[str, Any]]) -> str:
    """``passed: `a`, `b`; xfailed: `c``` for the trait's expectations."""
    by_outcome: dict[str, list[str]] = {}
    for e in expectations:
        if e.get("trait") == name:
            label = e.get("name") or str(e["nodeid"]).rpartition("::")[2]
            by_outcome.setdefault(str(e["outcome"]), []).append(f"`{label}`")
    return "; ".join(f"{o} ({len(by_outcome[o])}): {', '.join(by_outcome[o])}"
                     for o in OUTCOMES if o in by_outcome)


def _comparison(doc: Mapping[str, Any], path: Path) -> str | None:
    """The comparison's checks as a table, when the run compared with a baseline."""
    comparison = doc.get("comparison")
    if comparison is None:
        return None
    checks = _obj(comparison, "comparison", path).get("checks") or []
    if not isinstance(checks, list):
        raise DocsHookError(f"{path}: comparison.checks: expected a list")
    rows = []
    for i, check in enumerate(checks):
        field = f"comparison.checks[{i}]"
        check = _obj(check, field, path)
        for key in ("trait", "rule", "verdict"):
            if not isinstance(check.get(key), str):
                raise DocsHookError(f"{path}: {field}.{key}: expected text")
        old = _num(check.get("old"), f"{field}.old", path)
        new = _num(check.get("new"), f"{field}.new", path)
        delta = _num(check.get("delta"), f"{field}.delta", path)
        ci = _interval(check.get("ci"), f"{field}.ci", path)
        level = _num(check.get("level", 0.95), f"{field}.level", path)
        said = [f"{level:.0%} CI {ci[0]:+.1f} to {ci[1]:+.1f}"] if ci else []
        if check.get("n") is not None:
            said.append(f"n={check['n']} questions")
        said.append("paired" if check.get("mode") == "paired" else "means compared")
        rows.append((check["trait"], f"`{check['rule']}`", f"{old:.1f} → {new:.1f}",
                     f"{delta:+.1f} ({', '.join(said)})", f"**{check['verdict']}**"))
    if not rows:
        return None
    baseline = comparison.get("baseline_path")
    head = f"Compared with `{baseline}`:\n\n" if baseline else ""
    return head + _table(("trait", "rule", "baseline → this run", "change", "verdict"), rows)


def render_demo_results(text: str, root: Path) -> str:
    """The tables for one ``demo-results:`` marker (``text`` is what follows the colon)."""
    name, commit = _demo_args(text)
    path = root / RESULTS_DIR / name
    doc = _read(path)
    traits = doc.get("traits")
    if not isinstance(traits, Mapping) or not traits:
        raise DocsHookError(f"{path}: no 'traits' object (a results document, "
                            "docs/reference/results.md)")
    expectations = _expectations(doc, path)
    rows = []
    for trait_name in sorted(traits):
        trait = _obj(traits[trait_name], f"traits.{trait_name}", path)
        scores = _sweep_scores(trait, f"traits.{trait_name}", path)
        top = max(scores) if scores else None
        steered = f"{scores[top]} at {_coeff(top)}" if top is not None and top > 0 else None
        rows.append((trait_name, _pairs(trait_name, trait, path),
                     _unsteered(trait_name, trait, scores, expectations, path), steered,
                     _verdicts(trait_name, expectations)))
    table = _table(("trait", "effective pairs", "unsteered score", "steered (top coefficient)",
                    "expectations"), rows)
    compared = _comparison(doc, path)
    judge = doc.get("judge")
    judge_id = judge.get("id") if isinstance(judge, Mapping) else None
    what = "its gate run" if compared else "its suite run"
    created = f", created {doc['created']}" if doc.get("created") else ""
    source = (f"*Rendered from `{RESULTS_DIR / name}`: the results document of `make demo` "
              f"({what}) at commit `{commit}`{created}. Scores are the "
              + (f"`{judge_id}` " if judge_id else "")
              + "judge's 0–100: the mean over questions, with a seeded 95% percentile bootstrap "
              "interval over questions; n counts scored answers.*")
    return "\n\n".join(part for part in (table, compared, source) if part)


# --------------------------------------------------------------------------- options


class _Recorder:
    """Stands in for pytest's parser and option group: records what ``add_options`` adds."""

    def __init__(self) -> None:
        self.options: list[tuple[list[str], dict[str, Any]]] = []
        self.ini: dict[str, tuple[str, str, Any]] = {}

    def getgroup(self, name: str, description: str = "") -> _Recorder:
        return self

    def addoption(self, *names: str, **attrs: Any) -> None:
        self.options.append((list(names), attrs))

    def addini(self, name: str, help: str, type: str | None = None,  # noqa: A002
               default: Any = None) -> None:
        self.ini[name] = (help, type or "string", default)


_INI_NOTE = re.compile(r"\s*\(ini: [^)]*\)$")


def _ini(name: str, ini_type: str) -> str:
    """The ini name; its type only where it is not text parsed like the option."""
    return f"`{name}`" if ini_type == "string" else f"`{name}` ({ini_type})"


def render_options() -> str:
    from pytest_persona.plugin import options as opts

    rec = _Recorder()
    opts.add_options(rec)  # type: ignore[arg-type]  # duck-typed pytest.Parser
    aliases = {o.dest: o.aliases for o in opts.OPTIONS}
    rows: list[tuple[str, str | None, str | None, str | None, str]] = []
    seen_ini = set()
    for names, attrs in rec.options:
        dest = attrs.get("dest", "")
        help_text, ini_type, default = rec.ini.get(dest, ("", "", None))
        seen_ini.add(dest)
        flag = ", ".join(f"`{n}`" for n in names)
        if attrs.get("action") == "append":
            flag += " (repeatable)"
        alias = ", ".join(f"`{a}`" for a in aliases.get(dest, ())) or None
        shown_default = default if default not in ("", None, []) else None
        what = _INI_NOTE.sub("", str(attrs.get("help", help_text))).replace(" (repeatable)", "")
        rows.append((flag, alias, _ini(dest, ini_type) if dest in rec.ini else None,
                     f"`{shown_default}`" if shown_default is not None else None, what))
    for name, (help_text, ini_type, default) in rec.ini.items():
        if name not in seen_ini:
            rows.append(("(ini only)", None, _ini(name, ini_type),
                         f"`{default}`" if default not in ("", None) else None, help_text))
    return _table(("option", "alias", "ini value", "default", "what"), rows)


# --------------------------------------------------------------------------- cli


def _subcommands(p: argparse.ArgumentParser, prefix: str) -> list[tuple[str, str]]:
    out = [(prefix, p.format_help())]
    for action in p._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _subcommands(sub, f"{prefix} {name}")
    return out


def render_cli() -> str:
    from pytest_persona import cli

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix it for a stable page
    try:
        helps = _subcommands(cli.parser(), "persona")
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    parts = []
    for name, text in helps[1:]:
        parts.append(f"### `{name}`\n\n```text\n{text.rstrip()}\n```")
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- kinds


def render_kind_fields(markdown: str) -> str:
    from pytest_persona.suites.registry import BUILTIN_KINDS, REQUIRED

    missing = [k.name for k in BUILTIN_KINDS if f"`{k.name}`" not in markdown]
    if missing:
        raise DocsHookError(f"built-in kinds not described on the page: {', '.join(missing)}")
    rows = []
    for kind in BUILTIN_KINDS:
        fields = []
        for field, (type_name, default) in kind.fields.items():
            shown = ("required" if default == REQUIRED else "optional" if default is None
                     else f"default `{default}`")
            fields.append(f"`{field}` ({type_name}, {shown})")
        for group in getattr(kind, "non_null", ()):
            names = group.split("|")
            fields.append(("one of " if len(names) > 1 else "") + ", ".join(
                f"`{n}`" for n in names) + " must be set")
        for group in getattr(kind, "exclusive", ()):
            fields.append("at most one of " + ", ".join(f"`{n}`" for n in group))
        rows.append((f"`{kind.name}`", "; ".join(fields) or "none",
                     "yes" if kind.uses_judge else "no"))
    return _table(("kind", "fields (type, default)", "needs the judge"), rows)


# --------------------------------------------------------------------------- floors


def render_floors(root: Path) -> str:
    """The import floors as ``tests/test_layout.py`` enforces them (read from its source)."""
    import ast

    path = root / "tests" / "test_layout.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    floors: dict[str, int] | None = None
    target: ast.expr
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "FLOORS":
            floors = ast.literal_eval(value)
    if not floors:
        raise DocsHookError(f"{path}: no FLOORS assignment")
    by_floor: dict[int, list[str]] = {}
    for name, floor in floors.items():
        by_floor.setdefault(floor, []).append(name)
    rows = [(str(f), ", ".join(f"`{n}`" for n in names)) for f, names in sorted(by_floor.items())]
    return _table(("floor", "packages and modules of `pytest_persona`"), rows)


# --------------------------------------------------------------------------- hook


def render(markdown: str, root: Path, where: str = "page") -> str:
    """Replace every marker in ``markdown``; ``root`` is the repository (mkdocs.yml's folder)."""
    simple: dict[str, Callable[[], str]] = {"options": render_options, "cli": render_cli,
                                            "kind-fields": lambda: render_kind_fields(markdown),
                                            "floors": lambda: render_floors(root)}

    def one(m: re.Match[str]) -> str:
        name, arg = m.group(1), m.group(2)
        try:
            if name == "bench":
                return render_bench(arg or "", root)
            if name == "demo-results":
                return render_demo_results(arg or "", root)
            if name in simple and not arg:
                return simple[name]()
        except DocsHookError as exc:
            raise DocsHookError(f"{where}: {m.group(0).strip()}: {exc}") from None
        raise DocsHookError(f"{where}: {m.group(0).strip()}: unknown marker (known: bench: "
                            f"FILE.json, demo-results: FILE.json, {', '.join(simple)})")

    return MARKER.sub(one, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """MkDocs event: render this page's markers."""
    root = Path(config["config_file_path"]).resolve().parent
    return render(markdown, root, where=str(page.file.src_path))
