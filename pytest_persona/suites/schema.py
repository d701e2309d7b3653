"""Trait suites: the YAML schema, validation with file/line/field errors, and expectation ids."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from pytest_persona._util.numbers import is_finite_number
from pytest_persona.core.dose import DoseScale
from pytest_persona.core.positions import POSITIONS as POSITIONS
from pytest_persona.errors import SuiteError as SuiteError
from pytest_persona.suites.registry import KindRegistry, default_registry

Path_ = tuple[str | int, ...]

COMMON_FIELDS = {"kind", "name", "xfail", "skip"}
SUITE_FIELDS = {"trait", "trait_file", "layer", "positions", "coefficients", "doses",
                "n_questions",
                "samples_per_question", "max_new_tokens", "temperature", "top_p",
                "max_missing_fraction", "extraction", "models", "expectations", "description",
                "judge_repeats", "judge"}
# Evaluation sampling; the reference evaluates with 10 samples per question at temperature 1,
# top_p 1, up to 1000 new tokens, and averages per question.
SAMPLING_FIELDS = {"samples_per_question": "int", "temperature": "temperature",
                   "top_p": "top_p", "max_new_tokens": "int"}
MODEL_FIELDS = {"layer", "coefficients", "doses", "positions", "n_questions", *SAMPLING_FIELDS}
MAX_JUDGE_REPEATS = 20
#: Where a suite may give relative doses instead of coefficients (suite, profile, expectation).
DOSE_ALTERNATIVES = {"coefficients": "doses", "coeff": "dose"}
EXTRACTION_FIELDS = {"n_samples", "n_questions", "n_instructions", "max_new_tokens",
                     "temperature", "top_p", "seed", "trait_threshold", "coherence_threshold",
                     "min_pairs", "pos_system_template", "neg_system_template"}
#: Ids end up in test ids, reports and shell commands (-k): a small, inert character set.
MAX_ID_LEN = 120
SAFE_ID_CHARS = "letters, digits and _ . , = + - [ ]"
SAFE_ID = re.compile(rf"[A-Za-z0-9_.,=+\-\[\]]{{1,{MAX_ID_LEN}}}")
SAFE_FILE_CHARS = "letters, digits and _ . -"
SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,200}")


@dataclass
class Located:
    """Parsed YAML with the line of every key and list item."""

    data: Any
    lines: dict[Path_, int]
    path: Path

    def line(self, where: Path_) -> int:
        while where and where not in self.lines:
            where = where[:-1]
        return self.lines.get(where, 1)

    def error(self, where: Path_, message: str) -> SuiteError:
        return SuiteError(self.path, self.line(where), dotted(where), message)


def dotted(where: Path_) -> str:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


#: Limits that keep a hostile suite from hanging or exhausting collection.
MAX_SUITE_BYTES = 1 << 20  # 1 MiB; real suites are a few KB
MAX_NODES = 20_000  # YAML nodes after expanding aliases
MAX_ALIASES = 1_000  # alias (``*name``) references in one document
MAX_DEPTH = 64  # nesting of mappings and sequences, aliases expanded
_TAG = "tag:yaml.org,2002:"
SCALAR_TAGS = {_TAG + t for t in ("null", "bool", "int", "float", "str", "timestamp", "binary")}


class _Limit(Exception):
    """A bound of the loader was exceeded at ``mark``."""

    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.line = mark.line + 1 if mark is not None else 1


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer bounds nesting depth and the number of aliases."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.persona_depth = 0
        self.persona_aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            self.persona_aliases += 1
            if self.persona_aliases > MAX_ALIASES:
                raise _Limit(event.start_mark, f"more than {MAX_ALIASES} aliases; a suite "
                             "needs few, if any")
        self.persona_depth += 1
        try:
            if self.persona_depth > MAX_DEPTH:
                raise _Limit(event.start_mark, f"nesting deeper than {MAX_DEPTH} levels")
            node: yaml.Node | None = super().compose_node(parent, index)
            return node
        finally:
            self.persona_depth -= 1

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803
        # the scanner is quadratic in the flow depth: stop before composing even starts
        if self.flow_level >= MAX_DEPTH:
            raise _Limit(self.get_mark(), f"nesting deeper than {MAX_DEPTH} levels")
        super().fetch_flow_collection_start(TokenClass)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _measure(root: yaml.Node) -> None:
    """Check the document's size with aliases expanded, without expanding them (memoised)."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, height), aliases expanded
    active: set[int] = set()

    def walk(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in active:
            raise _Limit(node.start_mark, "an alias refers to a node that contains it")
        if key not in sizes:
            active.add(key)
            n, h = 1, 0
            for child in _children(node):
                cn, ch = walk(child, depth + 1)
                n, h = n + cn, max(h, ch + 1)
                if n > MAX_NODES:
                    raise _Limit(node.start_mark, f"the document expands to more than "
                                 f"{MAX_NODES} nodes (aliases expanded); alias bomb?")
            active.discard(key)
            sizes[key] = (n, h)
        n, h = sizes[key]
        if depth + h > MAX_DEPTH:
            raise _Limit(node.start_mark, f"nesting deeper than {MAX_DEPTH} levels "
                         "(aliases expanded)")
        return n, h

    nodes, _ = walk(root, 1)
    if nodes > MAX_NODES:
        raise _Limit(root.start_mark, f"the document expands to more than {MAX_NODES} nodes "
                     "(aliases expanded); alias bomb?")


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _short(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


def _scalar(node: yaml.ScalarNode, where: Path_, path: Path) -> Any:
    line = node.start_mark.line + 1
    if node.tag not in SCALAR_TAGS:
        raise SuiteError(path, line, dotted(where), f"unsupported YAML tag {node.tag!r}; "
                         "suites are plain YAML (strings, numbers, booleans, lists, mappings)")
    try:
        value = _CONSTRUCTOR.construct_object(node)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        raise SuiteError(path, line, dotted(where), f"invalid {node.tag[len(_TAG):]} "
                         f"value {_short(node.value)}: {_short(str(exc), 120)}") from exc
    if isinstance(value, float) and not math.isfinite(value):
        raise SuiteError(path, line, dotted(where),
                         f"must be a finite number, got {_short(node.value)}")
    return value


def _convert(node: yaml.Node, where: Path_, lines: dict[Path_, int], path: Path) -> Any:
    """Plain Python data from a (measured) node graph, recording the line of every value."""
    lines.setdefault(where, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        if node.tag != _TAG + "map":
            raise SuiteError(path, node.start_mark.line + 1, dotted(where),
                             f"unsupported YAML tag {node.tag!r} on a mapping")
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise SuiteError(path, line, dotted(where), "a mapping key must be a plain "
                                 "string, not a list or mapping")
            key = key_node.value
            if key in out:
                raise SuiteError(path, line, dotted((*where, key)), "duplicate key")
            lines[(*where, key)] = line
            out[key] = _convert(value_node, (*where, key), lines, path)
        return out
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _TAG + "seq":
            raise SuiteError(path, node.start_mark.line + 1, dotted(where),
                             f"unsupported YAML tag {node.tag!r} on a list")
        return [_convert(item, (*where, i), lines, path) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node, where, path)


def _read(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_SUITE_BYTES + 1)
    except OSError as exc:
        raise SuiteError(path, 1, "", f"cannot read suite: {exc}") from exc
    if len(raw) > MAX_SUITE_BYTES:
        raise SuiteError(path, 1, "", f"suite is larger than {MAX_SUITE_BYTES} bytes; "
                         "split it or trim it")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SuiteError(path, line, "", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at "
                         f"offset {exc.start}); save the suite as UTF-8") from exc


def load_located(path: Path) -> Located:
    """Parse YAML keeping line numbers. Every problem (encoding, syntax, unsafe tags, complex
    keys, alias bombs, deep nesting, size) becomes a SuiteError with the line."""
    text = _read(path)
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)
        node = loader.get_single_node()
        if node is not None:
            _measure(node)
    except _Limit as exc:
        raise SuiteError(path, exc.line, "", str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or str(exc)
        raise SuiteError(path, line, "", f"YAML syntax error: {problem}") from exc
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1
        raise SuiteError(path, line, "", f"unacceptable character #x{exc.character:04x} "
                         "(control characters are not allowed)") from exc
    except yaml.YAMLError as exc:
        raise SuiteError(path, 1, "", f"YAML error: {exc}") from exc
    except RecursionError:
        raise SuiteError(path, 1, "", "the document nests too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[Path_, int] = {}
    data = _convert(node, (), lines, path) if node is not None else None
    return Located(data, lines, path)


# -- field checkers -------------------------------------------------------------------------
_is_num = is_finite_number


CHECKERS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "number": (_is_num, "a number"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
            "a positive integer"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "str": (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string"),
    "strlist": (lambda v: isinstance(v, list) and bool(v) and all(
        isinstance(x, str) and x for x in v), "a non-empty list of trait names"),
    "numlist": (lambda v: isinstance(v, list) and len(v) >= 2 and all(_is_num(x) for x in v),
                "a list of at least two numbers"),
    "require": (lambda v: v in ("mean", "ci"), "'mean' or 'ci'"),
    "temperature": (lambda v: _is_num(v) and v >= 0, "a number >= 0 (0: greedy)"),
    "top_p": (lambda v: _is_num(v) and 0 < v <= 1, "a number in (0, 1]"),
    "at": (lambda v: v in ("prompt_last", "response"), "'prompt_last' or 'response'"),
    "baseline": (lambda v: v in ("generate", "none"), "'generate' or 'none'"),
}


@dataclass
class Expectation:
    """One declarative expectation; becomes one pytest item."""

    kind: str
    id: str
    params: dict[str, Any]
    line: int
    index: int
    xfail: dict[str, str] = field(default_factory=dict)  # model name -> reason ("*": all)
    skip: dict[str, str] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)  # fields with no value for this model

    def xfail_reason(self, model: str) -> str | None:
        return self.xfail.get(model, self.xfail.get("*"))

    def skip_reason(self, model: str) -> str | None:
        return self.skip.get(model, self.skip.get("*"))


@dataclass
class Suite:
    """A parsed trait suite, before per-model resolution."""

    path: Path
    trait: str
    trait_file: Path | tuple[Path, Path] | None
    layer: int
    positions: str
    coefficients: list[float]
    n_questions: int
    max_new_tokens: int
    temperature: float
    max_missing_fraction: float
    extraction: dict[str, Any]
    models: dict[str, dict[str, Any]]
    expectations: list[Expectation]
    located: Located
    samples_per_question: int = 1
    top_p: float = 1.0
    doses: list[float] | None = None  # given instead of coefficients (converted per model)
    judge_repeats: int = 1  # ask the judge this many times per answer (verdict stability)
    #: ``judge: {anchors: ...}``: the offline judge's example responses for this trait
    anchors: dict[str, list[str]] | None = None

    @property
    def judged_trait(self) -> str:
        """The name the judge scores this suite's trait under: the trait file's stem when the
        suite gives a file (the loader names a trait after its file), else ``trait``."""
        stem = self.trait_file[0] if isinstance(self.trait_file, tuple) else self.trait_file
        return stem.stem if stem is not None else self.trait

    def for_model(self, model: str) -> ResolvedSuite:
        """Apply the per-model overrides (``models:`` section) for ``model``. A profile's
        ``coefficients`` or ``doses`` replaces the suite's (whichever the suite gave)."""
        over = self.models.get(model, {})
        doses: list[float] | None
        if "doses" in over:
            doses, coeffs = [float(d) for d in over["doses"]], []
        elif "coefficients" in over:
            doses, coeffs = None, [float(c) for c in over["coefficients"]]
        else:
            doses = list(self.doses) if self.doses is not None else None
            coeffs = [] if doses is not None else [float(c) for c in self.coefficients]
        return ResolvedSuite(
            suite=self,
            layer=int(over.get("layer", self.layer)),
            positions=str(over.get("positions", self.positions)),
            coefficients=coeffs,
            n_questions=int(over.get("n_questions", self.n_questions)),
            max_new_tokens=int(over.get("max_new_tokens", self.max_new_tokens)),
            samples_per_question=int(over.get("samples_per_question",
                                              self.samples_per_question)),
            temperature=float(over.get("temperature", self.temperature)),
            top_p=float(over.get("top_p", self.top_p)),
            doses=doses,
            judge_repeats=self.judge_repeats,
        )

    def layer_line(self, model: str) -> tuple[int, str]:
        if model in self.models and "layer" in self.models[model]:
            where: Path_ = ("models", model, "layer")
        else:
            where = ("layer",)
        return self.located.line(where), dotted(where)


@dataclass
class ResolvedSuite:
    """Suite parameters for one model."""

    suite: Suite
    layer: int
    positions: str
    coefficients: list[float]
    n_questions: int
    max_new_tokens: int
    samples_per_question: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    doses: list[float] | None = None  # the suite's doses, when it gave doses
    dose_scale: DoseScale | None = None  # set by the session for this model and layer
    judge_repeats: int = 1

    def with_scale(self, scale: DoseScale) -> ResolvedSuite:
        """This suite with its dose scale measured: doses become coefficients."""
        if scale.layer != self.layer:
            raise ValueError(f"dose scale measured at layer {scale.layer}, suite steers at "
                             f"layer {self.layer}")
        coeffs = ([scale.coeff(d) for d in self.doses] if self.doses is not None
                  else list(self.coefficients))
        return replace(self, coefficients=coeffs, dose_scale=scale)

    def _need_scale(self, what: str) -> DoseScale:
        if self.dose_scale is None:
            raise ValueError(f"{what} is given as a dose, but the dose scale of this model "
                             "is not measured yet (PersonaSession.dosed converts it)")
        return self.dose_scale

    def dose_of(self, coeff: float) -> float | None:
        """The relative dose of ``coeff`` (None while the scale is not measured)."""
        return None if self.dose_scale is None else self.dose_scale.dose(coeff)

    def coeff_of(self, exp: Expectation) -> float | None:
        """The coefficient an expectation names, by ``coeff`` or converted from ``dose``."""
        if exp.params.get("dose") is not None:
            return self._need_scale(f"{exp.id}: dose").coeff(float(exp.params["dose"]))
        if exp.params.get("coeff") is not None:
            return float(exp.params["coeff"])
        return None

    def coeffs_of(self, exp: Expectation) -> list[float] | None:
        """The coefficients an expectation lists, by ``coefficients`` or from ``doses``."""
        if exp.params.get("doses") is not None:
            scale = self._need_scale(f"{exp.id}: doses")
            return [scale.coeff(float(d)) for d in exp.params["doses"]]
        if exp.params.get("coefficients") is not None:
            return [float(c) for c in exp.params["coefficients"]]
        return None

    def conversion(self) -> dict[str, Any] | None:
        """How doses and coefficients relate here, for the results (None: not measured)."""
        if self.dose_scale is None:
            return None
        return {**self.dose_scale.to_dict(), "given": "doses" if self.doses is not None
                else "coefficients",
                "coefficients": list(self.coefficients),
                "doses": [self.dose_scale.dose(c) for c in self.coefficients]}

    def sampling(self) -> dict[str, Any]:
        """The evaluation sampling settings, as reported with the results."""
        return {"samples_per_question": self.samples_per_question,
                "temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens}

    def sweep_coefficients(self) -> list[float]:
        """The suite's coefficients plus every coefficient an expectation names, and 0."""
        if self.doses is not None:
            self._need_scale("the suite's coefficients")
        coeffs = set(self.coefficients) | {0.0}
        for exp in self.suite.expectations:
            one = self.coeff_of(exp)
            if one is not None:
                coeffs.add(one)
            for c in self.coeffs_of(exp) or []:
                coeffs.add(c)
        return sorted(coeffs)

    def steered_coeff(self, exp: Expectation) -> float:
        """The coefficient an expectation uses: its own, else the suite's largest positive."""
        own = self.coeff_of(exp)
        if own is not None:
            return own
        if self.doses is not None:
            self._need_scale("the suite's coefficients")
        positive = [c for c in self.coefficients if c > 0]
        return max(positive) if positive else max(self.coefficients)


def _fmt_num(v: float) -> str:
    return f"{v:g}"


def expectation_id(kind: str, params: dict[str, Any]) -> str:
    """A readable id such as ``steering_raises[coeff=3]``."""
    if kind in ("steering_raises", "steering_lowers", "projection_order",
                "steering_damage"):
        if params.get("coeff") is not None:
            return f"{kind}[coeff={_fmt_num(params['coeff'])}]"
        if params.get("dose") is not None:
            return f"{kind}[dose={_fmt_num(params['dose'])}]"
    if kind == "cross_trait_cosine":
        return f"{kind}[{','.join(params['traits'])}]"
    if kind == "dataset_screen" and params.get("file"):
        return f"{kind}[{Path(str(params['file'])).name}]"
    if kind in ("monotonic", "coherence_guard") and params.get("coefficients"):
        cs = params["coefficients"]
        return f"{kind}[{_fmt_num(min(cs))}..{_fmt_num(max(cs))}]"
    if kind in ("monotonic", "coherence_guard") and params.get("doses"):
        ds = params["doses"]
        return f"{kind}[dose={_fmt_num(min(ds))}..{_fmt_num(max(ds))}]"
    if kind == "judge_agreement" and params.get("file"):
        name = str(params["file"])
        if name.startswith("builtin:"):
            return f"{kind}[builtin-{name[len('builtin:'):]}]"
        return f"{kind}[{Path(name).name}]"
    return kind


def _check(loc: Located, where: Path_, value: Any, kind: str) -> Any:
    if kind not in CHECKERS:
        raise loc.error(where, f"the kind declares field type {kind!r}, which is not one of "
                        f"{', '.join(sorted(CHECKERS))}")
    ok, what = CHECKERS[kind]
    if not ok(value):
        raise loc.error(where, f"must be {what}, got {value!r}")
    return value


def _model_map(loc: Located, where: Path_, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {"*": value}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    raise loc.error(where, "must be a reason string, or a mapping of model name -> reason")


def _for_model(loc: Located, where: Path_, value: Any, model: str | None) -> Any:
    """A field may be a mapping of model name -> value with a ``default``."""
    if not isinstance(value, dict):
        return value
    if model is not None and model in value:
        return value[model]
    if "default" not in value:
        raise loc.error(where, f"per-model value has no entry for {model!r} and no 'default'")
    return value["default"]


def _parse_expectation(loc: Located, i: int, raw: Any, model: str | None = None,
                       kinds: KindRegistry | None = None) -> Expectation:
    where: Path_ = ("expectations", i)
    if not isinstance(raw, dict):
        raise loc.error(where, "each expectation must be a mapping with a 'kind'")
    kind = raw.get("kind")
    if kind is None:
        raise loc.error(where, "missing required field 'kind'")
    kinds = kinds if kinds is not None else default_registry()
    if not isinstance(kind, str) or kind not in kinds:
        raise loc.error((*where, "kind"), f"unknown expectation kind {kind!r}; known kinds: "
                        f"{', '.join(kinds.names())}")
    spec = kinds[kind].fields
    unknown = set(raw) - set(spec) - COMMON_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise loc.error((*where, name), f"unknown field for {kind}; allowed: "
                        f"{', '.join(sorted(set(spec) | COMMON_FIELDS))}")
    params: dict[str, Any] = {}
    absent: list[str] = []
    for name, (checker, default) in spec.items():
        if name in raw:
            value = _for_model(loc, (*where, name), raw[name], model)
            if value is None and isinstance(raw[name], dict):
                params[name] = None  # "not for this model": the item skips
                absent.append(name)
                continue
            params[name] = _check(loc, (*where, name), value, checker)
        elif default == "REQUIRED":
            raise loc.error((*where, name), f"missing required field for {kind}")
        else:
            params[name] = default
    for group in kinds[kind].exclusive:
        given = [n for n in group if params.get(n) is not None]
        if len(given) > 1:
            raise loc.error((*where, given[1]), f"give {' or '.join(group)}, not both: "
                            "a dose is converted to a coefficient per model")
    for name in kinds[kind].non_null:
        names = name.split("|")
        if all(params[n] is None for n in names):
            shown = " or ".join(repr(n) for n in names)
            raise loc.error((*where, names[0]), f"missing required field for {kind}"
                            + (f" (give {shown})" if len(names) > 1 else ""))
    if kind == "dataset_screen":
        _check_dataset_screen(loc, where, params)
    if kind == "judge_agreement" and isinstance(params.get("file"), str):
        _check_labelled_file(loc, (*where, "file"), params["file"])
    ident = raw.get("name") or expectation_id(kind, params)
    if not isinstance(ident, str):
        raise loc.error((*where, "name"), "must be a string")
    if not SAFE_ID.fullmatch(ident):
        field_name = "name" if raw.get("name") else "kind"
        hint = "" if raw.get("name") else "; give the expectation a 'name'"
        raise loc.error((*where, field_name), f"expectation id {_short(ident)} must be 1-"
                        f"{MAX_ID_LEN} characters from {SAFE_ID_CHARS}{hint}")
    return Expectation(kind, ident, params, loc.line(where), i,
                       _model_map(loc, (*where, "xfail"), raw.get("xfail")),
                       _model_map(loc, (*where, "skip"), raw.get("skip")), absent)


TraitFile = Path | tuple[Path, Path]  # one file, or the reference's (extract, eval) pair
JUDGE_FIELDS = {"anchors"}


def _judge_section(loc: Located, value: Any) -> dict[str, list[str]]:
    """``judge: {anchors: {high: [...], low: [...]}}``, or ``anchors:`` naming a YAML (or
    JSON) file with ``high`` and ``low``, relative to the suite; errors located in that file."""
    if not isinstance(value, dict) or not value:
        raise loc.error(("judge",), "must be a mapping with 'anchors' (the offline judge's "
                        "example responses for this trait: {high: [...], low: [...]})")
    for name in value:
        if name not in JUDGE_FIELDS:
            raise loc.error(("judge", name), f"unknown judge field; allowed: "
                            f"{', '.join(sorted(JUDGE_FIELDS))}")
    where: Path_ = ("judge", "anchors")
    raw = value.get("anchors")
    if isinstance(raw, str):
        path = Path(raw) if Path(raw).is_absolute() else loc.path.parent / raw
        if not raw.strip() or not path.is_file():
            raise loc.error(where, f"anchors file not found: {path}")
        return read_anchors_file(path)
    return _anchors(loc, where, raw)


def read_anchors_file(path: str | Path) -> dict[str, list[str]]:
    """Anchors from a YAML (or JSON) file mapping ``high`` and ``low`` to example responses;
    :class:`SuiteError` located in that file."""
    source = load_located(Path(path))
    return _anchors(source, (), source.data)


def _anchors(loc: Located, where: Path_, raw: Any) -> dict[str, list[str]]:
    from pytest_persona.judges.offline import MIN_ANCHORS, SIDES, AnchorError, check_anchors

    if not isinstance(raw, dict):
        raise loc.error(where, "must map 'high' and 'low' to lists of example responses (or "
                        "name a YAML file that does)")
    for name in raw:
        if name not in SIDES:
            raise loc.error((*where, name), "unknown anchors field; allowed: high (answers "
                            "that show the trait strongly), low (answers that do not)")
    for side in SIDES:
        if side not in raw:
            raise loc.error(where, f"missing '{side}': a list of at least {MIN_ANCHORS} "
                            "example responses")
    try:
        return check_anchors(raw["high"], raw["low"])
    except AnchorError as exc:
        raise loc.error((*where, *exc.where), exc.problem) from None




def _trait_file(loc: Located, value: Any) -> TraitFile:
    """``trait_file: x.json`` or ``trait_file: {extract: a.json, eval: b.json}``."""
    def existing(where: Path_, raw: Any) -> Path:
        _check(loc, where, raw, "str")
        path: Path = (loc.path.parent / str(raw)).resolve()
        if not path.is_file():
            raise loc.error(where, f"trait data file not found: {path}")
        return path

    if isinstance(value, dict):
        keys = set(value)
        if keys != {"extract", "eval"}:
            extra = sorted(keys - {"extract", "eval"})
            where: Path_ = ("trait_file", extra[0]) if extra else ("trait_file",)
            raise loc.error(where, "must map exactly 'extract' and 'eval' to trait files "
                            "(the reference's trait_data_extract/ and trait_data_eval/)")
        return (existing(("trait_file", "extract"), value["extract"]),
                existing(("trait_file", "eval"), value["eval"]))
    return existing(("trait_file",), value)


def _check_labelled_file(loc: Located, where: Path_, name: str) -> None:
    """``builtin:<trait>`` names a shipped labelled set; anything else is a file relative to
    the suite, which must exist (its lines are checked when the expectation runs)."""
    if name.startswith("builtin:"):
        from importlib import resources

        trait = name[len("builtin:"):]
        folder = resources.files("pytest_persona") / "data" / "judge_labels"
        shipped = sorted(p.name[:-6] for p in folder.iterdir() if p.name.endswith(".jsonl"))
        if trait not in shipped:
            raise loc.error(where, f"no shipped labelled set {trait!r}; shipped: "
                            f"{', '.join('builtin:' + t for t in shipped)}")
        return
    path = Path(name)
    if not path.is_absolute():
        path = loc.path.parent / path
    if not path.is_file():
        raise loc.error(where, f"labelled file not found: {path}")


def _check_dataset_screen(loc: Located, where: Path_, params: dict[str, Any]) -> None:
    """A dataset screen needs a bound, and a flagged fraction needs its threshold."""
    if params["max_mean_difference"] is None and params["max_flagged_fraction"] is None:
        raise loc.error(where, "dataset_screen needs max_mean_difference or "
                        "max_flagged_fraction (with threshold)")
    if params["max_flagged_fraction"] is not None and params["threshold"] is None:
        raise loc.error((*where, "max_flagged_fraction"), "needs 'threshold' (the per-sample "
                        "score above which a sample counts as flagged)")
    frac = params["max_flagged_fraction"]
    if frac is not None and not 0 <= frac <= 1:
        raise loc.error((*where, "max_flagged_fraction"), f"must be between 0 and 1, got {frac}")


def suite_model_names(loc: Located) -> set[str]:
    """The names under ``models:`` (no validation; errors surface in :func:`load_suite`)."""
    models = loc.data.get("models") if isinstance(loc.data, dict) else None
    return {str(k) for k in models} if isinstance(models, dict) else set()


def load_suite(path: str | Path, model: str | None = None, located: Located | None = None,
               kinds: KindRegistry | None = None) -> Suite:
    """Parse and validate a suite file (or its already parsed ``located`` text); per-model
    expectation values resolve for ``model``; expectation kinds come from ``kinds`` (default:
    the built-in kinds)."""
    loc = located or load_located(Path(path))
    if not SAFE_FILE_NAME.fullmatch(loc.path.name):
        raise loc.error((), f"suite file name {_short(loc.path.name)} must use only "
                        f"{SAFE_FILE_CHARS}; rename the file")
    data = loc.data
    if not isinstance(data, dict):
        raise loc.error((), "a suite must be a YAML mapping with 'trait' and 'expectations'")
    unknown = set(data) - SUITE_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise loc.error((name,), f"unknown suite field; allowed: {', '.join(sorted(SUITE_FIELDS))}")
    if "trait" not in data and "trait_file" not in data:
        raise loc.error((), "missing required field 'trait' (a trait name) or 'trait_file'")
    trait_file = _trait_file(loc, data["trait_file"]) if "trait_file" in data else None
    stem = (trait_file[0] if isinstance(trait_file, tuple) else trait_file)
    trait = data.get("trait") or (stem.stem if stem else "")
    _check(loc, ("trait",), trait, "str")
    layer = data.get("layer", 19)
    if not isinstance(layer, int) or isinstance(layer, bool) or layer < 0:
        raise loc.error(("layer",), f"must be a non-negative integer (0-based block index), "
                        f"got {layer!r}")
    positions = data.get("positions", "response")
    if positions not in POSITIONS:
        raise loc.error(("positions",), f"must be one of {', '.join(POSITIONS)}, got {positions!r}")
    if "coefficients" in data and "doses" in data:
        raise loc.error(("doses",), "give coefficients or doses, not both (doses are "
                        "converted to coefficients per model and layer)")
    coeffs = _check(loc, ("coefficients",), data.get("coefficients", [-3, -1, 0, 1, 3]),
                    "numlist")
    doses = _check(loc, ("doses",), data["doses"], "numlist") if "doses" in data else None
    scalars = {
        "n_questions": ("int", 20), "samples_per_question": ("int", 1),
        "max_new_tokens": ("int", 64), "temperature": ("temperature", 0.0),
        "top_p": ("top_p", 1.0), "max_missing_fraction": ("number", 0.1),
        "judge_repeats": ("int", 1),
    }
    values = {k: _check(loc, (k,), data.get(k, d), c) for k, (c, d) in scalars.items()}
    if values["judge_repeats"] > MAX_JUDGE_REPEATS:
        raise loc.error(("judge_repeats",), f"at most {MAX_JUDGE_REPEATS} repeats (each one "
                        "asks the judge again for every answer)")
    extraction = data.get("extraction") or {}
    if not isinstance(extraction, dict):
        raise loc.error(("extraction",), "must be a mapping of extraction parameters")
    for name in extraction:
        if name not in EXTRACTION_FIELDS:
            raise loc.error(("extraction", name), f"unknown extraction field; allowed: "
                            f"{', '.join(sorted(EXTRACTION_FIELDS))}")
    models = data.get("models") or {}
    if not isinstance(models, dict):
        raise loc.error(("models",), "must map model names to overrides (layer, coefficients)")
    for name_m, over in models.items():
        if not isinstance(over, dict):
            raise loc.error(("models", name_m), "must be a mapping (layer, coefficients, ...)")
        if "coefficients" in over and "doses" in over:
            raise loc.error(("models", name_m, "doses"), "give coefficients or doses, not "
                            "both")
        for name, value in over.items():
            if name not in MODEL_FIELDS:
                raise loc.error(("models", name_m, name), f"unknown per-model field; allowed: "
                                f"{', '.join(sorted(MODEL_FIELDS))}")
            checker = {"layer": "int", "coefficients": "numlist", "doses": "numlist",
                       "positions": "str",
                       "n_questions": "int", **SAMPLING_FIELDS}[name]
            if name == "layer" and value == 0:
                continue
            _check(loc, ("models", name_m, name), value, checker)
    for name_m, over in [(None, {}), *models.items()]:
        samples = over.get("samples_per_question", values["samples_per_question"])
        temp = over.get("temperature", values["temperature"])
        if samples > 1 and temp == 0:
            where = (("models", name_m, "samples_per_question") if name_m is not None
                     and "samples_per_question" in over else ("models", name_m, "temperature")
                     if name_m is not None and "temperature" in over
                     else ("samples_per_question",))
            who = f" for {name_m}" if name_m is not None else ""
            raise loc.error(where, f"{samples} samples per question at temperature 0{who}: "
                            "greedy samples are identical; set a temperature > 0 (the "
                            "reference samples at 1) or samples_per_question: 1")
    raw_exps = data.get("expectations")
    if not isinstance(raw_exps, list) or not raw_exps:
        raise loc.error(("expectations",), "must be a non-empty list of expectations")
    exps = [_parse_expectation(loc, i, raw, model, kinds)
            for i, raw in enumerate(raw_exps)]
    seen: dict[str, int] = {}
    for exp in exps:
        if exp.id in seen:
            raise loc.error(("expectations", exp.index), f"duplicate expectation id {exp.id!r} "
                            f"(also at line {seen[exp.id]}); give one a distinct 'name'")
        seen[exp.id] = exp.line
    return Suite(loc.path, trait, trait_file, layer, positions, [float(c) for c in coeffs],
                 int(values["n_questions"]), int(values["max_new_tokens"]),
                 float(values["temperature"]), float(values["max_missing_fraction"]),
                 dict(extraction), {str(k): v for k, v in models.items()}, exps, loc,
                 int(values["samples_per_question"]), float(values["top_p"]),
                 [float(d) for d in doses] if doses is not None else None,
                 int(values["judge_repeats"]),
                 _judge_section(loc, data["judge"]) if "judge" in data else None)
