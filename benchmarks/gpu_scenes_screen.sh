#!/usr/bin/env bash
# Screen training recipes for the bundled scenes model: several runs side by side on one lent GPU for a
# fixed time, from a copy of the repo under /tmp (each device call lays the working tree anew), then export
# each as an fp16 pipeline with its discriminators. Score the exports here with benchmarks/scenes_quality.py.
#
#   bash benchmarks/gpu_scenes_screen.sh solo PHOTOS SECONDS         # one run of the first recipe alone: throughput
#   bash benchmarks/gpu_scenes_screen.sh start PHOTOS MINUTES [INIT]  # launch every recipe, return at once
#   bash benchmarks/gpu_scenes_screen.sh wait MINUTES                 # stay busy, then show each run's progress
#   bash benchmarks/gpu_scenes_screen.sh finish OUT                   # one tar per recipe (pipeline + D's, fp16) + logs
#   bash benchmarks/gpu_scenes_screen.sh bench                        # the recipe's step rate alone, eager, without and
#       with channels-last (train_throughput.py; BENCH overrides "--preset small --batch_size 32 --precision bf16")
# PHOTOS: a folder holding photos/ and photos_more/ (the held-out list's paths are relative to it).
# INIT: a folder of earlier exports (<name>/) to continue from with --init_from.
# RECIPES overrides the list below ("name:flags;name:flags"), EXTRA adds flags to every run (CPU smoke runs).
set -uo pipefail
runs=${RUNS:-/tmp/screen-runs}
work=/tmp/tcp-screen
base="--config configs/scenes256-small.json --report_to none --logging_steps 100 --max_train_steps 10000000"
RECIPES=${RECIPES:-"lpips_aug:;h8:--content_stride 8;h8c16:--content_stride 8 --content_channels 16;plain:--perceptual_weight 0 --diffaugment="}

launch() {  # name flags minutes photos init
  local name=$1 flags=$2 minutes=$3 photos=$4 init=$5 from=()
  [ -n "$init" ] && from=(--init_from "$init/$name")
  (cd "$work" && setsid nohup python3 train_accelerate.py $base --train_data_dir "$photos" \
    --output_dir "$runs/$name" --max_train_minutes "$minutes" "${from[@]}" $flags ${EXTRA:-} \
    > "$runs/$name.log" 2>&1 < /dev/null &)
}

cmd=$1; shift
if [ "$cmd" != wait ] && ! "${PYTHON:-python3}" -c "import diffusers" 2>/dev/null; then
  echo "$0 $cmd: diffusers is not importable here; run 'source benchmarks/gpu_setup.sh' first (same call)" >&2; exit 2
fi
case "$cmd" in
solo|start)
  photos=$(realpath "$1"); mkdir -p "$runs"; rm -rf "$work"; mkdir -p "$work"
  cp -r configs tcp_hub train_accelerate.py "$work"/
  if [ "$cmd" = solo ]; then
    seconds=$2; IFS=: read -r name flags <<< "${RECIPES%%;*}"
    launch "solo-$name" "$flags" "$(python3 -c "print($seconds / 60)")" "$photos" ""
    sleep "$seconds"; while pgrep -f "output_dir $runs/solo-" >/dev/null; do sleep 5; done
    tr '\r' '\n' < "$runs/solo-$name.log" | grep -a 'img_s=' | tail -n 4
  else
    IFS=';' read -ra list <<< "$RECIPES"
    for recipe in "${list[@]}"; do IFS=: read -r name flags <<< "$recipe"; launch "$name" "$flags" "$2" "$photos" "${3:-}"; done
    sleep 60; for f in "$runs"/*.log; do echo "$f: $(tr '\r' '\n' < "$f" | grep -a -v '^\s*$' | tail -n 2)"; done
  fi ;;
wait)
  end=$(( $(date +%s) + $(python3 -c "print(int(60 * $1))") ))
  while [ "$(date +%s)" -lt "$end" ] && pgrep -f "train_accelerate.py" >/dev/null; do sleep 20; done
  for f in "$runs"/*.log; do echo "$f: $(tr '\r' '\n' < "$f" | grep -a 'training:' | tail -n 1)"; done ;;
finish)
  out=$1
  while pgrep -f "train_accelerate.py" >/dev/null; do sleep 5; done
  for log in "$runs"/*.log; do
    name=$(basename "$log" .log); case "$name" in solo-*) cp "$log" "$out/"; continue;; esac
    dest="$runs/export/$name"; rm -rf "$dest"
    (cd "$work" && python3 -m tcp_hub.cli export --model "$runs/$name" -o "$dest" --dtype float16) \
      && python3 - "$runs/$name" "$dest" <<'PY'
import shutil, sys
from pathlib import Path
from safetensors.torch import load_file, save_file
run, dest = Path(sys.argv[1]), Path(sys.argv[2])
for part in ("discriminator", "patch_discriminator"):  # fp16 copies: they only seed the next run
    src = run / "discriminators" / part
    (dest / "discriminators" / part).mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "config.json", dest / "discriminators" / part / "config.json")
    weights = {k: v.half() for k, v in load_file(src / "diffusion_pytorch_model.safetensors").items()}
    save_file(weights, dest / "discriminators" / part / "diffusion_pytorch_model.safetensors")
for name in ("README.md", "training_args.json"):
    shutil.copy(run / name, dest / ("TRAINING_CARD.md" if name == "README.md" else name))
samples = sorted((run / "samples").glob("*.png"))
if samples:
    shutil.copy(samples[-1], dest / "samples-last.png")
PY
    cp "$log" "$dest/train.log"
    tar -cf "$out/$name.tar" -C "$runs/export" "$name"
  done
  ls -la "$out" ;;
bench)
  t="${PYTHON:-python3} benchmarks/train_throughput.py ${BENCH:---preset small --batch_size 32 --precision bf16} --ablation tcp
     --perceptual_weight 5 --diffaugment color,translation,cutout --steps ${STEPS:-32} --warmup 3"
  $t 2>&1 | grep -a -v '^\s*$' | grep -a -v 'it/s]$'
  echo "with --channels_last:"; $t --channels_last 2>&1 | grep -a '^| [a-z0-9]* | tcp' ;;
*) echo "usage: $0 solo PHOTOS SECONDS | start PHOTOS MINUTES [INIT] | wait MINUTES | finish OUT | bench" >&2; exit 2 ;;
esac
