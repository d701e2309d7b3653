"""The ``persona`` console command: extract, vectors inspect, report, compare."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def _extract(args: argparse.Namespace) -> int:
    from pytest_persona._util.progress import ProgressPrinter
    from pytest_persona.cache.store import PersonaCache
    from pytest_persona.judges import make_judge, resolve_judge_spec
    from pytest_persona.models.loading import load_model
    from pytest_persona.pipeline.extraction import ExtractionConfig, extract_vectors
    from pytest_persona.traits.loader import load_trait

    spec, note = resolve_judge_spec(args.judge)
    print(note, file=sys.stderr)
    cache = PersonaCache(args.cache, refresh=args.refresh)
    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    trait = load_trait(args.trait)
    judge = make_judge(spec, base_url=args.judge_base_url, cache_path=cache.judge_path,
                       refresh=args.refresh)
    config = ExtractionConfig(n_samples=args.samples, n_questions=args.questions,
                              max_new_tokens=args.max_new_tokens, min_pairs=args.min_pairs,
                              batch_size=args.batch_size)
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
                print(f"layer {row.layer:3d}: trait {row.trait_mean:5.1f}  coherence "
                      f"{row.coherence_mean:5.1f}  (n={row.n}){mark}")
    finally:
        judge.close()
    out = Path(args.out) / f"{trait.name}.safetensors"
    result.vectors.save(out)
    print(f"{trait.name}: {result.effective_pairs} effective pairs of {result.total_pairs}; "
          f"vectors [{result.vectors.n_layers}, {result.vectors.d_model}] written to {out}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from pytest_persona.core.vectors import TraitVectors

    vectors = TraitVectors.load(args.file)
    print(f"{args.file}: [{vectors.n_layers} layers, d_model {vectors.d_model}]")
    for key, value in sorted(vectors.metadata.items()):
        text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        print(f"  {key}: {text}")
    norms = vectors.norms()
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
    from pytest_persona.report.compare import CompareUsageError
    from pytest_persona.report.html import render_comparison

    rules = args.fail or []
    try:
        a, b = load_results(args.baseline), load_results(args.candidate)
        comparison = compare_results(b, a, rules, baseline_path=args.baseline,
                                     correction=args.correction)
    except (ResultsError, CompareUsageError) as exc:
        print(f"persona compare: error: {exc}", file=sys.stderr)
        return USAGE_EXIT
    write_text(args.output, render_comparison(a, b, rules, correction=args.correction))
    for check in comparison.checks:
        print(f"{'REGRESSION' if check.failed else 'ok'} {check.message}")
    for note in comparison.notes:
        print(f"note: {note}")
    print(f"comparison written to {args.output}")
    return 1 if comparison.regressions else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="persona", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("extract", help="extract trait vectors for a model and save them")
    ex.add_argument("--model", required=True)
    ex.add_argument("--trait", required=True, help="built-in trait name or a trait JSON file")
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
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"persona: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
