"""How well the offline judge separates a custom trait once it has anchors (issue 25 item 18).

The trait is ``pedantic``, which the judge does not ship. Its anchors
(``data/offline_anchors/pedantic.anchors.yaml``, 12 high and 12 low) and a held-out labelled
set (``pedantic.labels.jsonl``: 20 questions, each with one pedantic answer, label 1, and one
plain answer on the same topic, label 0) were written for this project; no labelled text is
an anchor. The judge is fitted on the anchors and scores every labelled answer; the figure is
the AUC with its stratified bootstrap interval (``judges.agreement.measure``). The same is
measured with only the first four anchors of each side (the docs' inline example).

    python -m benchmarks.offline_anchors [--out benchmarks/results/offline_anchors.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchmarks import _harness as harness  # before torch: sets the OpenMP wait policy

DATA = Path(__file__).resolve().parent / "data" / "offline_anchors"
ANCHORS = DATA / "pedantic.anchors.yaml"
LABELS = DATA / "pedantic.labels.jsonl"
OUT = Path(__file__).resolve().parent / "results" / "offline_anchors.json"
PROMPT = 'How "pedantic" is this answer?\n{question}\n{answer}'
FEW = 4  # anchors per side in the docs' inline example


def measure_anchors(per_side: int | None = None) -> dict[str, Any]:
    """AUC of the offline judge on the labelled set, fitted on the anchors (the first
    ``per_side`` of each side, or all)."""
    from pytest_persona.judges.agreement import load_labels, measure
    from pytest_persona.judges.offline import OfflineJudge
    from pytest_persona.suites.schema import read_anchors_file

    anchors = read_anchors_file(ANCHORS)
    judge = OfflineJudge()
    judge.register_anchors("pedantic", anchors["high"][:per_side], anchors["low"][:per_side])
    result = measure(judge, load_labels(LABELS), PROMPT, "pedantic")
    return {
        **result.to_dict(),
        "source": _shown(LABELS),
        "judge": judge.identity("pedantic"),
        "anchors_per_side": per_side or len(anchors["high"]),
    }


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it."""
    return str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    harness.offline()
    machine = harness.machine_info()
    started = time.perf_counter()
    runs = {"all": measure_anchors(), "few": measure_anchors(FEW)}
    figures = []
    for name, run in runs.items():
        figures.append(
            harness.figure(
                f"auc_pedantic_{run['anchors_per_side']}_anchors",
                harness.rounded(run["value"], 4),
                what=f"offline judge, custom trait 'pedantic' fitted on {run['anchors_per_side']} "
                f"high + {run['anchors_per_side']} low anchors, on the held-out labelled set "
                f"(n={run['n']}, {run['n_positive']} positive; 95% CI "
                f"{run['ci_low']:.3f} to {run['ci_high']:.3f})",
                step=name,
            )
        )
    report = harness.report(
        "offline_anchors",
        harness.command_line("benchmarks.offline_anchors", argv),
        figures,
        machine,
        wall_s=round(time.perf_counter() - started, 1),
        anchors=_shown(ANCHORS),
        labels=_shown(LABELS),
        runs=runs,
    )
    harness.write_report(args.out, report)
    print(harness.format_table(figures))
    return report


if __name__ == "__main__":
    main()
