"""Trait suites: the YAML schema, validation with file/line/field errors, and expectation ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

KINDS: dict[str, dict[str, Any]] = {
    # kind: {field: (type-checker name, default or REQUIRED)}
    "steering_raises": {"coeff": ("number", None), "threshold": ("number", 50.0),
                        "require": ("require", "mean")},
    "steering_lowers": {"coeff": ("number", None), "threshold": ("number", 20.0),
                        "require": ("require", "mean")},
    "coeff_zero_matches_baseline": {"n_prompts": ("int", 4), "max_new_tokens": ("int", 16)},
    "projection_order": {"coeff": ("number", None), "margin": ("number", 0.0)},
    "cross_trait_cosine": {"traits": ("strlist", "REQUIRED"), "max": ("number", 0.8),
                           "absolute": ("bool", False)},
    "monotonic": {"coefficients": ("numlist", None), "min_r": ("number", 0.8)},
    "coherence_guard": {"coefficients": ("numlist", None), "min": ("number", 50.0),
                        "require": ("require", "mean")},
    "baseline_ceiling": {"max": ("number", "REQUIRED"), "require": ("require", "mean")},
    "checkpoint_shift": {"max": ("number", "REQUIRED"), "n_questions": ("int", None)},
    "vector_drift": {"file": ("str", "REQUIRED"), "min_cosine": ("number", 0.9)},
    "projection_tracks_score": {"min_r": ("number", 0.3)},
    "dataset_screen": {"file": ("str", "REQUIRED"), "max_mean_difference": ("number", None),
                       "max_flagged_fraction": ("number", None), "threshold": ("number", None),
                       "baseline": ("baseline", "generate"), "require": ("require", "mean")},
}
COMMON_FIELDS = {"kind", "name", "xfail", "skip"}
SUITE_FIELDS = {"trait", "trait_file", "layer", "positions", "coefficients", "n_questions",
                "max_new_tokens", "temperature", "max_missing_fraction", "extraction", "models",
                "expectations", "description"}
MODEL_FIELDS = {"layer", "coefficients", "positions", "max_new_tokens", "n_questions"}
EXTRACTION_FIELDS = {"n_samples", "n_questions", "n_instructions", "max_new_tokens",
                     "temperature", "top_p", "seed", "trait_threshold", "coherence_threshold",
                     "min_pairs", "system_template"}
POSITIONS = ("all", "prompt", "response")


class SuiteError(ValueError):
    """A suite problem, located: ``file:line: field 'x.y': message``."""

    def __init__(self, path: Path | str, line: int, field_path: str, message: str) -> None:
        self.path, self.line, self.field, self.reason = Path(path), line, field_path, message
        where = f" field '{field_path}':" if field_path else ""
        super().__init__(f"{path}:{line}:{where} {message}")


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


def _convert(node: yaml.Node, where: Path_, lines: dict[Path_, int]) -> Any:
    lines.setdefault(where, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if not isinstance(
                key_node, yaml.ScalarNode) else key_node.value
            lines[(*where, key)] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, (*where, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*where, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def load_located(path: Path) -> Located:
    """Parse YAML keeping line numbers; syntax errors become SuiteError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(path, 1, "", f"cannot read suite: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(path, line, "", f"YAML syntax error: {problem}") from exc
    lines: dict[Path_, int] = {}
    data = _convert(node, (), lines) if node is not None else None
    return Located(data, lines, path)


# -- field checkers -------------------------------------------------------------------------
def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


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
    trait_file: Path | None
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

    def for_model(self, model: str) -> ResolvedSuite:
        """Apply the per-model overrides (``models:`` section) for ``model``."""
        over = self.models.get(model, {})
        coeffs = [float(c) for c in over.get("coefficients", self.coefficients)]
        return ResolvedSuite(
            suite=self,
            layer=int(over.get("layer", self.layer)),
            positions=str(over.get("positions", self.positions)),
            coefficients=coeffs,
            n_questions=int(over.get("n_questions", self.n_questions)),
            max_new_tokens=int(over.get("max_new_tokens", self.max_new_tokens)),
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

    def sweep_coefficients(self) -> list[float]:
        """The suite's coefficients plus every coefficient an expectation names, and 0."""
        coeffs = set(self.coefficients) | {0.0}
        for exp in self.suite.expectations:
            if exp.params.get("coeff") is not None:
                coeffs.add(float(exp.params["coeff"]))
            for c in exp.params.get("coefficients") or []:
                coeffs.add(float(c))
        return sorted(coeffs)

    def steered_coeff(self, exp: Expectation) -> float:
        """The coefficient an expectation uses: its own, else the suite's largest positive."""
        if exp.params.get("coeff") is not None:
            return float(exp.params["coeff"])
        positive = [c for c in self.coefficients if c > 0]
        return max(positive) if positive else max(self.coefficients)


def _fmt_num(v: float) -> str:
    return f"{v:g}"


def expectation_id(kind: str, params: dict[str, Any]) -> str:
    """A readable id such as ``steering_raises[coeff=3]``."""
    if kind in ("steering_raises", "steering_lowers", "projection_order") and params.get(
            "coeff") is not None:
        return f"{kind}[coeff={_fmt_num(params['coeff'])}]"
    if kind == "cross_trait_cosine":
        return f"{kind}[{','.join(params['traits'])}]"
    if kind == "dataset_screen" and params.get("file"):
        return f"{kind}[{Path(str(params['file'])).name}]"
    if kind in ("monotonic", "coherence_guard") and params.get("coefficients"):
        cs = params["coefficients"]
        return f"{kind}[{_fmt_num(min(cs))}..{_fmt_num(max(cs))}]"
    return kind


def _check(loc: Located, where: Path_, value: Any, kind: str) -> Any:
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


def _parse_expectation(loc: Located, i: int, raw: Any, model: str | None = None) -> Expectation:
    where: Path_ = ("expectations", i)
    if not isinstance(raw, dict):
        raise loc.error(where, "each expectation must be a mapping with a 'kind'")
    kind = raw.get("kind")
    if kind is None:
        raise loc.error(where, "missing required field 'kind'")
    if kind not in KINDS:
        raise loc.error((*where, "kind"), f"unknown expectation kind {kind!r}; known kinds: "
                        f"{', '.join(sorted(KINDS))}")
    spec = KINDS[kind]
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
    if kind in ("steering_raises", "steering_lowers") and params["coeff"] is None:
        raise loc.error((*where, "coeff"), f"missing required field for {kind}")
    if kind == "dataset_screen":
        _check_dataset_screen(loc, where, params)
    ident = raw.get("name") or expectation_id(kind, params)
    if not isinstance(ident, str):
        raise loc.error((*where, "name"), "must be a string")
    return Expectation(kind, ident, params, loc.line(where), i,
                       _model_map(loc, (*where, "xfail"), raw.get("xfail")),
                       _model_map(loc, (*where, "skip"), raw.get("skip")), absent)


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


def load_suite(path: str | Path, model: str | None = None, located: Located | None = None
               ) -> Suite:
    """Parse and validate a suite file (or its already parsed ``located`` text); per-model
    expectation values resolve for ``model``."""
    loc = located or load_located(Path(path))
    data = loc.data
    if not isinstance(data, dict):
        raise loc.error((), "a suite must be a YAML mapping with 'trait' and 'expectations'")
    unknown = set(data) - SUITE_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise loc.error((name,), f"unknown suite field; allowed: {', '.join(sorted(SUITE_FIELDS))}")
    if "trait" not in data and "trait_file" not in data:
        raise loc.error((), "missing required field 'trait' (a trait name) or 'trait_file'")
    trait_file = None
    if "trait_file" in data:
        _check(loc, ("trait_file",), data["trait_file"], "str")
        trait_file = (loc.path.parent / data["trait_file"]).resolve()
        if not trait_file.is_file():
            raise loc.error(("trait_file",), f"trait data file not found: {trait_file}")
    trait = data.get("trait") or (trait_file.stem if trait_file else "")
    _check(loc, ("trait",), trait, "str")
    layer = data.get("layer", 19)
    if not isinstance(layer, int) or isinstance(layer, bool) or layer < 0:
        raise loc.error(("layer",), f"must be a non-negative integer (0-based block index), "
                        f"got {layer!r}")
    positions = data.get("positions", "response")
    if positions not in POSITIONS:
        raise loc.error(("positions",), f"must be one of {', '.join(POSITIONS)}, got {positions!r}")
    coeffs = _check(loc, ("coefficients",), data.get("coefficients", [-3, -1, 0, 1, 3]),
                    "numlist")
    scalars = {
        "n_questions": ("int", 20), "max_new_tokens": ("int", 64),
        "temperature": ("number", 0.0), "max_missing_fraction": ("number", 0.1),
    }
    values = {k: _check(loc, (k,), data.get(k, d), c) for k, (c, d) in scalars.items()}
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
        for name, value in over.items():
            if name not in MODEL_FIELDS:
                raise loc.error(("models", name_m, name), f"unknown per-model field; allowed: "
                                f"{', '.join(sorted(MODEL_FIELDS))}")
            checker = {"layer": "int", "coefficients": "numlist", "positions": "str",
                       "max_new_tokens": "int", "n_questions": "int"}[name]
            if name == "layer" and value == 0:
                continue
            _check(loc, ("models", name_m, name), value, checker)
    raw_exps = data.get("expectations")
    if not isinstance(raw_exps, list) or not raw_exps:
        raise loc.error(("expectations",), "must be a non-empty list of expectations")
    exps = [_parse_expectation(loc, i, raw, model) for i, raw in enumerate(raw_exps)]
    seen: dict[str, int] = {}
    for exp in exps:
        if exp.id in seen:
            raise loc.error(("expectations", exp.index), f"duplicate expectation id {exp.id!r} "
                            f"(also at line {seen[exp.id]}); give one a distinct 'name'")
        seen[exp.id] = exp.line
    return Suite(loc.path, trait, trait_file, layer, positions, [float(c) for c in coeffs],
                 int(values["n_questions"]), int(values["max_new_tokens"]),
                 float(values["temperature"]), float(values["max_missing_fraction"]),
                 dict(extraction), {str(k): v for k, v in models.items()}, exps, loc)
