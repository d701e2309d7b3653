"""How far sampled texts depend on batch size and torch's thread count (same seeds, same rows).

    python -m benchmarks.sampled_stability [--rows 100] [--tokens 64] [--out FILE]

Each configuration runs in its own process (torch's thread count is fixed per process): the
demo's sycophantic contrastive prompts (5 positive system prompts x 20 extraction questions),
temperature 1, per-row seeds, on the embedded SmolLM2-135M in float32. Every text is compared
with the reference configuration's (two threads, batch 50): the count of identical texts, and
of those that share their first 16 words, is the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    Figure,
    command_line,
    figure,
    logger,
    machine_info,
    offline,
    report,
    write_report,
)

REFERENCE = (2, 50)
CONFIGS = ((2, 50), (1, 50), (2, 25), (2, 100))
_log = logger("sampled_stability")


def _wait_for_peers(barrier: Path | None, peers: int, me: str) -> None:
    """Start generating only when every process of the configuration has loaded its model."""
    if barrier is None:
        return
    (barrier / f"{me}.ready").write_text("")
    deadline = time.monotonic() + 600
    while len(list(barrier.glob("*.ready"))) < peers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{peers} processes never all loaded their models")
        time.sleep(0.05)


def _child(threads: int, batch: int, rows: int, tokens: int, out: Path,
           barrier: Path | None = None, peers: int = 1) -> None:
    import torch

    from pytest_persona.core.generation import GenerationConfig, generate
    from pytest_persona.models.loading import load_model
    from pytest_persona.traits.loader import load_trait

    torch.set_num_threads(threads)
    loaded = load_model("smollm2-135m", device="cpu", dtype="float32")
    trait = load_trait("sycophantic")
    questions = list(trait.extract_questions)[:20]
    items = [[{"role": "system", "content": trait.system_prompt("pos", i % 5)},
              {"role": "user", "content": questions[(i // 5) % len(questions)]}]
             for i in range(rows)]
    cfg = GenerationConfig(max_new_tokens=tokens, temperature=1.0, top_p=1.0, seed=0,
                           batch_size=batch)
    _wait_for_peers(barrier, peers, out.stem)
    start, t0 = time.time(), time.perf_counter()
    texts = generate(loaded.model, loaded.tokenizer, items, cfg)
    out.write_text(json.dumps({"texts": texts, "wall_s": time.perf_counter() - t0,
                               "start": start, "end": time.time()}))


def _run(threads: int, batch: int, rows: int, tokens: int, tmp: Path) -> dict[str, Any]:
    out = tmp / f"t{threads}-b{batch}.json"
    _log(f"{rows} rows x {tokens} tokens, {threads} thread(s), batch {batch}")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run([sys.executable, "-m", "benchmarks.sampled_stability", "--child",
                    f"{threads},{batch}", "--rows", str(rows), "--tokens", str(tokens),
                    "--out", str(out)], check=True, env=env)
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _prefix(text: str) -> str:
    return " ".join(text.split()[:16])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--out", default="reports/sampled-text-stability.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--barrier", help=argparse.SUPPRESS)
    parser.add_argument("--peers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    offline()
    if args.child:
        threads, batch = (int(x) for x in args.child.split(","))
        _child(threads, batch, args.rows, args.tokens, Path(args.out),
               Path(args.barrier) if args.barrier else None, args.peers)
        return 0
    start = machine_info(model="smollm2-135m", dtype="float32")
    with tempfile.TemporaryDirectory() as tmp:
        runs = {c: _run(*c, args.rows, args.tokens, Path(tmp)) for c in CONFIGS}
    ref = runs[REFERENCE]["texts"]
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    for (threads, batch), run in runs.items():
        name = f"{threads}_threads_batch_{batch}"
        same = sum(a == b for a, b in zip(run["texts"], ref))
        close = sum(_prefix(a) == _prefix(b) for a, b in zip(run["texts"], ref))
        details[name] = {"identical": same, "same_first_16_words": close,
                         "rows": args.rows, "wall_s": round(run["wall_s"], 2)}
        if (threads, batch) != REFERENCE:
            figures.append(figure(
                f"identical texts, {threads} thread(s), batch {batch}", same, f"of {args.rows}",
                f"{args.rows} sampled rows x {args.tokens} tokens against 2 threads, batch 50 "
                f"(same seeds); {close} share their first 16 words", step="stability"))
    doc = report("sampled_stability", command_line("benchmarks.sampled_stability", argv),
                 figures, start, procedure=("one process per configuration, torch.set_num_threads and "
                            "OMP_NUM_THREADS set; the demo's sycophantic contrastive prompts, "
                            "temperature 1, per-row seeds, SmolLM2-135M float32; texts "
                            "compared with the 2-thread batch-50 run"),
                 details=details)
    write_report(Path(args.out), doc)
    for f in figures:
        print(f"{f['name']}: {f['value']} {f['unit']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
