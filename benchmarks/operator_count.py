"""Operators per training iteration, by phase: a CPU proxy for the kernel launches that bound the small
model's training on a GPU (there the host needs about as long to issue an iteration as the GPU to run it;
benchmarks/RESULTS.md, "Screening the small model's recipes").

    python benchmarks/operator_count.py --content_stride 8 --content_channels 16   # the scenes recipe
    python benchmarks/operator_count.py                                   # the small preset's own content code
    python benchmarks/operator_count.py --perceptual_weight 0 --diffaugment ""

Counts the top-level ATen operators (those not called by another ATen operator) that torch.profiler
records during one iteration without R1 or code consistency (the common case: 15 of every 16), after
two warm-up iterations. Fused Adam as on a GPU. The count does not depend on the image size, so the
default 64 px keeps it quick; it is per iteration, whatever the batch size.
"""

import argparse
import collections

import torch
from accelerate import Accelerator
from torch.profiler import ProfilerActivity, profile, record_function

from tcp_hub.models import build_models
from tcp_hub.training import SpeedConfig, TCPTrainer, TrainerConfig


class _PhaseMarks:
    """Marks the trainer's phases in the profile."""

    def phase(self, name: str):
        return record_function("phase:" + name)


def count(preset: str, resolution: int, batch: int, perceptual_weight: float, diffaugment: str,
          content_stride=None, content_channels=None):
    accelerator = Accelerator(mixed_precision="bf16", cpu=True)
    torch.manual_seed(0)
    config = TrainerConfig(ablation="tcp", perceptual_weight=perceptual_weight, diffaugment=diffaugment)
    trainer = TCPTrainer(*build_models(preset, resolution, content_stride, content_channels), config, accelerator,
                         speed=SpeedConfig(mask_workers=0), fused_optimizers=True)
    images = torch.rand(batch, 3, resolution, resolution) * 2 - 1
    for _ in range(2):  # step 0 has R1 and code consistency; step 1 has neither, like step 2
        trainer.run_step(images)
    assert not trainer.schedule["r1"] and not trainer.schedule["code_consistency"]
    trainer.profiler = _PhaseMarks()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.run_step(images)
    phases, operators = collections.Counter(), collections.Counter()
    for event in prof.events():
        parent = event.cpu_parent
        if not event.name.startswith("aten::") or (parent is not None and parent.name.startswith("aten::")):
            continue
        phase = "other"
        while parent is not None:  # the innermost phase (TCP fwd lies within generate)
            if parent.name.startswith("phase:"):
                phase = parent.name[len("phase:"):]
                break
            parent = parent.cpu_parent
        phases[phase] += 1
        operators[event.name] += 1
    return phases, operators


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", choices=["full", "small", "tiny"])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=2)
    parser.add_argument("--perceptual_weight", type=float, default=5.0)
    parser.add_argument("--diffaugment", default="color,translation,cutout")
    parser.add_argument("--content_stride", type=int, default=None, help="8 or 16 (default: the preset's)")
    parser.add_argument("--content_channels", type=int, default=None, help="default: the preset's")
    parser.add_argument("--top", type=int, default=12, help="how many of the most frequent operators to list")
    args = parser.parse_args(argv)
    phases, operators = count(args.preset, args.resolution, args.batch_size, args.perceptual_weight, args.diffaugment,
                              args.content_stride, args.content_channels)
    print(f"preset {args.preset}, content stride {args.content_stride or 'as preset'}, channels "
          f"{args.content_channels or 'as preset'}, perceptual_weight {args.perceptual_weight:g}, diffaugment "
          f"{args.diffaugment or 'off'}, torch {torch.__version__}: one iteration without R1 or code consistency")
    print("| phase | operators |\n|---|---|")
    for name in ("generate", "tcp_forward", "d_step", "g_step", "other"):
        print(f"| {name} | {phases.get(name, 0)} |")
    print(f"| **all** | **{sum(phases.values())}** |")
    print("most frequent: " + ", ".join(f"{name[6:]} {n}" for name, n in operators.most_common(args.top)))
    return phases


if __name__ == "__main__":
    main()
