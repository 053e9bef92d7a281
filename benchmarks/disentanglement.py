"""TCP vs the Swapping Autoencoder on procedural scenes with exact answers.

Trains one model per method and seed with ``train_accelerate.py`` (same data, budget, sizes and
seeds; only ``--ablation`` differs), scores each with `tcp_hub.evaluation.evaluate_model` on the
same held-out pairs, and prints one table of mean ± std over seeds, also written as markdown.

    python benchmarks/disentanglement.py --output_dir runs/disentanglement --preset small --resolution 64 \\
        --train_batch_size 16 --max_train_steps 20000 --seeds 0 1 2 --mixed_precision bf16 --results results.md
    python benchmarks/disentanglement.py --launcher "accelerate launch --multi_gpu --num_processes 4" ...
    python benchmarks/disentanglement.py --skip_training --model_dirs tcp=runs/tcp-0,runs/tcp-1 swae=runs/swae-0 ...
    python benchmarks/disentanglement.py --smoke --output_dir /tmp/smoke       # a tiny CPU run of the whole thing

Per-model numbers go to the results file's ``.json`` sibling.
"""

import argparse
import json
import math
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import torch

from tcp_hub.evaluation import evaluate_model
from tcp_hub.pipeline import load_pipeline

TRAIN_SCRIPT = Path(__file__).resolve().parents[1] / "train_accelerate.py"
METHODS = ("tcp", "swae")
SMOKE = dict(preset="tiny", resolution=32, train_batch_size=2, max_train_steps=1, seeds=[0], n_pairs=4,
             synthetic_length=16, train_args="--report_to none --sample_steps 0", device="cpu")

# (key of evaluate_model's result, label, better direction)
ROWS = [
    ("reconstruction_psnr", "reconstruction PSNR (dB)", "↑"),
    ("swap_psnr", "swap PSNR vs exact swap (dB)", "↑"),
    ("swap_l1", "swap L1 vs exact swap", "↓"),
    ("content_leakage", "content leakage (0 none, 1 all of B's layout)", "↓"),
    ("style_leakage", "style leakage (0 none, 1 all of A's colours)", "↓"),
    ("content_code_distance", "code consistency: content, 1 - cos", "↓"),
    ("style_code_distance", "code consistency: style, 1 - cos", "↓"),
    ("edit_psnr", "region edit in G: PSNR vs exact edit (dB)", "↑"),
    ("edit_inside_error", "region edit in G: error inside mask", "↓"),
    ("edit_band_error", "region edit in G: error in seam band", "↓"),
    ("edit_outside_change", "region edit in G: change outside mask", "↓"),
    ("composite_psnr", "pixel compositing: PSNR vs exact edit (dB)", "↑"),
    ("composite_inside_error", "pixel compositing: error inside mask", "↓"),
    ("composite_band_error", "pixel compositing: error in seam band", "↓"),
    ("composite_outside_change", "pixel compositing: change outside mask", "↓"),
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--output_dir", default="runs/disentanglement", help="models go to <output_dir>/<method>-seed<k>")
    p.add_argument("--results", default=None, help="markdown table path (default: <output_dir>/results.md)")
    p.add_argument("--preset", default="small", choices=("full", "small", "tiny"))
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--train_batch_size", type=int, default=16)
    p.add_argument("--max_train_steps", type=int, default=20000)
    p.add_argument("--synthetic_length", type=int, default=100_000, help="training scenes")
    p.add_argument("--mixed_precision", default="no", choices=("no", "fp16", "bf16"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--launcher", default=None,
                   help="command that runs the training script, e.g. 'accelerate launch --multi_gpu "
                        "--num_processes 4' (default: this Python)")
    p.add_argument("--train_args", default="",
                   help="extra arguments for every training run; write it with '=' as the value starts with '--': "
                        "--train_args='--use_ema --checkpointing_steps 2000'")
    p.add_argument("--n_pairs", type=int, default=256, help="held-out (A, B) pairs scored per model")
    p.add_argument("--eval_seed", type=int, default=0,
                   help="selects the held-out pairs and masks (the same for all models)")
    p.add_argument("--parallel", type=int, default=1,
                   help="trainings run at once (small models leave a large GPU mostly idle); each logs to <dir>.log")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="device for scoring")
    p.add_argument("--skip_training", action="store_true", help="only score the models of --model_dirs")
    p.add_argument("--model_dirs", nargs="+", default=None, metavar="METHOD=DIR[,DIR...]",
                   help="trained models per method, e.g. tcp=runs/tcp-0,runs/tcp-1 swae=runs/swae-0")
    p.add_argument("--smoke", action="store_true", help="tiny sizes for a quick CPU check: " + str(SMOKE))
    args = p.parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
    if args.skip_training and not args.model_dirs:
        p.error("--skip_training needs --model_dirs METHOD=DIR[,DIR...]")
    if args.parallel < 1:
        p.error(f"--parallel must be >= 1, got {args.parallel}")
    if args.resolution % 16:
        p.error(f"--resolution must be a multiple of 16, got {args.resolution}")
    args.results = Path(args.results or Path(args.output_dir) / "results.md")
    return args


def parse_model_dirs(specs: List[str]) -> Dict[str, List[Path]]:
    """``["tcp=a,b", "swae=c"]`` -> ``{"tcp": [a, b], "swae": [c]}``."""
    dirs: Dict[str, List[Path]] = {}
    for spec in specs:
        method, sep, paths = spec.partition("=")
        if not sep or not paths:
            raise SystemExit(f"error: --model_dirs entries look like tcp=DIR1,DIR2; got {spec!r}")
        dirs.setdefault(method, []).extend(Path(p) for p in paths.split(","))
    return dirs


def train_command(args, method: str, seed: int, out: Path) -> List[str]:
    """The ``train_accelerate.py`` call of one (method, seed): every setting but ``--ablation`` is shared."""
    launcher = shlex.split(args.launcher) if args.launcher else [sys.executable]
    return [*launcher, str(TRAIN_SCRIPT), "--output_dir", str(out), "--dataset", "synthetic",
            "--synthetic_length", str(args.synthetic_length), "--resolution", str(args.resolution),
            "--preset", args.preset, "--train_batch_size", str(args.train_batch_size),
            "--max_train_steps", str(args.max_train_steps), "--seed", str(seed), "--ablation", method,
            "--mixed_precision", args.mixed_precision, *shlex.split(args.train_args)]


def train_all(args) -> Dict[str, List[Path]]:
    """Train every (method, seed); ``--parallel N`` runs N at a time, each logging to ``<dir>.log``."""
    if not TRAIN_SCRIPT.is_file():
        raise SystemExit(f"error: {TRAIN_SCRIPT} is missing; score existing models with --skip_training --model_dirs")
    dirs: Dict[str, List[Path]] = {m: [] for m in METHODS}
    jobs = []
    for seed in args.seeds:
        for method in METHODS:
            out = Path(args.output_dir) / f"{method}-seed{seed}"
            jobs.append((method, seed, out, train_command(args, method, seed, out)))
            dirs[method].append(out)
    for start in range(0, len(jobs), args.parallel):
        batch = jobs[start:start + args.parallel]
        running = []
        for method, seed, out, cmd in batch:
            print("$ " + shlex.join(cmd), flush=True)
            if args.parallel == 1:
                running.append(subprocess.Popen(cmd))
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(f"{out}.log", "w") as log:
                running.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
        for (method, seed, out, _), proc in zip(batch, running):
            if proc.wait() != 0:
                where = "its output above" if args.parallel == 1 else f"{out}.log"
                raise SystemExit(f"error: training {method} (seed {seed}) failed; see {where}")
    return dirs


def score(model_dir: Path, args) -> Dict[str, float]:
    pipe = load_pipeline(model_dir)
    return evaluate_model(pipe.encoder, pipe.generator, n_pairs=args.n_pairs, resolution=args.resolution,
                          device=args.device, seed=args.eval_seed, progress=True)


def _mean_std(values: List[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}"


def results_table(scores: Dict[str, List[Dict[str, float]]], args) -> str:
    methods = list(scores)
    seeds = ", ".join(f"{m}: {len(scores[m])}" for m in methods)
    lines = [f"Held-out synthetic pairs: {args.n_pairs} at {args.resolution} px (eval seed {args.eval_seed}); "
             f"models per method (seeds): {seeds}; mean ± std over seeds.",
             "", "| metric | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for key, label, better in ROWS:
        cells = [_mean_std([s[key] for s in scores[m]]) for m in methods]
        lines.append(f"| {label} {better} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    dirs = parse_model_dirs(args.model_dirs) if args.skip_training else train_all(args)
    scores = {method: [score(d, args) for d in model_dirs] for method, model_dirs in dirs.items()}
    table = results_table(scores, args)
    print(table)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(table)
    per_model = {m: [{"model_dir": str(d), **s} for d, s in zip(dirs[m], scores[m])] for m in scores}
    args.results.with_suffix(".json").write_text(json.dumps(per_model, indent=2))
    print(f"wrote {args.results} and {args.results.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
