#!/usr/bin/env bash
# Train the bundled tcp-scenes model (TCP) and its `--ablation swae` twin side by side on one GPU for a
# fixed time, then export the TCP model as fp16 and score both on the held-out photos (issue 5).
#
# The device machine goes back 30 s after a call returns, so training runs under setsid and later calls
# keep the machine busy while it runs. Carry the photos (../shared/data/photos) in an ignored folder.
#   bash benchmarks/gpu_train_scenes.sh start PHOTOS MINUTES     # launch both runs, return at once
#   bash benchmarks/gpu_train_scenes.sh wait MINUTES             # stay busy (<= 9 per call), show progress
#   bash benchmarks/gpu_train_scenes.sh finish PHOTOS OUT        # export + score; results and model to OUT
# EXTRA="--preset tiny --resolution 64 ..." overrides config values (a CPU smoke run uses it).
set -uo pipefail
runs=${RUNS:-/tmp/scenes-runs}
cmd=$1; shift
case "$cmd" in
start)
  photos=$1; minutes=$2; mkdir -p "$runs"
  for ablation in tcp swae; do
    setsid nohup python3 train_accelerate.py --config configs/scenes256-small.json --train_data_dir "$photos" \
      --output_dir "$runs/$ablation" --ablation "$ablation" --max_train_minutes "$minutes" \
      --max_train_steps 1000000 ${EXTRA:-} > "$runs/$ablation.log" 2>&1 < /dev/null &
  done
  sleep 5; tail -n 3 "$runs"/*.log ;;
wait)
  end=$(( $(date +%s) + 60 * $1 ))
  while [ "$(date +%s)" -lt "$end" ] && pgrep -f "train_accelerate.py --config configs/scenes256-small.json" >/dev/null; do
    sleep 30
  done
  for f in "$runs"/*.log; do echo "$f: $(tr '\r' '\n' < "$f" | grep -a 'training:' | tail -n 1)"; done ;;
finish)
  photos=$1; out=$2; held=$runs/heldout; rm -rf "$held"; mkdir -p "$held"
  grep -v '^#' configs/scenes256-holdout.txt | while read -r f; do [ -n "$f" ] && cp "$photos/$f" "$held/"; done
  python3 -m tcp_hub.cli export --model "$runs/tcp" -o "$runs/tcp-scenes" --dtype float16
  for ablation in tcp swae; do
    python3 benchmarks/scenes_quality.py --model "$runs/$ablation" --images "$held" \
      --json "$out/scenes_quality_$ablation.json" ${SCORE_EXTRA:-} 2>&1 | tail -n 25
  done
  tar -czf "$out/tcp-scenes.tar.gz" -C "$runs" tcp-scenes tcp/README.md tcp/samples 2>/dev/null
  ls -la "$out" ;;
*) echo "usage: $0 start PHOTOS MINUTES | wait MINUTES | finish PHOTOS OUT" >&2; exit 2 ;;
esac
