#!/usr/bin/env bash
# The whole inference measurement for one device call: eager table, then compiled headline settings.
# Usage on the GPU machine: bash benchmarks/gpu_inference.sh "$OUT"
set -uo pipefail
out=${1:-/tmp}
source benchmarks/gpu_setup.sh
python3 benchmarks/inference.py --device cuda --channels_last --iters 10 2>&1 | grep -v "kept in float32" | tee "$out/inference_eager.md"
python3 benchmarks/inference.py --device cuda --channels_last --compile --presets full --sizes 256 --batches 1 32 \
  --dtypes bf16 --iters 20 2>&1 | grep -v "kept in float32" | tee "$out/inference_compiled.md"
python3 benchmarks/inference.py --device cuda --channels_last --compile --compile_mode reduce-overhead --presets full \
  --sizes 256 --batches 1 32 --dtypes bf16 --iters 20 2>&1 | grep -v "kept in float32" | tee "$out/inference_cudagraphs.md"
