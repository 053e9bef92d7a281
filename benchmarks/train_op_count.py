"""Count the top-level ATen operations one training iteration dispatches (CPU, full model, 64 px, batch 2).

    python benchmarks/train_op_count.py              # eager, as on the CPU (single-tensor Adam)
    python benchmarks/train_op_count.py --compiled   # --compile (traced with aot_eager), fused Adam as on CUDA

The count does not depend on image size or device, so it bounds how fast an eager iteration can be
when each op costs a fixed CPU dispatch + kernel launch time (issue 3: the `small` model is only 2.4x
faster than the full one on an H100). Steps without R1 and code consistency.

``--compiled`` splits the count into ops inside the compiled regions (Inductor fuses them into fewer
kernels; CUDA graphs, ``--compile_mode reduce-overhead``, replay them without launching each) and the
eager glue between them (losses, crops, noise, optimiser), which stays launched op by op.
"""

import argparse
import collections
import functools

import torch
from accelerate import Accelerator

from tcp_hub.models import build_models
from tcp_hub.training import TCPTrainer, TrainerConfig


def _in_compiled_region(event) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith("Torch-Compiled Region") or "CompiledFunction" in parent.name:
            return True
        parent = parent.cpu_parent
    return False


def top_level_op_counts(ablation: str, compiled: bool = False):
    """``(ops outside compiled regions, ops inside them, compiled-region calls)``: Counters of op names (all
    outside when eager) and the number of compiled forward calls."""
    torch.manual_seed(0)
    config = TrainerConfig(ablation=ablation, compile=compiled)
    trainer = TCPTrainer(*build_models("full", 64), config, Accelerator(cpu=True), fused_optimizers=compiled)
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    for step in (1, 2, 1) if compiled else (1,):  # traces the graphs of steps with and without R1
        trainer.global_step = step
        trainer.run_step(images)
    trainer.global_step = 1  # a step without R1 / code consistency
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        trainer.run_step(images)
    outside, inside = collections.Counter(), collections.Counter()
    regions = sum(event.name.startswith("Torch-Compiled Region") for event in prof.events())
    for event in prof.events():  # aten ops not called from inside another aten op
        parent = event.cpu_parent
        if event.name.startswith("aten::") and (parent is None or not parent.name.startswith("aten::")):
            (inside if _in_compiled_region(event) else outside)[event.name] += 1
    return outside, inside, regions


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--compiled", action="store_true",
                   help="count a compiled iteration (aot_eager: Dynamo and AOTAutograd as in training, eager "
                        "kernels) with fused Adam, split into inside / outside the compiled regions")
    args = p.parse_args(argv)
    if args.compiled:
        torch.compile = functools.partial(torch.compile, backend="aot_eager")
    for ablation in ("swae", "tcp"):
        outside, inside, regions = top_level_op_counts(ablation, args.compiled)
        if args.compiled:
            print(ablation, f"top-level aten ops per iteration: {sum(inside.values())} inside {regions} compiled "
                            f"calls, {sum(outside.values())} outside them (the eager glue)")
        else:
            print(ablation, "top-level aten ops per iteration:", sum(outside.values()))
        print(outside.most_common(12))


if __name__ == "__main__":
    main()
