"""Options, ini values and the run's shared handles (stash keys, the session), used by every
module of the plugin: hooks, items and the results collector import from here, never each other."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

SESSION_KEY = pytest.StashKey["Any"]()
COLLECTOR_KEY = pytest.StashKey["Any"]()

# option name -> (ini name, help, type, default)
OPTIONS: list[tuple[str, str, str, str, Any]] = [
    ("--model", "persona_model", "model under test: alias, hub id, local dir, .gguf, tiny-*",
     "string", "smollm2-135m"),
    ("--persona-profile", "persona_profile",
     "which `models:` entry of the suites applies (default: the --model value, else the "
     "--reference-model value when only that has an entry)", "string", ""),
    ("--reference-model", "persona_reference_model",
     "reference checkpoint for checkpoint_shift (same architecture)", "string", ""),
    ("--judge", "persona_judge", "autorater: auto, offline, openai:M, anthropic:M, hf:M",
     "string", "auto"),
    ("--judge-base-url", "persona_judge_base_url",
     "base URL of an OpenAI-compatible (or Anthropic) judge server", "string", ""),
    ("--judge-concurrency", "persona_judge_concurrency", "concurrent judge requests", "string",
     "16"),
    ("--coherence-judge", "persona_coherence_judge",
     "judge spec for coherence scores (default: same as --judge)", "string", ""),
    ("--persona-cache", "persona_cache", "cache directory (relative to rootdir)", "string",
     ".persona_cache"),
    ("--device", "persona_device", "cpu, cuda, cuda:1 (default: cuda when available)", "string",
     ""),
    ("--dtype", "persona_dtype", "auto (bf16 on GPU, fp32 on CPU), float32, bfloat16, float16",
     "string", "auto"),
    ("--batch-size", "persona_batch_size", "generation batch size (default: automatic)",
     "string", ""),
    ("--max-new-tokens", "persona_max_new_tokens", "override every suite's max_new_tokens",
     "string", ""),
    ("--persona-max-questions", "persona_max_questions",
     "use at most N questions per trait (quick runs)", "string", ""),
    ("--seed", "persona_seed", "generation seed", "string", "0"),
    ("--persona-results", "persona_results", "where to write the results JSON", "string",
     "reports/persona-results.json"),
    ("--persona-save", "persona_save", "also save this run's results as a baseline here",
     "string", ""),
    ("--persona-compare", "persona_compare", "compare this run with a baseline results file",
     "string", ""),
    ("--persona-compare-correction", "persona_compare_correction",
     "multiple-comparison correction across the paired rule checks: holm, bonferroni, none",
     "string", "holm"),
]


def opt(config: pytest.Config, ini: str) -> Any:
    """A command-line value, else the ini value."""
    value = config.getoption(ini, default=None)
    if value is None or value == "":
        value = config.getini(ini)
    return value


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


def _int_or_none(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def build_options(config: pytest.Config) -> Any:
    from pytest_persona.suites.session import PersonaOptions

    cache = Path(opt(config, "persona_cache"))
    if not cache.is_absolute():
        cache = config.rootpath / cache
    suite_dirs = [config.rootpath / d for d in config.getini("persona_suite_dirs")]
    trait_paths = tuple(p for d in suite_dirs for p in (d / "traits", d) if p.is_dir())
    return PersonaOptions(
        model=str(opt(config, "persona_model")),
        reference_model=opt(config, "persona_reference_model") or None,
        judge=str(opt(config, "persona_judge")),
        judge_base_url=opt(config, "persona_judge_base_url") or None,
        judge_concurrency=int(opt(config, "persona_judge_concurrency")),
        coherence_judge=opt(config, "persona_coherence_judge") or None,
        cache_dir=cache,
        refresh=bool(opt(config, "persona_refresh")),
        device=opt(config, "persona_device") or None,
        dtype=str(opt(config, "persona_dtype")),
        batch_size=_int_or_none(opt(config, "persona_batch_size")),
        max_new_tokens=_int_or_none(opt(config, "persona_max_new_tokens")),
        max_questions=_int_or_none(opt(config, "persona_max_questions")),
        seed=int(opt(config, "persona_seed")),
        trait_paths=trait_paths,
    )


def _progress_writer(config: pytest.Config) -> Callable[[str], None]:
    def write(line: str) -> None:
        capman = config.pluginmanager.getplugin("capturemanager")
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is None:
            print(line, flush=True)
            return
        ctx = capman.global_and_fixture_disabled() if capman else _null()
        with ctx:
            reporter.ensure_newline()
            reporter.write_line(line, cyan=True)

    return write


@contextmanager
def _null() -> Iterator[None]:
    yield


def get_session(config: pytest.Config) -> Any:
    """The run's PersonaSession, created on first use."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        from pytest_persona._util.progress import ProgressPrinter
        from pytest_persona.suites.session import PersonaSession

        session = PersonaSession(build_options(config), ProgressPrinter(_progress_writer(config)))
        config.stash[SESSION_KEY] = session
    return session
