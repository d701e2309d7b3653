"""The ``persona`` console command: extract, vectors inspect, report, compare, calibrate,
screen, cache export/import, results export."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_persona.core.positions import default_layer
from pytest_persona.errors import PersonaError, PersonaUsageError

if TYPE_CHECKING:
    from pytest_persona.cache.store import PersonaCache
    from pytest_persona.models.loading import LoadedModel


def _extract(args: argparse.Namespace) -> int:
    from pytest_persona._util.progress import ProgressPrinter
    from pytest_persona.cache.store import PersonaCache
    from pytest_persona.judges import make_judge, resolve_judge_spec
    from pytest_persona.models.loading import load_model
    from pytest_persona.pipeline.extraction import ExtractionConfig, extract_vectors
    from pytest_persona.traits.loader import load_trait, load_trait_pair

    spec, note = resolve_judge_spec(args.judge)
    print(note, file=sys.stderr)
    cache = PersonaCache(args.cache, refresh=args.refresh)
    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    trait = (load_trait_pair(args.trait, args.trait_eval) if args.trait_eval
             else load_trait(args.trait))
    judge = make_judge(spec, base_url=args.judge_base_url, cache_path=cache.judge_path,
                       refresh=args.refresh)
    config = ExtractionConfig(n_samples=args.samples, n_questions=args.questions,
                              max_new_tokens=args.max_new_tokens, min_pairs=args.min_pairs,
                              batch_size=args.batch_size, trait_threshold=args.threshold,
                              coherence_threshold=args.coherence_threshold,
                              pos_system_template=args.pos_system_template,
                              neg_system_template=args.neg_system_template)
    try:
        result = extract_vectors(loaded, trait, judge, None, config, cache, ProgressPrinter())
        if args.layer_sweep:
            from pytest_persona.core.generation import GenerationConfig
            from pytest_persona.pipeline.layer_sweep import sweep_layers

            layers = [int(x) for x in args.layer_sweep.split(",") if x.strip()]
            sweep = sweep_layers(loaded, trait, result.vectors, judge, layers, args.sweep_coeff,
                                 n_questions=args.sweep_questions,
                                 config=GenerationConfig(max_new_tokens=args.max_new_tokens,
                                                         batch_size=args.batch_size),
                                 cache=cache, progress=ProgressPrinter())
            result.vectors.metadata["layer_sweep"] = sweep.to_dict()
            if sweep.best_layer is None:
                print(f"no layer stayed coherent (>= {sweep.min_coherence:g}) at coeff "
                      f"{args.sweep_coeff:g}: try a smaller --sweep-coeff")
            for row in sweep.scores:
                mark = "  <- best coherent layer" if row.layer == sweep.best_layer else ""
                dose = f"  dose {row.dose:.3g}" if row.dose is not None else ""
                print(f"layer {row.layer:3d}: trait {row.trait_mean:5.1f}  coherence "
                      f"{row.coherence_mean:5.1f}  (n={row.n}){dose}{mark}")
    finally:
        judge.close()
    out = Path(args.out) / f"{trait.name}.safetensors"
    result.vectors.save(out)
    print(f"{trait.name}: {result.effective_pairs} effective pairs of {result.total_pairs}; "
          f"vectors [{result.vectors.n_layers}, {result.vectors.d_model}] written to {out}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from pytest_persona.core.vectors import inspect_vector_file

    metadata, (n_layers, d_model), norms = inspect_vector_file(args.file)  # one row in memory
    print(f"{args.file}: [{n_layers} layers, d_model {d_model}]")
    for key, value in sorted(metadata.items()):
        text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        print(f"  {key}: {text}")
    peak = max(range(len(norms)), key=norms.__getitem__)
    print("  per-layer norms (layer: norm):")
    for layer, norm in enumerate(norms):
        bar = "#" * int(round(40 * norm / max(max(norms), 1e-12)))
        mark = "  <- largest" if layer == peak else ""
        print(f"    {layer:3d}: {norm:9.4f} {bar}{mark}")
    return 0


USAGE_EXIT = 4  # as pytest's usage errors: the input cannot be evaluated


def _report(args: argparse.Namespace) -> int:
    from pytest_persona._util.atomic import write_text
    from pytest_persona.report import ResultsError, load_results, render_report

    try:
        results = load_results(args.results)
    except ResultsError as exc:
        print(f"persona report: error: {exc}", file=sys.stderr)
        return USAGE_EXIT
    write_text(args.output, render_report(results))
    print(f"report written to {args.output}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from pytest_persona._util.atomic import write_text
    from pytest_persona.report import ResultsError, compare_results, load_results
    from pytest_persona.report.html import render_comparison_report
    from pytest_persona.results.compare import CompareUsageError

    rules = args.fail or []
    try:
        from pytest_persona.results.calibration import expand_rules

        a, b = load_results(args.baseline), load_results(args.candidate)
        rules = expand_rules(rules, a, args.baseline)
        comparison = compare_results(b, a, rules, baseline_path=args.baseline,
                                     correction=args.correction)
    except (ResultsError, CompareUsageError) as exc:
        print(f"persona compare: error: {exc}", file=sys.stderr)
        return USAGE_EXIT
    write_text(args.output, render_comparison_report(b, a, rules, correction=args.correction))
    for check in comparison.checks:
        print(f"{'REGRESSION' if check.failed else 'ok'} {check.message}")
    for line in comparison.compared:
        print(f"compared: {line}")
    for note in comparison.notes:
        print(f"note: {note}")
    print(f"comparison written to {args.output}")
    return 1 if comparison.regressions else 0


def _cache_export(args: argparse.Namespace) -> int:
    from pytest_persona.cache.archive import export_cache

    summary = export_cache(args.cache, args.out)
    files = ", ".join(f"{kind} {n}" for kind, n in sorted(summary.added.items())) or "empty"
    print(f"exported {args.cache} to {args.out} (files: {files}; sha256 of each in its manifest)")
    return 0


def _cache_import(args: argparse.Namespace) -> int:
    from pytest_persona.cache.archive import import_cache

    summary = import_cache(args.archive, args.cache)
    print(f"imported {args.archive} into {args.cache} ({summary.text()})")
    return 0


def _results_export(args: argparse.Namespace) -> int:
    from pytest_persona.results.frames import export, load

    table = _renamed_flag(args.table, args.kind, ("--table", "--kind"), "responses")
    out = export(load(args.results), table, csv=args.csv, parquet=args.parquet)
    print(f"{table} written to {out}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    import shlex
    import subprocess

    from pytest_persona._util.atomic import write_text
    from pytest_persona.report import ResultsError, load_results, save_results
    from pytest_persona.results.calibration import calibrate

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    extra = shlex.split(args.pytest_args or "")
    base = None
    runs, how = [], []
    for k in range(args.runs):
        model, seed = args.model, args.seed + k
        if args.perturb and k > 0:  # run 0 is the unchanged model itself
            from pytest_persona.models.loading import load_model
            from pytest_persona.pipeline.perturb import save_perturbed

            base = base or load_model(args.model, device=args.device)
            model = str(save_perturbed(base, args.perturb, seed, work / f"perturbed-{k}"))
        out = work / f"run-{k}.json"
        cmd = [sys.executable, "-m", "pytest", *args.suites, "-p", "no:cacheprovider", "-q",
               "--model", model, "--persona-profile", args.profile or args.model,
               "--seed", str(seed), "--persona-results", str(out), *extra]
        print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
        rc = subprocess.call(cmd)
        if rc not in (0, 1) or not out.exists():
            print(f"persona calibrate: error: run {k} ended with pytest exit code {rc}",
                  file=sys.stderr)
            return USAGE_EXIT if rc == 4 else 2
        runs.append(load_results(out))
        how.append({"run": k, "model": model, "seed": seed,
                    "perturbed": bool(args.perturb and k > 0)})
    section = calibrate(runs, quantile=args.quantile, how={
        "model": args.model, "perturb": args.perturb, "runs_detail": how,
        "pytest_args": extra})
    write_text(args.out, json.dumps(section, indent=2) + "\n")
    for trait, metrics in section["figures"].items():
        for metric, spec in metrics.items():
            print(f"{trait}.{metric}: null shifts {spec['shifts']} -> bound "
                  f"{spec['direction']}{spec['bound']:.4g}")
    print(f"calibration written to {args.out}")
    if args.baseline:
        try:
            baseline = load_results(args.baseline)
        except ResultsError as exc:
            print(f"persona calibrate: error: {exc}", file=sys.stderr)
            return USAGE_EXIT
        baseline["calibration"] = section
        save_results(baseline, args.baseline)
        print(f"calibration stored in the baseline {args.baseline}: use "
              "--persona-compare-fail auto")
    return 0


def _screen_vectors(args: argparse.Namespace, loaded: LoadedModel, cache: PersonaCache
                    ) -> dict[str, object]:
    """Each trait's vectors: a .safetensors path, ``--vectors`` (file or folder), or extracted
    through the cache with ``--judge``."""
    from pytest_persona.core.vectors import TraitVectors

    names = [t.strip() for t in args.trait.split(",") if t.strip()]
    if not names:
        raise ValueError("--trait needs at least one trait name or vector file")
    found: dict[str, object] = {}
    for name in names:
        candidates = [Path(name)] if name.endswith(".safetensors") else []
        if args.vectors:
            root = Path(args.vectors)
            candidates += [root] if root.is_file() and len(names) == 1 else [
                root / f"{name}.safetensors", root / f"{name}-{args.model}.safetensors"]
        path = next((c for c in candidates if c.is_file()), None)
        if path is not None:
            vectors = TraitVectors.load(path)
            label = vectors.trait or Path(name).stem
            if not name.endswith(".safetensors") and label != name:
                raise PersonaUsageError(f"--trait {name}: {path} holds vectors for trait {label!r}, "
                                 f"not {name!r}; pass --trait {label} or the {name} vectors")
            found[label] = vectors
            print(f"{label}: vectors from {path}", file=sys.stderr)
            continue
        if name.endswith(".safetensors"):
            raise ValueError(f"{name}: no such vector file")
        from pytest_persona._util.progress import ProgressPrinter
        from pytest_persona.judges import make_judge, resolve_judge_spec
        from pytest_persona.pipeline.extraction import ExtractionConfig, extract_vectors
        from pytest_persona.traits.loader import load_trait

        spec, note = resolve_judge_spec(args.judge)
        print(f"{name}: no vector file given; extracting (cached). {note}", file=sys.stderr)
        trait = load_trait(name)
        judge = make_judge(spec, cache_path=cache.judge_path)
        try:
            result = extract_vectors(loaded, trait, judge, None, ExtractionConfig(), cache,
                                     ProgressPrinter())
        finally:
            judge.close()
        found[trait.name] = result.vectors
    return found


def _renamed_flag(new: str | None, old: str | None, flags: tuple[str, str], default: str) -> str:
    """The value of a renamed flag, ``flags`` = (new name, old name): the old one still works
    and says so on stderr; both with different values is a usage error."""
    if old is not None:
        print(f"persona: {flags[1]} is now {flags[0]}; the old name goes in the next release",
              file=sys.stderr)
        if new is not None and new != old:
            raise PersonaUsageError(f"{flags[0]} {new} and {flags[1]} {old} disagree: "
                                    f"{flags[1]} is the old name of {flags[0]}, give only "
                                    f"{flags[0]}")
        new = old
    return new or default


def _own_mode(args: argparse.Namespace) -> str:
    """``persona screen --own``, or the deprecated ``--baseline``."""
    return _renamed_flag(args.own, args.baseline, ("--own", "--baseline"), "generate")


def _screen(args: argparse.Namespace) -> int:
    import pandas as pd

    from pytest_persona._util.atomic import write_text
    from pytest_persona._util.progress import ProgressPrinter, bind
    from pytest_persona.cache.store import PersonaCache
    from pytest_persona.models.loading import load_model
    from pytest_persona.pipeline.screen import ModelProjector, ScreenRow, screen
    from pytest_persona.report.screen_html import render_screen

    data = Path(args.data)
    if not data.is_file():
        raise ValueError(f"{data}: no such data file")
    cache = PersonaCache(args.cache, refresh=args.refresh)
    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    vectors = _screen_vectors(args, loaded, cache)
    for name, vec in vectors.items():
        vec.check_model(loaded.n_layers, loaded.d_model, name)  # type: ignore[attr-defined]
    layer = args.layer
    if layer is None:
        first = next(iter(vectors.values()))
        best = (first.metadata.get("layer_sweep") or {}).get("best_layer")  # type: ignore[attr-defined]
        layer = int(best) if best is not None else default_layer(loaded.n_layers)
        why = "the vectors' layer sweep" if best is not None else "2/3 of the depth"
        print(f"layer {layer} ({why}; set --layer to choose)", file=sys.stderr)
    projector = ModelProjector(loaded, {n: v[layer] for n, v in vectors.items()},  # type: ignore[index]
                               layer, cache, max_new_tokens=args.max_new_tokens,
                               batch_size=args.batch_size, max_tokens=args.max_tokens)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, parquet_path = out / "screen-samples.csv", out / "screen-samples.parquet"
    tmp_csv = out / ".screen-samples.csv.partial"
    tmp_csv.unlink(missing_ok=True)
    parquet: list[object] = []
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        pa = pq = None

    def sink(rows: list[ScreenRow]) -> None:
        frame = pd.DataFrame([r.flat() for r in rows])
        frame.to_csv(tmp_csv, mode="a", header=not tmp_csv.exists(), index=False)
        if pq is not None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if not parquet:
                parquet.append(pq.ParquetWriter(str(parquet_path) + ".partial", table.schema))
            parquet[0].write_table(table)  # type: ignore[attr-defined]

    result = screen(data, projector, own=_own_mode(args), threshold=args.threshold,
                    batch_size=args.batch_size, cache=cache, on_bad_line=args.on_bad_line,
                    top_k=args.top, progress=bind(ProgressPrinter(), f"screen {data.name}"),
                    sink=sink)
    if tmp_csv.exists():
        tmp_csv.replace(csv_path)
    if parquet:
        parquet[0].close()  # type: ignore[attr-defined]
        Path(str(parquet_path) + ".partial").replace(parquet_path)
    payload = result.to_dict()
    write_text(out / "screen.json", json.dumps(payload, indent=2, ensure_ascii=False))
    write_text(out / "screen.html", render_screen(payload))
    print(f"screened {result.n_samples} samples of {data} at layer {layer} "
          f"({result.batches_cached} batches cached, {result.batches_computed} computed)")
    if result.skipped.count:
        print(f"skipped {result.skipped.count} bad line(s); first: {result.skipped.examples[0]}")
    if result.n_samples == 0:
        print(f"persona: error: {data}: no sample to screen ({result.skipped.count} bad "
              f"line(s) skipped); outputs written to {out} with n=0", file=sys.stderr)
        return 2
    for name, t in payload["traits"].items():
        lo, hi = t["ci"]
        above = (f"; {t['above']}/{t['n']} ({100 * (t['fraction_above'] or 0):.1f}%) above "
                 f"{args.threshold:g}" if args.threshold is not None else "")
        print(f"{name}: mean {payload['measure'].replace('_', ' ')} {t['mean']:.3f} "
              f"(95% CI {lo:.3f} to {hi:.3f}, n={t['n']}){above}")
    written = [out / "screen.json", csv_path, out / "screen.html"] + (
        [parquet_path] if parquet else [])
    print("written: " + ", ".join(str(p) for p in written))
    return 0


def _timeline(args: argparse.Namespace) -> int:
    from pytest_persona._util.atomic import write_text
    from pytest_persona.report.timeline import load_timeline, render_timeline

    write_text(args.output, render_timeline(load_timeline(args.timeline)))
    print(f"timeline written to {args.output}")
    return 0


def parser() -> argparse.ArgumentParser:
    from pytest_persona.traits.loader import (
        DEFAULT_NEG_SYSTEM_TEMPLATE,
        DEFAULT_POS_SYSTEM_TEMPLATE,
    )

    p = argparse.ArgumentParser(prog="persona", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("extract", help="extract trait vectors for a model and save them")
    ex.add_argument("--model", required=True)
    ex.add_argument("--trait", required=True, help="built-in trait name or a trait JSON file")
    ex.add_argument("--trait-eval", default=None, metavar="EVAL_JSON",
                    help="the reference's separate eval file: --trait is then its extract file, "
                         "and all its questions are used for extraction")
    ex.add_argument("--judge", default="auto")
    ex.add_argument("--judge-base-url", default=None)
    ex.add_argument("--out", default="vectors")
    ex.add_argument("--cache", default=".persona_cache")
    ex.add_argument("--refresh", action="store_true")
    ex.add_argument("--device", default=None)
    ex.add_argument("--dtype", default="auto")
    ex.add_argument("--samples", type=int, default=1, help="samples per question and polarity")
    ex.add_argument("--questions", type=int, default=None)
    ex.add_argument("--max-new-tokens", type=int, default=64)
    ex.add_argument("--min-pairs", type=int, default=5)
    ex.add_argument("--threshold", type=float, default=50.0,
                    help="keep a pair when pos >= T and neg < 100 - T (the reference rule)")
    ex.add_argument("--coherence-threshold", type=float, default=50.0,
                    help="both responses of a pair must be at least this coherent (0-100)")
    ex.add_argument("--pos-system-template", default=DEFAULT_POS_SYSTEM_TEMPLATE,
                    help="positive system prompt; placeholders {article} {trait} {instruction}")
    ex.add_argument("--neg-system-template", default=DEFAULT_NEG_SYSTEM_TEMPLATE,
                    help="negative system prompt (reference: no trait name)")
    ex.add_argument("--batch-size", type=int, default=None)
    ex.add_argument("--layer-sweep", default="", metavar="L1,L2,...",
                    help="also steer at each of these layers and record the most effective one")
    ex.add_argument("--sweep-coeff", type=float, default=4.0)
    ex.add_argument("--sweep-questions", type=int, default=10)
    ex.set_defaults(func=_extract)
    vec = sub.add_parser("vectors", help="work with vector files")
    vsub = vec.add_subparsers(dest="vcommand", required=True)
    ins = vsub.add_parser("inspect", help="print provenance and per-layer norms")
    ins.add_argument("file")
    ins.set_defaults(func=_inspect)
    rep = sub.add_parser("report", help="render an HTML report from a results JSON")
    rep.add_argument("results")
    rep.add_argument("-o", "--output", default="reports/persona-report.html")
    rep.set_defaults(func=_report)
    cmp_ = sub.add_parser("compare", help="side-by-side HTML of two results files")
    cmp_.add_argument("baseline")
    cmp_.add_argument("candidate")
    cmp_.add_argument("-o", "--output", default="reports/persona-compare.html")
    cmp_.add_argument("--fail", action="append", help="rule such as baseline_score:+5")
    cmp_.add_argument("--correction", default="holm", choices=("holm", "bonferroni", "none"),
                      help="multiple-comparison correction across the rule checks")
    cmp_.set_defaults(func=_compare)
    cache = sub.add_parser("cache", help="move a persona cache between hosts")
    csub = cache.add_subparsers(dest="ccommand", required=True)
    exp = csub.add_parser("export", help="write responses, judge scores, vectors and "
                          "projections to a verified .tar.gz")
    exp.add_argument("out", help="archive to write, e.g. persona-cache.tar.gz")
    exp.add_argument("--cache", default=".persona_cache")
    exp.set_defaults(func=_cache_export)
    imp = csub.add_parser("import", help="verify an archive, then add the entries this cache "
                          "lacks (existing entries are never overwritten)")
    imp.add_argument("archive")
    imp.add_argument("--cache", default=".persona_cache")
    imp.set_defaults(func=_cache_import)
    res = sub.add_parser("results", help="work with results files")
    rsub = res.add_subparsers(dest="rcommand", required=True)
    rex = rsub.add_parser("export", help="a tidy table (one row per response or expectation)")
    rex.add_argument("results")
    tables = ("responses", "expectations", "sweep")  # results.frames.TABLES, without pandas
    rex.add_argument("--table", choices=tables, default=None,
                     help="which table, i.e. what a row is (default: responses)")
    rex.add_argument("--kind", choices=tables, default=None,
                     help=argparse.SUPPRESS)  # the old name of --table, for one release
    fmt = rex.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", metavar="OUT", help="write CSV")
    fmt.add_argument("--parquet", metavar="OUT", help="write Parquet (needs pyarrow)")
    rex.set_defaults(func=_results_export)
    cal = sub.add_parser("calibrate", help="measure the gate's noise floor on an unchanged model")
    cal.add_argument("--model", required=True)
    cal.add_argument("--suites", nargs="+", default=["trait_suites/"])
    cal.add_argument("--runs", type=int, default=5, help="runs of the unchanged model (>= 2)")
    cal.add_argument("--seed", type=int, default=0, help="sampling seed of the first run")
    cal.add_argument("--perturb", type=float, default=0.0, metavar="SCALE",
                     help="runs after the first use weights with Gaussian noise of SCALE x each "
                          "matrix's std (e.g. 0.002), behaviour intact")
    cal.add_argument("--quantile", type=float, default=0.99)
    cal.add_argument("--profile", default=None, help="suite profile (default: --model)")
    cal.add_argument("--device", default=None)
    cal.add_argument("--pytest-args", default="", help="more pytest options, one string")
    cal.add_argument("--work-dir", default="reports/calibration")
    cal.add_argument("-o", "--out", default="reports/calibration.json")
    cal.add_argument("--baseline", default=None,
                     help="store the calibration in this baseline file (for auto rules)")
    cal.set_defaults(func=_calibrate)
    scr = sub.add_parser("screen", help="screen a training set (JSONL) along trait vectors "
                         "before fine-tuning")
    scr.add_argument("data", help="JSONL: a 'messages' list per line, or 'prompt'/'response'")
    scr.add_argument("--model", required=True)
    scr.add_argument("--trait", required=True, metavar="T[,T2...]",
                     help="trait names (vectors from --vectors, else extracted) or .safetensors")
    scr.add_argument("--vectors", default=None,
                     help="a vector file, or a folder with TRAIT.safetensors files")
    scr.add_argument("--layer", type=int, default=None, help="0-based decoder block")
    scr.add_argument("--own", choices=("generate", "none"), default=None,
                     help="the model's own answers: generate (default) subtracts the "
                          "projection of its greedy answer to each prompt (the paper's "
                          "measure); none: raw projection only, no generation")
    scr.add_argument("--baseline", choices=("generate", "none"), default=None,
                     help=argparse.SUPPRESS)  # the old name of --own, for one release
    scr.add_argument("--threshold", type=float, default=None,
                     help="report the fraction of samples whose score exceeds this")
    scr.add_argument("--out", default="reports/screen")
    scr.add_argument("--on-bad-line", choices=("fail", "skip"), default="fail")
    scr.add_argument("--batch-size", type=int, default=16)
    scr.add_argument("--max-new-tokens", type=int, default=64,
                     help="length of the model's own responses (--own generate)")
    scr.add_argument("--max-tokens", type=int, default=2048,
                     help="most tokens of one sample (prompt + response, or prompt + "
                          "--max-new-tokens); a longer one is a bad line (see --on-bad-line)")
    scr.add_argument("--top", type=int, default=20, help="top samples kept per trait")
    scr.add_argument("--judge", default="auto", help="judge for extraction when no vector file")
    scr.add_argument("--cache", default=".persona_cache")
    scr.add_argument("--refresh", action="store_true")
    scr.add_argument("--device", default=None)
    scr.add_argument("--dtype", default="auto")
    scr.set_defaults(func=_screen)
    tl = sub.add_parser("timeline", help="HTML of a fine-tuning timeline (PersonaCallback out=)")
    tl.add_argument("timeline", help="the timeline JSON the callback wrote")
    tl.add_argument("-o", "--output", default="timeline.html")
    tl.set_defaults(func=_timeline)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (PersonaError, OSError) as exc:  # anything else is a bug: its traceback is shown
        print(f"persona: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
