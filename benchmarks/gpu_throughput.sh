#!/usr/bin/env bash
# Training throughput of the full model on a GPU (benchmarks/train_throughput.py), in the background:
# compiling the full model takes minutes, longer than is safe for one call on a lent machine.
#   source benchmarks/gpu_setup.sh && bash benchmarks/gpu_throughput.sh start   # returns at once
#   bash benchmarks/gpu_throughput.sh poll MINUTES    # wait up to MINUTES (<= 9), print the log so far
#       (and the warm-up logs' first and last lines; with $OUT set, copies all logs there)
#   bash benchmarks/gpu_throughput.sh profile         # instead of start: kernel profiles of compiled swae and tcp
#   bash benchmarks/gpu_throughput.sh warm            # only fill Inductor's cache (no timing worth reading),
#       e.g. while the GPU trains something else: compiling is CPU work, and `start` then reuses the cache
# `start` measures, one after another: compiled bf16 channels-last swae and tcp (an R1 step against the others
# too, --step_times), then the same eager. Log: /tmp/throughput.log.
set -uo pipefail
log=/tmp/throughput.log
run_bg() {  # run_bg LOG COMMANDS: in a new session (it outlives this call), output to LOG
  setsid nohup bash -c "$2" > "$1" 2>&1 < /dev/null &
  sleep 2; cat "$1"
}
warm_then_time() {  # warm_then_time RUNS: one line of train_throughput.py arguments per run. All compile at
  # once first (CPU work that fills Inductor's cache; logs /tmp/throughput-warm-N.log), then each is timed
  # alone: 20 warm-up steps (R1 and code-consistency steps run twice, so CUDA graphs are recorded), 32 timed
  local t=benchmarks/train_throughput.py warm="" timed="" i=0 line
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    i=$((i + 1))
    warm+="python3 $t ${line//--profile/} --steps 1 --warmup 3 --no-phases > /tmp/throughput-warm-$i.log 2>&1 &
"
    timed+="python3 $t $line --steps 32 --warmup 20
"
  done <<< "$1"
  run_bg "$log" "${warm}wait; echo WARM DONE
${timed}echo ALL DONE"
}
c="--precision bf16 --channels_last --compile"
case "${1:-}" in
start)
  warm_then_time "$c --ablation swae --step_times
$c --ablation tcp --step_times
--precision bf16 --channels_last --ablation swae tcp" ;;
profile)  # where the GPU time goes: kernel kinds, top kernels, and the ops that launched the costliest
  # eager kernels and copies
  warm_then_time "$c --ablation swae --profile
$c --ablation tcp --profile" ;;
warm)
  run_bg /tmp/throughput-warm.log "
    python3 benchmarks/train_throughput.py $c --ablation swae tcp --steps 1 --warmup 3 --no-phases
    echo WARM DONE" ;;
poll)
  end=$(( $(date +%s) + 60 * ${2:-1} ))
  while [ "$(date +%s)" -lt "$end" ] && ! grep -q "ALL DONE" "$log"; do sleep 15; done
  grep -v "Warning\|warn(" "$log"
  for f in /tmp/throughput-warm*.log; do  # the parallel compilations: last lines (errors show here)
    [ -f "$f" ] && { echo "== $f"; head -n 1 "$f"; tail -n 3 "$f"; }
  done
  if [ -n "${OUT:-}" ]; then cp /tmp/throughput*.log "$OUT"/; fi ;;  # whole logs back (device tool)
*) echo "usage: $0 start | profile | warm | poll MINUTES" >&2; exit 2 ;;
esac
