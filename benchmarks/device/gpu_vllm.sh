#!/usr/bin/env bash
# One prepared device run for a lent GPU (the `run` tool's machine): install the GPU vLLM build
# and the project into a fresh venv, then the hf GPU bench and the vllm GPU bench, each under its
# own time limit, their JSON copied to $OUT (benchmarks/results/ keeps them). Fits in 8 minutes
# on an H100/H200 when the package index answers: vLLM's wheel and its CUDA torch are ~3 GB.
#
#   run: bash benchmarks/device/gpu_vllm.sh        (timeout_s 540)
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
python3 -m venv /tmp/venv-gpu && . /tmp/venv-gpu/bin/activate
t0=$(date +%s)
pip install -q "vllm>=0.32,<0.33" > "$OUT/pip.log" 2>&1 || { echo "pip failed"; tail -20 "$OUT/pip.log"; exit 1; }
pip install -q -e . --no-deps >> "$OUT/pip.log" 2>&1
pip install -q pyyaml openai anthropic filelock pandas pytest pytest-html gguf safetensors \
  accelerate >> "$OUT/pip.log" 2>&1
echo "install: $(( $(date +%s) - t0 )) s" | tee "$OUT/times.txt"
python -c "import torch, vllm; print(torch.__version__, torch.cuda.get_device_name(0), vllm.__version__)" \
  | tee -a "$OUT/times.txt"
t1=$(date +%s)
timeout 200 python -m benchmarks.gpu_vllm --out "$OUT/gpu-vllm-bench.json" 2>&1 | tail -30
echo "gpu_vllm: $(( $(date +%s) - t1 )) s" | tee -a "$OUT/times.txt"
t2=$(date +%s)
timeout 150 python -m benchmarks.gpu --only sweep --only parity --out "$OUT/gpu-bench.json" 2>&1 | tail -20
echo "gpu (hf): $(( $(date +%s) - t2 )) s" | tee -a "$OUT/times.txt"
