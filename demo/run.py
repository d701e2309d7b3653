"""``make demo``: run the trait suites on the embedded model, then show the CI gate catching a
modified checkpoint. Writes reports/report.html and reports/persona-results.json."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from demo.phases import Phases, install_seconds, machine, suite_parts

DEMO_MODEL = "smollm2-135m"
GATE_SUITE = "trait_suites/sycophantic.yaml"
GATE_TRAIT = "sycophantic"
GATE_COEFF = 4.0
#: generation and forward-pass batch on the CPU unless --batch-size is given. Batches of 50
#: cost about 8% less CPU per sampled token than batches of 25 (the CPU default is 24) on 2
#: cores (50 rows x 24 tokens at temperature 1, alternated twice: 17.0-18.5 against 18.8-20.3
#: CPU s; the same texts, 50 of 50), and 50 splits the demo's 20-question sets, 100-row sweeps and 200-row
#: extractions into full batches. The batch size is in no cache key (rows are seeded one by
#: one), yet float rounding in a batch of another shape can flip a token: in the cold runs of
#: benchmarks/results/demo_phases.json a few sycophantic contrastive texts differed between
#: batches of 24 and 50 (its vector's norm 8.30 and 8.21); every verdict was the same.
DEMO_BATCH = 50
#: xdist workers for the suite run: one per trait suite, each with one torch thread. On 2 cores
#: more one-thread processes make more sampled rows per second than one two-thread process
#: (benchmarks/results/cpu-workers.json, python -m benchmarks.cpu_workers); three rather than
#: two because the three suites are of about equal work. A vector one worker needs while
#: another extracts it is waited for, never extracted twice (the cache's computing lock). One
#: thread rounds some sums differently from two, so a few sampled texts differ from a
#: one-process run's (the same seeds; neither is more right; sampled-text-stability.json).
DEMO_WORKERS = 3


def _say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def _pytest(args: Sequence[str], env: dict[str, str] | None = None) -> int:
    cmd = [sys.executable, "-m", "pytest", *args]
    shown = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    print("$ " + (shown + " " if shown else "") + "pytest " + " ".join(args), flush=True)
    return subprocess.call(cmd, env={**os.environ, **env} if env else None)


def _parallel(workers: int) -> tuple[list[str], dict[str, str]]:
    """pytest-xdist arguments and environment for ``workers`` suite workers (none for 0 or 1,
    or without pytest-xdist), one torch thread each. ``loadfile``: each suite file, and the
    Python example file as a whole, on one worker. (``loadgroup`` spreads the example's
    ungrouped tests over all workers at the start, where each waited two minutes for the evil
    vector that a third worker was extracting.)"""
    if workers <= 1:
        return [], {}
    if importlib.util.find_spec("xdist") is None:
        print("pytest-xdist is not installed: the suites run in one process", flush=True)
        return [], {}
    return ["-n", str(workers), "--dist", "loadfile"], {"OMP_NUM_THREADS": "1"}


def build_checkpoint(root: Path, cache: Path, extra: Sequence[str]) -> tuple[Path, int]:
    """Fold the embedded model's own sycophancy vector into a bias: the demo's bad checkpoint
    (kept when the one in the cache was made from the same model, vector, layer and coeff)."""
    from pytest_persona.pipeline.checkpoint import (
        fold_vector_into_bias,
        folded_checkpoint_is_current,
    )
    from pytest_persona.suites.schema import load_suite
    from pytest_persona.suites.session import PersonaOptions, PersonaSession

    suite = load_suite(root / GATE_SUITE, DEMO_MODEL)
    rs = suite.for_model(DEMO_MODEL)

    def flag(name: str, default: str | None = None) -> str | None:
        items = list(extra)
        return items[items.index(name) + 1] if name in items[:-1] else default

    def number(name: str) -> int | None:
        value = flag(name)
        return int(value) if value is not None else None

    # the same options as the suite run, so the vector is the one step 1 tested (a cache hit)
    session = PersonaSession(
        PersonaOptions(
            model=DEMO_MODEL,
            cache_dir=cache,
            max_questions=number("--persona-max-questions"),
            max_new_tokens=number("--max-new-tokens"),
            judge=flag("--judge", "auto") or "auto",
            coherence_judge=flag("--coherence-judge"),
            judge_base_url=flag("--judge-base-url"),
            seed=number("--seed") or 0,
            dtype=flag("--dtype", "auto") or "auto",
            device=flag("--device"),
            batch_size=number("--batch-size"),
            trait_paths=(root / "trait_suites",),
        )
    )
    vector = session.vectors(session.trait(GATE_TRAIT), suite.extraction).vectors.array(rs.layer)
    out = cache / "demo-checkpoint"
    if not folded_checkpoint_is_current(out, session.model, vector, rs.layer, GATE_COEFF):
        fold_vector_into_bias(
            session.model,
            vector,
            rs.layer,
            GATE_COEFF,
            out,
            note=f"+{GATE_COEFF:g} x the {GATE_TRAIT} vector at block {rs.layer}",
        )
    session.close()
    return out, rs.layer


def convert_if_needed() -> bool:
    """Convert the embedded GGUF model to safetensors now (timed as its own phase) when no
    converted copy exists yet; True when it converted. Its identity is cheap once converted;
    before that, building it loads the model, which converts it."""
    from pytest_persona.models.loading import LazyLoadedModel

    try:
        return LazyLoadedModel(DEMO_MODEL, device="cpu").is_loaded
    except Exception:  # noqa: BLE001 - the suite run reports a model that cannot load
        return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", default="reports")
    parser.add_argument("--skip-gate", action="store_true")
    parser.add_argument("--cache", default=".persona_cache", help="the persona cache directory")
    parser.add_argument("--workers", type=int, default=DEMO_WORKERS,
                        help="xdist workers for the suite run (1: one process, two threads)")
    args, extra = parser.parse_known_args(argv)
    root = Path.cwd()
    reports = Path(args.reports)
    cache = (root / args.cache).resolve()
    if "--batch-size" not in extra:
        extra = ["--batch-size", str(DEMO_BATCH), *extra]
    extra = ["--persona-cache", str(cache), *extra]
    started = time.monotonic()
    load_at_start = machine()
    phases = Phases()
    install = install_seconds(Path(sys.prefix), time.time())
    if install is not None:
        phases.add(
            "install (make install, just before)",
            install,
            None,
            "pip, from .venv/.install-started; cpu not measured",
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    conversion = "GGUF conversion of the embedded model"
    with phases.phase(conversion):
        converted = convert_if_needed()
    if not converted:
        phases.annotate(conversion, "already converted (cached)")
    xdist_args, xdist_env = _parallel(args.workers)
    workers = f", {args.workers} workers in parallel" if xdist_args else ""
    _say(f"1/3 trait suites on the embedded {DEMO_MODEL} (CPU{workers}), auto judge")
    suites = "trait suites (pytest trait_suites/)"
    stage_file = reports / "suite-timings.json"
    note = "extraction, sweeps, judging" + (
        f"; {args.workers} xdist workers: parts overlap in wall time, cpu adds up"
        if xdist_args else "")
    with phases.phase(suites, note):
        main_rc = _pytest(
            [
                "trait_suites/",
                *xdist_args,
                "-p",
                "no:cacheprovider",
                "--model",
                DEMO_MODEL,
                "--reference-model",
                DEMO_MODEL,
                "--html",
                str(reports / "report.html"),
                "--self-contained-html",
                "--persona-results",
                str(reports / "persona-results.json"),
                "--persona-save",
                str(reports / "baseline.json"),
                "-rxXs",
                "-p",
                "demo.timing",
                "--demo-timings",
                str(stage_file),
                *extra,
            ],
            xdist_env,
        )
    phases.split(suites, suite_parts(stage_file, phases.rows[-1].wall, phases.rows[-1].cpu))
    gate_rc = null_rc = None

    def gate(model: str, results: str, *html: str) -> int:
        """The gate run: the gate suite's checkpoint_shift and baseline_ceiling on ``model``
        against the reference model and the saved baseline."""
        return _pytest(
            [
                GATE_SUITE,
                "-p",
                "no:cacheprovider",
                "-k",
                "checkpoint_shift or baseline_ceiling",
                "--model",
                model,
                "--reference-model",
                DEMO_MODEL,
                "--persona-results",
                str(reports / results),
                "--persona-compare",
                str(reports / "baseline.json"),
                "--persona-compare-fail",
                "baseline_score:+5",
                *html,
                *extra,
            ]
        )

    if not args.skip_gate:
        _say(
            f"2/3 making a modified checkpoint for the demo: {DEMO_MODEL} with +{GATE_COEFF:g} x "
            f"its {GATE_TRAIT} vector folded into an MLP bias"
        )
        with phases.phase("checkpoint fold (vector into an MLP bias)"):
            checkpoint, layer = build_checkpoint(root, cache, extra)
        print(f"demo checkpoint (made for the demo, not a real fine-tune): {checkpoint}")
        _say(
            "3/3 gating that checkpoint against the reference model and the saved baseline, "
            "and the unchanged model the same way (it must pass)"
        )
        with phases.phase("gate run on the modified checkpoint"):
            gate_rc = gate(
                str(checkpoint),
                "gate-results.json",
                "--html",
                str(reports / "gate-report.html"),
                "--self-contained-html",
            )
        with phases.phase("gate run on the unchanged model"):
            null_rc = gate(DEMO_MODEL, "gate-unchanged-results.json")
    minutes = (time.monotonic() - started) / 60
    _say(f"demo finished in {minutes:.1f} min; time per phase:")
    print(phases.table())
    phases.save(
        reports / "demo-timings.json",
        command=["python", "-m", "demo.run", *(argv if argv is not None else sys.argv[1:])],
        machine={"at_start": load_at_start, "at_end": machine()},
    )
    print(f"  timings: {reports / 'demo-timings.json'}")
    print(f"  report:  {reports / 'report.html'}")
    print(f"  results: {reports / 'persona-results.json'}")
    ok = main_rc == 0
    print(
        f"  suites on {DEMO_MODEL}: {'all expectations met or xfailed as documented' if ok else f'pytest exit {main_rc}'}"
    )
    if gate_rc is not None:
        caught = gate_rc == 1
        print(
            f"  gate on the modified checkpoint: {'CAUGHT (exit 1), as it should be' if caught else f'NOT caught (exit {gate_rc})'}"
            f"; gate report: {reports / 'gate-report.html'}"
        )
        passed = null_rc == 0
        print(
            f"  gate on the unchanged {DEMO_MODEL}: {'passed (exit 0), as it should' if passed else f'FLAGGED (exit {null_rc})'}"
            f"; results: {reports / 'gate-unchanged-results.json'}"
        )
        ok = ok and caught and passed
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
