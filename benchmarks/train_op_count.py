"""Count the top-level ATen operations one training iteration dispatches (CPU, full model, 64 px, batch 2).

    python benchmarks/train_op_count.py

The count does not depend on image size or device, so it bounds how fast an eager iteration can be
when each op costs a fixed CPU dispatch + kernel launch time (issue 3: the `small` model is only 2.4x
faster than the full one on an H100). Steps without R1 and code consistency.
"""

import collections

import torch
from accelerate import Accelerator

from tcp_hub.models import build_models
from tcp_hub.training import TCPTrainer, TrainerConfig


def top_level_op_counts(ablation: str) -> collections.Counter:
    torch.manual_seed(0)
    trainer = TCPTrainer(*build_models("full", 64), TrainerConfig(ablation=ablation), Accelerator())
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    trainer.global_step = 1  # a step without R1 / code consistency
    trainer.run_step(images)
    trainer.global_step = 1
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        trainer.run_step(images)
    counts = collections.Counter()
    for event in prof.events():  # aten ops not called from inside another aten op
        parent = event.cpu_parent
        if event.name.startswith("aten::") and (parent is None or not parent.name.startswith("aten::")):
            counts[event.name] += 1
    return counts


def main():
    for ablation in ("swae", "tcp"):
        counts = top_level_op_counts(ablation)
        print(ablation, "top-level aten ops per iteration:", sum(counts.values()))
        print(counts.most_common(12))


if __name__ == "__main__":
    main()
