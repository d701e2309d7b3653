"""Options, ini values and the run's shared handles (stash keys, the session), used by every
module of the plugin: hooks, items and the results collector import from here, never each other.

Every option has a ``--persona-...`` flag; the short names the docs use (``--model``,
``--judge``, ...) are aliases, registered only when nothing else defines them (see
:func:`add_aliases`). Values are typed and validated once, at configure time."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_persona.plugin.collector import ResultsCollector  # noqa: F401 - in a StashKey
    from pytest_persona.suites.registry import KindRegistry  # noqa: F401 - in a StashKey
    from pytest_persona.suites.session import PersonaSession

SESSION_KEY = pytest.StashKey["PersonaSession"]()
COLLECTOR_KEY = pytest.StashKey["ResultsCollector"]()
KINDS_KEY = pytest.StashKey["KindRegistry"]()
VALUES_KEY = pytest.StashKey[dict[str, Any]]()
SUITE_PATHS_KEY = pytest.StashKey[list[Path]]()  # trait dirs next to the collected suites
#: each collected suite's ``extraction:`` section, by trait name (what the fixtures extract with)
SUITE_EXTRACTION_KEY = pytest.StashKey[dict[str, list[tuple[Path, dict[str, Any]]]]]()
GROUP = "persona"


@dataclass(frozen=True)
class Option:
    """One plugin option: its ``--persona-...`` flag, short aliases, ini name and value type."""

    dest: str  # also the ini name
    flag: str
    aliases: tuple[str, ...]
    help: str
    parse: Callable[[str], Any]  # raw text -> typed value; ValueError says what was expected
    default: str = ""


def _text(raw: str) -> str | None:
    return raw.strip() or None


def _required_text(raw: str) -> str:
    if not raw.strip():
        raise ValueError(f"expected a non-empty value, got {raw!r}")
    return raw.strip()


def _int(minimum: int, what: str) -> Callable[[str], int | None]:
    def parse(raw: str) -> int | None:
        text = raw.strip()
        if text in ("", "auto"):
            return None
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected {what}, got {raw!r}") from None
        if value < minimum:
            raise ValueError(f"expected {what}, got {raw!r}")
        return value

    return parse


def _required(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def wrapped(raw: str) -> Any:
        value = parse(raw)
        if value is None:
            raise ValueError(f"expected a value, got {raw!r}")
        return value

    return wrapped


def _judge_spec(raw: str) -> str | None:
    text = raw.strip()
    if not text:
        return None
    from pytest_persona.judges import resolve_judge_spec

    resolve_judge_spec(text, env={})  # validates the form only; 'auto' is resolved later
    return text


def _url(raw: str) -> str | None:
    text = raw.strip()
    if text and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise ValueError(f"expected an http:// or https:// URL, got {raw!r}")
    return text or None


_DEVICE = re.compile(r"cpu|mps|(cuda|xpu|npu)(:\d+)?")
DTYPES = ("auto", "float32", "fp32", "bfloat16", "bf16", "float16", "fp16")


def _device(raw: str) -> str | None:
    text = raw.strip()
    if text in ("", "auto"):
        return None
    if not _DEVICE.fullmatch(text):
        raise ValueError(f"expected cpu, cuda, cuda:N, mps or auto, got {raw!r}")
    return text


def _dtype(raw: str) -> str:
    text = raw.strip() or "auto"
    if text not in DTYPES:
        raise ValueError(f"expected one of {', '.join(DTYPES)}, got {raw!r}")
    return text


def _engine(raw: str) -> str:
    text = raw.strip().lower() or "auto"
    if text not in ("hf", "vllm", "auto"):
        raise ValueError(f"expected hf, vllm or auto, got {raw!r}")
    return text


def _vllm_steering(raw: str) -> str:
    text = raw.strip().lower() or "hook"
    if text not in ("hook", "graph"):
        raise ValueError(f"expected hook or graph, got {raw!r}")
    return text


def _correction(raw: str) -> str:
    text = raw.strip().lower() or "holm"
    if text not in ("holm", "bonferroni", "none"):
        raise ValueError(f"expected holm, bonferroni or none, got {raw!r}")
    return text


_COUNT = _int(1, "a positive integer (or auto)")
OPTIONS: tuple[Option, ...] = (
    Option("persona_model", "--persona-model", ("--model",),
           "model under test: alias, hub id, local dir, .gguf, tiny-*", _required_text,
           "smollm2-135m"),
    Option("persona_profile", "--persona-profile", (),
           "which `models:` entry of the suites applies (default: the model name, else the "
           "reference model's when only that has an entry)", _text),
    Option("persona_reference_model", "--persona-reference-model", ("--reference-model",),
           "reference checkpoint for checkpoint_shift (same architecture)", _text),
    Option("persona_tokenizer", "--persona-tokenizer", (),
           "tokenizer for a model directory saved without one (a directory, cached hub id or "
           "tiny name; default: the reference model's)", _text),
    Option("persona_judge", "--persona-judge", ("--judge",),
           "autorater: auto, offline, openai:M, anthropic:M, hf:M", _required(_judge_spec),
           "auto"),
    Option("persona_judge_base_url", "--persona-judge-base-url", ("--judge-base-url",),
           "base URL of an OpenAI-compatible (or Anthropic) judge server", _url),
    Option("persona_judge_concurrency", "--persona-judge-concurrency", ("--judge-concurrency",),
           "concurrent judge requests (a positive integer)",
           _required(_int(1, "a positive integer")), "16"),
    Option("persona_judge_deadline", "--persona-judge-deadline", (),
           "overall seconds one judge API call may take, a byte-by-byte answer included; past "
           "it the call is retried, then reported missing, never cached (default: 3x the SDK "
           "timeout, or PERSONA_JUDGE_DEADLINE)", _COUNT),
    Option("persona_coherence_judge", "--persona-coherence-judge", ("--coherence-judge",),
           "judge spec for coherence scores (default: the trait judge)", _judge_spec),
    Option("persona_cache", "--persona-cache", (), "cache directory (relative to rootdir)",
           _required_text, ".persona_cache"),
    Option("persona_device", "--persona-device", ("--device",),
           "cpu, cuda, cuda:1, mps (default: cuda when available)", _device),
    Option("persona_gpus_per_worker", "--persona-gpus-per-worker", (),
           "GPUs each pytest-xdist worker gets to itself (-n N needs N x this many GPUs)",
           _required(_COUNT), "1"),
    Option("persona_dtype", "--persona-dtype", ("--dtype",),
           "auto (bf16 on GPU, fp32 on CPU), float32, bfloat16, float16", _dtype, "auto"),
    Option("persona_engine", "--persona-engine", (),
           "generation engine: hf (transformers, the reference), vllm, or auto (vllm when "
           "it is installed and the run is on a GPU, else hf)", _engine, "auto"),
    Option("persona_tensor_parallel", "--persona-tensor-parallel", (),
           "GPUs one vllm engine shards the model over (vLLM tensor parallelism)",
           _required(_COUNT), "1"),
    Option("persona_vllm_steering", "--persona-vllm-steering", (),
           "how the vllm engine steers: hook (eager, the default) or graph (a custom op in "
           "every decoder block; torch.compile and CUDA graphs stay on)", _vllm_steering,
           "hook"),
    Option("persona_batch_size", "--persona-batch-size", ("--batch-size",),
           "generation batch size (default: automatic)", _COUNT),
    Option("persona_max_new_tokens", "--persona-max-new-tokens", ("--max-new-tokens",),
           "override every suite's max_new_tokens", _COUNT),
    Option("persona_max_questions", "--persona-max-questions", (),
           "use at most N questions per trait (quick runs)", _COUNT),
    Option("persona_seed", "--persona-seed", ("--seed",), "generation seed (an integer >= 0)",
           _required(_int(0, "an integer >= 0")), "0"),
    Option("persona_results", "--persona-results", (), "where to write the results JSON",
           _required_text, "reports/persona-results.json"),
    Option("persona_save", "--persona-save", (),
           "also save this run's results as a baseline here", _text),
    Option("persona_compare", "--persona-compare", (),
           "compare this run with a baseline results file", _text),
    Option("persona_compare_correction", "--persona-compare-correction", (),
           "multiple-comparison correction across the paired rule checks: holm, bonferroni, none",
           _correction, "holm"),
)


def add_options(parser: pytest.Parser) -> None:
    """Register every ``--persona-...`` flag and ini value (no aliases yet)."""
    group = parser.getgroup(GROUP, "pytest-persona: behavioural tests of language models")
    for o in OPTIONS:
        also = f"; alias {', '.join(o.aliases)}" if o.aliases else ""
        group.addoption(o.flag, dest=o.dest, default=None, help=f"{o.help} (ini: {o.dest}{also})")
        parser.addini(o.dest, o.help, type="string", default=o.default)
    group.addoption("--persona-refresh", dest="persona_refresh", action="store_true",
                    default=None, help="recompute everything, ignoring cached results")
    parser.addini("persona_refresh", "recompute everything", type="bool", default=False)
    group.addoption("--persona-deterministic", dest="persona_deterministic", action="store_true",
                    default=None, help="vllm's batch-invariant mode: a row's tokens do not "
                    "depend on its batch-mates (ini: persona_deterministic)")
    parser.addini("persona_deterministic", "vllm batch-invariant mode", type="bool",
                  default=False)
    group.addoption("--persona-compare-fail", dest="persona_compare_fail", action="append",
                    default=None, help="regression rule, e.g. baseline_score:+5 (repeatable)")
    parser.addini("persona_compare_fail", "regression rules", type="linelist", default=[])
    parser.addini("persona_suite_dirs", "directories whose YAML files are trait suites (a name "
                  "matches at any depth, a path from the rootdir)", type="linelist",
                  default=["trait_suites"])
    parser.addini("persona_prefixed_options_only", "register only the --persona-... option "
                  "names, no short aliases such as --model", type="bool", default=False)


def add_aliases(config: pytest.Config, parser: pytest.Parser) -> list[str]:
    """Register the short aliases (``--model`` ...) that no conftest or plugin already defines;
    returns one warning line per alias left out. Called once the initial conftests are loaded,
    so that their options are known."""
    import argparse

    try:
        prefixed_only = bool(config.getini("persona_prefixed_options_only"))
    except ValueError as exc:
        raise pytest.UsageError(f"pytest-persona: ini value persona_prefixed_options_only: "
                                f"{exc}") from None
    if prefixed_only:
        return []
    group = parser.getgroup(GROUP)
    skipped = []
    for o in OPTIONS:
        for alias in o.aliases:
            try:
                group.addoption(alias, dest=o.dest, default=None, help=f"alias of {o.flag}")
            except (argparse.ArgumentError, ValueError):
                skipped.append(f"pytest-persona: {alias} is already defined by a conftest or "
                               f"another plugin; use {o.flag} for pytest-persona's option")
    return skipped


def _origin(config: pytest.Config, o: Option, from_cli: bool) -> str:
    if from_cli:
        alias = f" (alias {', '.join(o.aliases)})" if o.aliases else ""
        return f"option {o.flag}{alias}"
    where = f" in {config.inipath}" if config.inipath else ""
    return f"ini value {o.dest}{where}"


def parse_values(config: pytest.Config) -> dict[str, Any]:
    """Every option's typed value (command line, else ini); a bad value raises
    ``pytest.UsageError`` naming the option."""
    values: dict[str, Any] = {}
    for o in OPTIONS:
        raw = config.getoption(o.dest, default=None)
        from_cli = raw not in (None, "")
        if not from_cli:
            raw = config.getini(o.dest)
        try:
            values[o.dest] = o.parse(str(raw))
        except ValueError as exc:
            raise pytest.UsageError(
                f"pytest-persona: {_origin(config, o, from_cli)}: {exc}") from None
    try:
        refresh = config.getoption("persona_refresh", default=None) or config.getini(
            "persona_refresh")
    except ValueError as exc:
        raise pytest.UsageError(f"pytest-persona: ini value persona_refresh: {exc}") from None
    values["persona_refresh"] = bool(refresh)
    try:
        deterministic = config.getoption("persona_deterministic", default=None) or \
            config.getini("persona_deterministic")
    except ValueError as exc:
        raise pytest.UsageError(f"pytest-persona: ini value persona_deterministic: "
                                f"{exc}") from None
    values["persona_deterministic"] = bool(deterministic)
    values["persona_engine_note"] = _engine_note(values)
    rules = list(config.getoption("persona_compare_fail", None) or
                 config.getini("persona_compare_fail"))
    from pytest_persona.results.compare import parse_rule

    for rule in rules:
        if rule.strip().lower() == "auto":  # expanded from the baseline's calibration later
            continue
        try:
            parse_rule(rule)
        except ValueError as exc:
            raise pytest.UsageError(f"pytest-persona: option --persona-compare-fail (ini "
                                    f"persona_compare_fail): {exc}") from None
    values["persona_compare_fail"] = rules
    from pytest_persona.cache.store import cache_root_problem

    cache = Path(values["persona_cache"])
    problem = cache_root_problem(cache if cache.is_absolute() else config.rootpath / cache)
    if problem:  # found now, not blamed later on the judge that first writes there
        raise pytest.UsageError(f"pytest-persona: option --persona-cache: {problem}")
    results = Path(values["persona_results"])
    for flag, path in (("--persona-results", results if results.is_absolute()
                        else config.rootpath / results),
                       ("--persona-save", Path(values["persona_save"] or ""))):
        problem = output_problem(path) if str(path) not in ("", ".") else None
        if problem:  # found now, not after the whole run has been paid for
            raise pytest.UsageError(f"pytest-persona: option {flag}: {problem}")
    return values


def output_problem(path: Path) -> str | None:
    """Why a results file cannot be written at ``path`` (a directory there, a regular file
    where a folder must be, a folder that cannot be written), or None. Probes the nearest
    existing folder with a temporary file, so it holds for root and read-only mounts too."""
    import tempfile

    if path.is_dir():
        return f"{path} is a directory; name a file such as {path / 'persona-results.json'}"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory, so {path} cannot be written"
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".persona-probe-"):
            pass
    except OSError as exc:
        return f"{path} cannot be written ({parent}: {exc.strerror or exc})"
    return None


def _engine_note(values: dict[str, Any]) -> str:
    """Which engine the run generates with and why; an engine request that cannot be met
    (vllm not installed, tensor parallelism or batch invariance on hf) is a usage error now,
    before any model loads."""
    from pytest_persona.engines import select_engine
    from pytest_persona.errors import EngineError

    try:
        _engine, why = select_engine(values["persona_engine"], values["persona_device"],
                                     dtype=values["persona_dtype"],
                                     tensor_parallel=values["persona_tensor_parallel"],
                                     deterministic=values["persona_deterministic"],
                                     vllm_steering=values["persona_vllm_steering"])
    except EngineError as exc:
        raise pytest.UsageError(f"pytest-persona: option --persona-engine: {exc}") from None
    return why


def opt(config: pytest.Config, ini: str) -> Any:
    """The typed value of an option (command line, else ini), validated at configure time."""
    values = config.stash.get(VALUES_KEY, None)
    if values is None:
        values = parse_values(config)
        config.stash[VALUES_KEY] = values
    return values[ini]


def profile_name(config: pytest.Config, suite_models: Any = ()) -> str:
    """The per-model profile of the suites: --persona-profile, else the model name, else the
    reference model's name when the suite has an entry for it (a checkpoint of the same
    architecture as its reference uses the reference's layer and coefficients)."""
    explicit = opt(config, "persona_profile")
    if explicit:
        return str(explicit)
    model = str(opt(config, "persona_model"))
    reference = opt(config, "persona_reference_model")
    if model not in suite_models and reference and reference in suite_models:
        return str(reference)
    return model


def trait_paths(config: pytest.Config) -> tuple[Path, ...]:
    """Where trait names are looked up (before the built-ins): ``traits/`` and the directory
    itself of each ``persona_suite_dirs`` entry and of each collected suite."""
    suite_dirs = [config.rootpath / d for d in config.getini("persona_suite_dirs")]
    found = [p for d in suite_dirs for p in (d / "traits", d) if p.is_dir()]
    collected: list[Path] = config.stash.get(SUITE_PATHS_KEY, [])
    found.extend(collected)
    return tuple(dict.fromkeys(p.resolve() for p in found))


def build_options(config: pytest.Config) -> Any:
    from pytest_persona.suites.session import PersonaOptions

    cache = Path(opt(config, "persona_cache"))
    if not cache.is_absolute():
        cache = config.rootpath / cache
    return PersonaOptions(
        model=str(opt(config, "persona_model")),
        reference_model=opt(config, "persona_reference_model") or None,
        tokenizer=opt(config, "persona_tokenizer") or None,
        judge=str(opt(config, "persona_judge")),
        judge_base_url=opt(config, "persona_judge_base_url") or None,
        judge_concurrency=int(opt(config, "persona_judge_concurrency")),
        judge_deadline=opt(config, "persona_judge_deadline"),
        coherence_judge=opt(config, "persona_coherence_judge") or None,
        cache_dir=cache,
        refresh=bool(opt(config, "persona_refresh")),
        device=opt(config, "persona_device") or None,
        dtype=str(opt(config, "persona_dtype")),
        batch_size=opt(config, "persona_batch_size"),
        max_new_tokens=opt(config, "persona_max_new_tokens"),
        max_questions=opt(config, "persona_max_questions"),
        seed=int(opt(config, "persona_seed")),
        trait_paths=trait_paths(config),
        engine=str(opt(config, "persona_engine")),
        tensor_parallel=int(opt(config, "persona_tensor_parallel")),
        deterministic=bool(opt(config, "persona_deterministic")),
        vllm_steering=str(opt(config, "persona_vllm_steering")),
    )


def _progress_writer(config: pytest.Config) -> Callable[[str], None]:
    """Progress lines past output capture: through the terminal reporter, or in an xdist
    worker (whose terminal output nobody sees) to the stderr it inherited from the controller,
    marked with the worker's id."""
    workerinput = getattr(config, "workerinput", None)
    worker = str(workerinput.get("workerid", "worker")) if workerinput is not None else None

    def write(line: str) -> None:
        capman = config.pluginmanager.getplugin("capturemanager")
        reporter = config.pluginmanager.getplugin("terminalreporter")
        ctx = capman.global_and_fixture_disabled() if capman else _null()
        if worker:
            with ctx:
                sys.stderr.write(f"[{worker}] {line}\n")
                sys.stderr.flush()
            return
        if reporter is None:
            print(line, flush=True)
            return
        with ctx:
            reporter.ensure_newline()
            reporter.write_line(line, cyan=True)

    return write


@contextmanager
def _null() -> Iterator[None]:
    yield


def get_session(config: pytest.Config) -> PersonaSession:
    """The run's PersonaSession, created on first use."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        from pytest_persona._util.progress import ProgressPrinter
        from pytest_persona.suites.session import PersonaSession

        session = PersonaSession(build_options(config), ProgressPrinter(_progress_writer(config)))
        config.stash[SESSION_KEY] = session
    return session
