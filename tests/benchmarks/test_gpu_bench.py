"""The GPU bench: the Qwen2.5-7B shape from its config, and `--tiny` end to end on CPU.

Timing figures are reported by the bench, never asserted; correctness figures (coeff 0
bit-identical, the OOM back-off) are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from benchmarks.gpu import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_config_is_the_qwen2_5_7b_shape() -> None:
    from transformers import AutoModelForCausalLM

    config = load_config(tiny=False)
    assert (config.num_hidden_layers, config.hidden_size, config.intermediate_size) == \
        (28, 3584, 18944)
    assert (config.num_attention_heads, config.num_key_value_heads) == (28, 4)
    assert config.vocab_size == 152064 and not config.tie_word_embeddings
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    n = sum(p.numel() for p in model.parameters())
    assert n == 7_615_616_512  # Qwen2.5-7B-Instruct's published parameter count


def test_tiny_bench_runs_on_cpu_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "gpu-bench.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--tiny", "--device", "cpu",
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    machine = report["machine"]
    assert machine["device"] == "cpu" and machine["device_name"].startswith("CPU")
    assert machine["torch"] == torch.__version__ and machine["transformers"]
    assert report["model"]["dtype"] == "bfloat16"
    figures = {f["name"]: f for f in report["figures"]}
    for name in ("hook_ratio_all", "hook_ratio_response", "sweep_speedup", "extraction_speedup",
                 "oom_backoff", "coeff0_bit_identical", "per_row_vs_scalar_greedy_rows",
                 "steered_logits_rel_l2_vs_fp32"):
        assert name in figures, name
        assert figures[name]["what"] and figures[name]["peak_gpu_mib"] == "n/a (CPU run)"
    for name in ("hook_ratio_all", "sweep_speedup", "extraction_speedup"):
        assert figures[name]["value"] > 0
    assert figures["coeff0_bit_identical"]["value"] is True
    oom = report["details"]["oom_backoff"]
    assert figures["oom_backoff"]["value"] == "worked" and oom["simulated"] is True
    outcomes = [a["outcome"] for a in oom["attempts"]]
    assert outcomes[0].startswith("OutOfMemoryError") and outcomes[-1] == "ok"
    assert oom["generated_tokens"] == 8 * 8  # every row done after the back-off
    ok, total = figures["per_row_vs_scalar_greedy_rows"]["value"].split("/")
    assert 0 <= int(ok) <= int(total) == 20
    assert 0 <= figures["steered_logits_rel_l2_vs_fp32"]["value"] < 0.1
    # the controls that tell a steering bug from rounding: on CPU every one matches in full
    for name in ("per_row_vs_scalar_greedy_rows_fp32", "repeat_greedy_rows",
                 "batch_shape_control_rows"):
        assert figures[name]["value"] == "20/20", (name, figures[name]["value"])
    assert figures["top1_top2_logit_gap_median"]["value"] >= 0
    assert report["complete"] is True
    extraction = report["details"]["extraction"]
    assert extraction["tokens_prompt_plus_response"] > extraction["response_tokens_min_median_max"][2]
    assert "sweep_speedup" in proc.stdout and "peak GPU MiB" in proc.stdout
