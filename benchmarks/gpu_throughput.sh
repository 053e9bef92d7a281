#!/usr/bin/env bash
# Issue 3's measurements on a lent GPU, in the background: compiling the full model takes over 5 minutes
# there, longer than is safe for one call, and the machine goes back 30 s after a call returns.
#   source benchmarks/gpu_setup.sh && bash benchmarks/gpu_throughput.sh start   # returns at once
#   bash benchmarks/gpu_throughput.sh poll MINUTES    # stay busy up to MINUTES (<= 9), print the log so far
#       (and the warm-up logs' first and last lines; with $OUT set, copies all logs there)
#   bash benchmarks/gpu_throughput.sh profile         # instead of start: kernel profiles of compiled swae and tcp,
#       with the ops that launched the costliest eager kernels and copies
#   bash benchmarks/gpu_throughput.sh modes           # instead of start: compiled swae and tcp, default mode vs
#       CUDA graphs (--compile_mode reduce-overhead)
#   bash benchmarks/gpu_throughput.sh host            # instead of start: where the host (CPU) time goes: profiles
#       of compiled swae and tcp (host vs device ms per phase, top CPU ops), tcp with masks drawn in the training
#       process (--mask_workers 0), swae with CUDA graphs and with Inductor's C++ wrapper
#   bash benchmarks/gpu_throughput.sh r1              # instead of start: after swae and tcp compile, the eager R1
#       pass with and without the R1 convolutions (benchmarks/r1_step_variants.py), then compiled swae and tcp with
#       --step_times (an R1 step against the others), swae's R1-step profile, then compiled fp32 swae and tcp
#       (TF32 convolutions): issue 3's whole measurement
#   bash benchmarks/gpu_throughput.sh blur            # instead of start: the eager blur as matrix products against
#       the slice blur (R1 pass, blur alone), then compiled bf16 swae and tcp with --step_times
#   bash benchmarks/gpu_throughput.sh fp32            # instead of start: compiled fp32 swae and tcp, and the
#       kernel profile of compiled bf16 swae
#   (profile, modes, fp32: all their compilations run at once first, then each run is timed alone; warm_then_time)
#   bash benchmarks/gpu_throughput.sh calibrate       # instead of start: session 4's H100 profile command on the
#       code it ran (commit 6c08e26, unpacked into .calib/ and carried), then today's `profile` of compiled swae:
#       kernel time per kind on this card against the H100's for the same code
#       (mkdir .calib && git archive 6c08e26 | tar -x -C .calib; .calib is git-ignored)
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
  warm_then_time "$c --ablation swae --profile
$c --ablation tcp --profile" ;;
calibrate)  # session 4, machine C (H100 80GB HBM3): 5.32 it/s, GPU kernels 141.1 ms per iteration, this command
  old="cd .calib && PYTHONPATH=/tmp/site:\$PWD python3 benchmarks/train_throughput.py --precision bf16 --channels_last --ablation swae --compile"
  new="python3 benchmarks/train_throughput.py --precision bf16 --channels_last --compile --ablation swae"
  run_bg "$log" "($old --steps 1 --warmup 3 --no-phases > /tmp/throughput-warm-1.log 2>&1) &
$new --steps 1 --warmup 3 --no-phases > /tmp/throughput-warm-2.log 2>&1 &
wait; echo WARM DONE
($old --steps 16 --warmup 2 --profile)
$new --steps 32 --warmup 20 --profile
echo ALL DONE" ;;
modes)
  c="--precision bf16 --channels_last --compile"
  warm_then_time "$c --ablation swae --compile_mode default
$c --ablation swae --compile_mode reduce-overhead
$c --ablation tcp --compile_mode default
$c --ablation tcp --compile_mode reduce-overhead" ;;
host)
  c="--precision bf16 --channels_last --compile"
  warm_then_time "$c --ablation swae --profile
$c --ablation tcp --profile
$c --ablation tcp --mask_workers 0
$c --ablation swae --compile_mode reduce-overhead
$c --ablation swae --cpp_wrapper" ;;
r1)
  c="--precision bf16 --channels_last --compile" f="--precision fp32 --channels_last --compile"
  run_bg "$log" "python3 benchmarks/train_throughput.py $c --ablation swae --steps 1 --warmup 3 --no-phases > /tmp/throughput-warm-1.log 2>&1 &
python3 benchmarks/train_throughput.py $c --ablation tcp --steps 1 --warmup 3 --no-phases > /tmp/throughput-warm-2.log 2>&1 &
python3 benchmarks/train_throughput.py $f --ablation swae --steps 1 --warmup 3 --no-phases > /tmp/throughput-warm-3.log 2>&1 &
python3 benchmarks/train_throughput.py $f --ablation tcp --steps 1 --warmup 3 --no-phases > /tmp/throughput-warm-4.log 2>&1 &
wait; echo WARM DONE
python3 benchmarks/r1_step_variants.py
python3 benchmarks/train_throughput.py $c --ablation swae --steps 32 --warmup 20 --step_times
python3 benchmarks/train_throughput.py $c --ablation tcp --steps 32 --warmup 20 --step_times
python3 benchmarks/train_throughput.py $c --ablation swae --steps 16 --warmup 18 --step_times --profile
python3 benchmarks/train_throughput.py $f --ablation swae --steps 32 --warmup 20
python3 benchmarks/train_throughput.py $f --ablation tcp --steps 32 --warmup 20
echo ALL DONE" ;;
blur)  # the eager blur as banded matrix products: its R1 pass and the blur alone against the slice blur, then
  # compiled bf16 swae and tcp with --step_times (the R1 step's blur is eager)
  c="--precision bf16 --channels_last --compile"
  run_bg "$log" "python3 benchmarks/train_throughput.py $c --ablation swae --steps 1 --warmup 3 --no-phases > /tmp/throughput-warm-1.log 2>&1 &
python3 benchmarks/train_throughput.py $c --ablation tcp --steps 1 --warmup 3 --no-phases > /tmp/throughput-warm-2.log 2>&1 &
wait; echo WARM DONE
python3 benchmarks/r1_step_variants.py --skip crop depthwise
python3 benchmarks/blur_variants.py --repeats 5
python3 benchmarks/train_throughput.py $c --ablation swae --steps 32 --warmup 20 --step_times
python3 benchmarks/train_throughput.py $c --ablation tcp --steps 32 --warmup 20 --step_times
echo ALL DONE" ;;
fp32)  # fp32 compiled (swae, tcp; TF32 convolutions) and the kernel profile of compiled bf16 swae
  c="--channels_last --compile"
  warm_then_time "$c --precision bf16 --ablation swae --profile
$c --precision fp32 --ablation swae
$c --precision fp32 --ablation tcp" ;;
warm)
  run_bg /tmp/throughput-warm.log "
    python3 benchmarks/train_throughput.py --precision bf16 --ablation swae tcp --channels_last --compile --steps 1 --warmup 3 --no-phases
    echo WARM DONE" ;;
poll)
  end=$(( $(date +%s) + 60 * ${2:-1} ))
  while [ "$(date +%s)" -lt "$end" ] && ! grep -q "ALL DONE" "$log"; do sleep 15; done
  grep -v "Warning\|warn(" "$log"
  for f in /tmp/throughput-warm*.log; do  # the parallel compilations: last lines (errors show here)
    [ -f "$f" ] && { echo "== $f"; head -n 1 "$f"; tail -n 3 "$f"; }
  done
  if [ -n "${OUT:-}" ]; then cp /tmp/throughput*.log "$OUT"/; fi ;;  # whole logs back (device tool)
*) echo "usage: $0 start | profile | modes | host | r1 | blur | fp32 | calibrate | warm | poll MINUTES" >&2; exit 2 ;;
esac
