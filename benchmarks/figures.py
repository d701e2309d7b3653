"""The ``figures`` list each result file carries for the docs (``<!-- bench: FILE -->``), derived
from the file's own measurements so that no figure is retyped: the judge-agreement AUCs, the
dose and steering-KL tables, and the fine-tuning validation's correlations and rankings.

    python -m benchmarks.figures benchmarks/results/FILE.json ...   # (re)derive in place
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

Figure = dict[str, Any]


def _fig(name: str, value: Any, unit: str, what: str, step: str | None = None) -> Figure:
    return {"name": name, "value": value, "unit": unit, "what": what, "target": None,
            "step": step}


def _ci(ci: Any, digits: int = 3) -> str:
    return f"95% CI {ci[0]:.{digits}f} to {ci[1]:.{digits}f}" if isinstance(ci, list) else ""


def judge_agreement(report: dict[str, Any]) -> list[Figure]:
    """One AUC (or Spearman) per shipped labelled set."""
    out = []
    for trait, s in sorted(report.get("sets", {}).items()):
        key = "auc" if "auc" in s else "spearman"
        out.append(_fig(f"{key}_{trait}", s[key], "",
                        f"{report.get('judge')} on the shipped {trait} set (n={s['n']}, "
                        f"{s.get('n_positive', '?')} positive; {_ci(s.get('ci'))})"))
    return out


def dose_damage(report: dict[str, Any]) -> list[Figure]:
    """Per trait: the demo's largest coefficient as a dose, and the KL at each coefficient."""
    out = []
    for trait, t in sorted(report.get("traits", {}).items()):
        coeffs, doses = t.get("demo_coefficients", []), t.get("demo_doses", [])
        for c, d in zip(coeffs, doses):
            if c > 0:
                out.append(_fig(f"dose_{trait}_coeff_{c:g}", d, "",
                                f"relative dose of coefficient {c:g} at block {t['layer']} "
                                f"(‖v‖ {t['vector_norm']:.2f}, mean ‖h‖ {t['mean_norm']:.1f} over "
                                f"{t['n_tokens']} tokens)", step=trait))
        for row in t.get("kl", []):
            out.append(_fig(f"kl_{trait}_coeff_{row['coeff']:g}", row["kl"], "nats/token",
                            f"mean KL(steered ‖ unsteered), dose {row['dose']:.3f}, n={row['n']} "
                            f"benign prompts, {_ci(row.get('ci'))}",
                            step=trait))
    return out


def _signed(values: list[float], digits: int) -> str:
    return ", ".join(f"{v:+.{digits}f}" for v in values)


def finetune_validation(report: dict[str, Any]) -> list[Figure]:
    """Correlations of shift with score change, the screen's ranking agreement, each run's
    shift and score change per checkpoint (step ``runs``) and the screen's mean projection
    difference per dataset (step ``screen_means``)."""
    out = []
    for trait, c in report.get("correlation_shift_vs_score_change", {}).items():
        out.append(_fig(f"pearson_r_{trait}", c["pearson_r"], "",
                        f"callback shift vs judge-score change over n={c['n']} checkpoints, "
                        f"{_ci(c.get('ci'), 2)} (bootstrap over checkpoints: optimistic); "
                        f"Spearman {c['spearman_r']}", step="correlation"))
    for trait, r in report.get("screen_ranking", {}).items():
        order = " > ".join(r["ranked_by"]["screen"])
        out.append(_fig(f"screen_order_{trait}", order, "",
                        f"persona screen's order of the datasets; matches the score change: "
                        f"{r['screen_order_matches_score_change']}, the shift: "
                        f"{r['screen_order_matches_shift']}", step="screening"))
    for run in report.get("runs", []):
        cps = [c for c in run["checkpoints"] if c["step"] > 0]
        steps = ", ".join(str(c["step"]) for c in cps)
        out.append(_fig(f"shift_{run['trait']}_{run['dataset']}",
                        _signed([c["shift"] for c in cps], 2), f"at steps {steps}",
                        f"judge score change at the same steps: "
                        f"{_signed([c['score_change'] for c in cps], 1)}", step="runs"))
    for trait, r in report.get("screen_ranking", {}).items():
        for dataset, s in r.get("screen", {}).items():
            out.append(_fig(f"screen_{trait}_{dataset}", round(s["mean_projection_difference"], 2),
                            "", f"mean projection difference of the {dataset} set's answers "
                            f"against the model's own, {_ci(s.get('ci'), 2)}, n={s['n']}",
                            step="screen_means"))
    return out


DERIVE = {"judge_agreement.json": judge_agreement, "dose_damage.json": dose_damage,
          "finetune_validation.json": finetune_validation}


HEAD = ("benchmark", "machine", "command", "figures")


def with_figures(name: str, report: dict[str, Any]) -> dict[str, Any]:
    """``report`` in the harness's one shape (``benchmark``, ``machine``, ``command``,
    ``figures``, then the rest), its ``figures`` derived for a result file named ``name``."""
    return {"benchmark": report.get("benchmark") or name.removesuffix(".json"),
            "machine": report.get("machine"), "command": report.get("command"),
            "figures": DERIVE[name](report),
            **{k: v for k, v in report.items() if k not in HEAD}}


def main(argv: list[str]) -> int:
    from benchmarks._harness import write_report

    for arg in argv:
        path = Path(arg)
        report = with_figures(path.name, json.loads(path.read_text()))
        write_report(path, report)
        print(f"{path}: {len(report['figures'])} figures")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
