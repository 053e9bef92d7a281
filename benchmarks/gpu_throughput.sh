#!/usr/bin/env bash
# Issue 3's measurements on a lent GPU, in the background: compiling the full model takes over 5 minutes
# there, longer than is safe for one call, and the machine goes back 30 s after a call returns.
#   source benchmarks/gpu_setup.sh && bash benchmarks/gpu_throughput.sh start   # returns at once
#   bash benchmarks/gpu_throughput.sh poll MINUTES    # stay busy up to MINUTES (<= 9), print the log so far
#       (and the warm-up logs' last lines; with $OUT set, copies all logs there)
#   bash benchmarks/gpu_throughput.sh profile         # instead of start: kernel profiles of compiled swae and tcp,
#       with the ops that launched the costliest eager kernels and copies
#   bash benchmarks/gpu_throughput.sh modes           # instead of start: compiled swae and tcp, default mode vs
#       CUDA graphs (--compile_mode reduce-overhead). The four compilations run at once first (CPU work; they
#       fill Inductor's cache), then each is timed alone: 20 warm-up steps, so that R1 and code consistency
#       steps have run twice (CUDA graphs are recorded on a graph's second run), then 32 timed steps
#   bash benchmarks/gpu_throughput.sh fp32            # instead of start: compiled fp32 swae and tcp, and the
#       kernel profile of compiled bf16 swae (the three compilations at once first, as in modes)
#   bash benchmarks/gpu_throughput.sh warm            # only fill Inductor's cache (no timing worth reading),
#       e.g. while the GPU trains something else: compiling is CPU work, and `start` then reuses the cache
# Runs, one after another: compiled (bf16, channels-last, swae and tcp; after `warm` it reuses the cache),
# the same eager, then the blur variants. Log: /tmp/throughput.log.
set -uo pipefail
log=/tmp/throughput.log
run_bg() {  # run_bg LOG COMMANDS: in a new session (it outlives this call), output to LOG
  setsid nohup bash -c "$2" > "$1" 2>&1 < /dev/null &
  sleep 2; cat "$1"
}
case "${1:-}" in
start)
  run_bg "$log" "
    python3 benchmarks/train_throughput.py --precision bf16 --ablation swae tcp --channels_last --compile --steps 32 --warmup 3
    python3 benchmarks/train_throughput.py --precision bf16 --ablation swae tcp --channels_last --steps 32 --warmup 3
    python3 benchmarks/blur_variants.py
    echo ALL DONE" ;;
profile)  # where the GPU time goes, compiled swae and tcp: kernel kinds, top kernels, and the ops that
  # launched the costliest eager kernels and copies (after `modes` on the same machine the cache is warm)
  c="--precision bf16 --channels_last --compile"
  run_bg "$log" "
    for a in swae tcp; do
      python3 benchmarks/train_throughput.py $c --ablation \$a --steps 1 --warmup 3 --no-phases \
        > /tmp/throughput-warm-\$a-default.log 2>&1 &
    done
    wait; echo WARM DONE
    for a in swae tcp; do
      python3 benchmarks/train_throughput.py $c --ablation \$a --steps 32 --warmup 20 --profile
    done
    echo ALL DONE" ;;
modes)
  common="--precision bf16 --channels_last --compile"
  run_bg "$log" "
    for a in swae tcp; do for m in default reduce-overhead; do
      python3 benchmarks/train_throughput.py $common --ablation \$a --compile_mode \$m --steps 1 --warmup 3 \
        --no-phases > /tmp/throughput-warm-\$a-\$m.log 2>&1 &
    done; done
    wait; echo WARM DONE
    for a in swae tcp; do for m in default reduce-overhead; do
      python3 benchmarks/train_throughput.py $common --ablation \$a --compile_mode \$m --steps 32 --warmup 20
    done; done
    echo ALL DONE" ;;
fp32)  # fp32 compiled (swae, tcp; TF32 convolutions) and the kernel profile of compiled bf16 swae
  t=benchmarks/train_throughput.py; c="--channels_last --compile"
  run_bg "$log" "
    python3 $t $c --precision bf16 --ablation swae --steps 1 --warmup 3 --no-phases > /tmp/throughput-warm-bf16.log 2>&1 &
    for a in swae tcp; do
      python3 $t $c --precision fp32 --ablation \$a --steps 1 --warmup 3 --no-phases > /tmp/throughput-warm-fp32-\$a.log 2>&1 &
    done
    wait; echo WARM DONE
    python3 $t $c --precision bf16 --ablation swae --steps 32 --warmup 20 --profile
    python3 $t $c --precision fp32 --ablation swae tcp --steps 32 --warmup 20
    echo ALL DONE" ;;
warm)
  run_bg /tmp/throughput-warm.log "
    python3 benchmarks/train_throughput.py --precision bf16 --ablation swae tcp --channels_last --compile --steps 1 --warmup 3 --no-phases
    echo WARM DONE" ;;
poll)
  end=$(( $(date +%s) + 60 * ${2:-1} ))
  while [ "$(date +%s)" -lt "$end" ] && ! grep -q "ALL DONE" "$log"; do sleep 15; done
  grep -v "Warning\|warn(" "$log"
  for f in /tmp/throughput-warm*.log; do  # the parallel compilations: last lines (errors show here)
    [ -f "$f" ] && { echo "== $f"; tail -n 3 "$f"; }
  done
  if [ -n "${OUT:-}" ]; then cp /tmp/throughput*.log "$OUT"/; fi ;;  # whole logs back (device tool)
*) echo "usage: $0 start | profile | modes | fp32 | warm | poll MINUTES" >&2; exit 2 ;;
esac
