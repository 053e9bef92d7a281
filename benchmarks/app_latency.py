"""Latency of one 3-region edit in the app at its working size (256 px), on CPU with 2 threads.

Uses the app's default model (the bundled ``tcp-scenes`` weights, or the random ``small`` stand-in
while they are missing) and the bundled ``valley`` example (three painted regions, three references).

    python benchmarks/app_latency.py [--runs 7] [--model tcp-scenes]
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tcp_hub import app_logic as logic

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def read(name: str, mode: str) -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / name).convert(mode))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs (after one warm-up run)")
    parser.add_argument("--model", default=logic.DEFAULT_MODEL, help="bundled name, local folder or Hub repo id")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    pipe = logic.MODEL_CACHE.get(args.model)
    content = read("valley.jpg", "RGB")
    editor = {"background": content, "layers": [read(f"valley_region{i}.png", "RGBA") for i in (1, 2, 3)]}
    masks = logic.editor_masks(editor, content.shape[:2])
    references = [read(f"ref_{name}.jpg", "RGB") for name in ("sunset", "snow", "forest")]

    def edit():
        return logic.stylize(pipe, content, masks, references, [1.0, 0.8, 1.0], feather=4, seed=0)

    edit()  # warm-up: first-call allocations
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        edit()
        times.append(time.perf_counter() - start)
    size = "x".join(map(str, content.shape[1::-1]))
    print(f"3-region edit of a {size} photo at working size {logic.WORKING_SIZE}, model '{args.model}', "
          f"{args.threads} CPU threads: median {statistics.median(times) * 1000:.0f} ms over {args.runs} runs "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})")


if __name__ == "__main__":
    main()
