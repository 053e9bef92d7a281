#!/usr/bin/env bash
# The whole inference measurement for one device call: eager table, then compiled headline settings.
# Usage on the GPU machine: bash benchmarks/gpu_inference.sh "$OUT"
set -uo pipefail
out=${1:-/tmp}
source benchmarks/gpu_setup.sh
filter() { grep -v -e "kept in float32" -e "TypedStorage" -e "out_base.storage"; }
timeout 150 python3 benchmarks/inference.py --device cuda --channels_last --iters 10 --dtypes bf16 fp16 fp32 2>&1 | filter | tee "$out/inference_eager.md"
timeout 120 python3 benchmarks/inference.py --device cuda --channels_last --compile --presets full --sizes 256 --batches 32 1 \
  --dtypes bf16 --iters 20 2>&1 | filter | tee "$out/inference_compiled.md"
timeout 120 python3 benchmarks/inference.py --device cuda --channels_last --compile --compile_mode reduce-overhead --presets full \
  --sizes 256 --batches 1 32 --dtypes bf16 --iters 20 2>&1 | filter | tee "$out/inference_cudagraphs.md"
