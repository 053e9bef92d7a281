#!/usr/bin/env bash
# Train the bundled tcp-scenes model (TCP) and its `--ablation swae` twin side by side on one GPU for a
# fixed time, then export both as fp16 pipelines (issue 5); score them with benchmarks/scenes_quality.py.
#
# The device machine goes back 30 s after a call returns, so training runs under setsid and later calls
# keep the machine busy while it runs. Carry the photos (../shared/data/photos) in an ignored folder.
#   bash benchmarks/gpu_train_scenes.sh start PHOTOS MINUTES [INIT]  # launch both runs, return at once;
#       INIT: a folder holding tcp-scenes/ and swae-scenes/ (an earlier `finish`) to continue from (--init_from)
#   bash benchmarks/gpu_train_scenes.sh wait MINUTES             # stay busy (whole minutes, <= 9 a call), show progress
#   bash benchmarks/gpu_train_scenes.sh finish OUT               # export both as fp16, pack them into OUT
# EXTRA="--preset tiny --resolution 64 ..." overrides config values (a CPU smoke run uses it).
set -uo pipefail
runs=${RUNS:-/tmp/scenes-runs}
cmd=$1; shift
case "$cmd" in
start)
  photos=$1; minutes=$2; init=${3:-}; mkdir -p "$runs"
  for ablation in tcp swae; do
    from=(); [ -n "$init" ] && from=(--init_from "$init/$ablation-scenes")
    setsid nohup python3 train_accelerate.py --config configs/scenes256-small.json --train_data_dir "$photos" \
      --output_dir "$runs/$ablation" --ablation "$ablation" --max_train_minutes "$minutes" \
      --max_train_steps 1000000 "${from[@]}" ${EXTRA:-} > "$runs/$ablation.log" 2>&1 < /dev/null &
  done
  sleep 5; tail -n 3 "$runs"/*.log ;;
wait)
  end=$(( $(date +%s) + 60 * $1 ))
  while [ "$(date +%s)" -lt "$end" ] && pgrep -f "train_accelerate.py --config configs/scenes256-small.json" >/dev/null; do
    sleep 30
  done
  for f in "$runs"/*.log; do echo "$f: $(tr '\r' '\n' < "$f" | grep -a 'training:' | tail -n 1)"; done ;;
finish)
  # Exports both models as fp16 pipelines into OUT, one file each (OUT returns files of <= 16 MiB), with
  # each run's discriminators, training card, last sample grid and log (8 files, OUT's limit). Score them
  # where the FID Inception weights are installed (their 87 MB file does not travel):
  #   python benchmarks/scenes_quality.py --model MODEL --images HELDOUT --json q.json
  out=$1
  for ablation in tcp swae; do
    python3 -m tcp_hub.cli export --model "$runs/$ablation" -o "$runs/export/$ablation-scenes" --dtype float16
    cp "$runs/$ablation/README.md" "$runs/export/$ablation-scenes/TRAINING_CARD.md"
    tar -cf "$out/$ablation-scenes.tar" -C "$runs/export" "$ablation-scenes"
    # the trained discriminators (fp32, ~13 MB for `small`) in their own file: untarred beside the
    # export they let the next `start ... INIT` continue with them instead of fresh ones
    tar -cf "$out/$ablation-discriminators.tar" -C "$runs" --transform "s,^$ablation/,$ablation-scenes/," \
      "$ablation/discriminators"
    last=$(ls "$runs/$ablation/samples" 2>/dev/null | sort | tail -n 1)
    [ -n "$last" ] && cp "$runs/$ablation/samples/$last" "$out/$ablation-samples-last.png"
    cp "$runs/$ablation.log" "$out/"
  done
  ls -la "$out" ;;
*) echo "usage: $0 start PHOTOS MINUTES | wait MINUTES | finish OUT" >&2; exit 2 ;;
esac
