"""Latency of a 3-region edit in the app at its working size (256 px), on CPU.

Uses the app's default model (the bundled ``tcp-scenes`` weights, or the random ``small`` stand-in
while they are missing) and the bundled ``valley`` example (three painted regions, three references).
``--concurrent N`` runs N edits at once (the app serves `logic.CONCURRENCY_LIMIT` at once), each timed;
``--threads`` is torch's CPU thread count (default, as in the app: torch's default, one per core).

    python benchmarks/app_latency.py [--runs 7] [--model tcp-scenes] [--threads 2] [--concurrent 2]
"""

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
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
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--concurrent", type=int, default=1, help="edits running at once")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    pipe = logic.MODEL_CACHE.get(args.model)
    content = read("valley.jpg", "RGB")
    editor = {"background": content, "layers": [read(f"valley_region{i}.png", "RGBA") for i in (1, 2, 3)]}
    masks = logic.editor_masks(editor, content.shape[:2])
    references = [read(f"ref_{name}.jpg", "RGB") for name in ("sunset", "snow", "forest")]

    def edit():
        return logic.stylize(pipe, content, masks, references, [1.0, 0.8, 1.0], feather=4, seed=0)

    def timed_edit(_=None):
        start = time.perf_counter()
        edit()
        return time.perf_counter() - start

    edit()  # warm-up: first-call allocations
    times = []
    with ThreadPoolExecutor(args.concurrent) as pool:
        for _ in range(args.runs):
            times += list(pool.map(timed_edit, range(args.concurrent)))
    size = "x".join(map(str, content.shape[1::-1]))
    print(f"3-region edit of a {size} photo at working size {logic.WORKING_SIZE}, model '{args.model}', "
          f"{args.threads} CPU thread(s), {args.concurrent} at once, {os.cpu_count()} cores: median "
          f"{statistics.median(times) * 1000:.0f} ms over {len(times)} edits "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})")


if __name__ == "__main__":
    main()
