"""Operators per training iteration, by phase: a CPU proxy for the kernel launches that bound the small
model's training on a GPU (there the host needs about as long to issue an iteration as the GPU to run it;
benchmarks/RESULTS.md, "Screening the small model's recipes").

    python benchmarks/operator_count.py --content_stride 8 --content_channels 16   # the scenes recipe
    python benchmarks/operator_count.py                                   # the small preset's own content code
    python benchmarks/operator_count.py --perceptual_weight 0 --diffaugment ""
    python benchmarks/operator_count.py --content_stride 8 --content_channels 16 --flops --resolution 256

With ``--flops``, also counts the floating-point operations of one iteration (``torch.utils.flop_counter``:
convolutions and matrix products, forward and backward, with and without R1 and code consistency, which run
on one step in 16) at ``--resolution``, per training image, and the rate a GPU must sustain for a given number
of images per second: the arithmetic side of the throughput target. It also sums the bytes each operator reads
and writes (an eager run's memory traffic; a compiled one fuses some of it away), the other side.

Counts the top-level ATen operators (those not called by another ATen operator) that torch.profiler
records during one iteration without R1 or code consistency (the common case: 15 of every 16), after
two warm-up iterations. Fused Adam as on a GPU. It is per iteration, whatever the batch size; the image size
changes it only through the discriminators' depth (the bundled shape: 6,460 at the default 64 px, which keeps
it quick; 6,710 at the 256 px it trains at).
"""

import argparse
import collections

import torch
from accelerate import Accelerator
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import flop_registry

from tcp_hub.models import build_models
from tcp_hub.training import SpeedConfig, TCPTrainer, TrainerConfig


class _PhaseMarks:
    """Marks the trainer's phases in the profile."""

    def phase(self, name: str):
        return record_function("phase:" + name)


def _trainer(preset, resolution, perceptual_weight, diffaugment, content_stride, content_channels,
             width=1.0) -> TCPTrainer:
    accelerator = Accelerator(mixed_precision="bf16", cpu=True)
    torch.manual_seed(0)
    config = TrainerConfig(ablation="tcp", perceptual_weight=perceptual_weight, diffaugment=diffaugment)
    return TCPTrainer(*build_models(preset, resolution, content_stride, content_channels, width), config, accelerator,
                      speed=SpeedConfig(mask_workers=0), fused_optimizers=True)


def _bytes(tensors) -> int:
    """Bytes of ``tensors``, each at most its storage's (an expanded tensor reads its storage once)."""
    return sum(min(t.numel() * t.element_size(), t.untyped_storage().nbytes()) for t in tensors)


class _OperatorCost(TorchDispatchMode):
    """FLOPs of each ATen operator (``torch.utils.flop_counter``'s formulas: convolutions and matrix products) and
    the bytes it reads and writes, as an eager GPU run moves them through memory: its tensor inputs and outputs;
    an in-place operator (``add_``, ``copy_``, fused Adam) reads its inputs and writes the ones it changes; a view
    or a no-op cast (an output sharing an input's storage, from an operator that changes nothing) moves nothing.
    A plain dispatch mode, as ``FlopCounterMode``'s module tracking fails on R1's ``autograd.grad`` of a leaf."""

    def __init__(self):
        super().__init__()
        self.flops = 0
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func._overloadpacket in flop_registry:
            self.flops += flop_registry[func._overloadpacket](*args, **kwargs, out_val=out)
        inputs = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        if func._schema.is_mutable:
            written = [value for argument, value in zip(func._schema.arguments, args)
                       if argument.alias_info is not None and argument.alias_info.is_write]
            written += [kwargs[a.name] for a in func._schema.arguments
                        if a.name in kwargs and a.alias_info is not None and a.alias_info.is_write]
            self.bytes += _bytes(inputs) + _bytes(t for t in tree_leaves(written) if isinstance(t, torch.Tensor))
            return out
        outputs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        storages = {t.untyped_storage().data_ptr() for t in inputs}
        if not any(t.untyped_storage().data_ptr() in storages for t in outputs):
            self.bytes += _bytes(inputs) + _bytes(outputs)
        return out


def flops_per_image(preset: str, resolution: int, batch: int, perceptual_weight: float, diffaugment: str,
                    content_stride=None, content_channels=None, width=1.0) -> dict:
    """FLOPs and bytes moved per training image, of an iteration with R1 and code consistency (step 0) and of
    one without (step 1), and their mean over 16 steps (R1 and code consistency run on one in 16)."""
    trainer = _trainer(preset, resolution, perceptual_weight, diffaugment, content_stride, content_channels, width)
    images = torch.rand(batch, 3, resolution, resolution) * 2 - 1
    result = {}
    for name in ("with_r1", "without_r1"):
        with _OperatorCost() as cost:
            trainer.run_step(images)
        result[name] = cost.flops / batch
        result[name + "_bytes"] = cost.bytes / batch
    assert not trainer.schedule["r1"] and not trainer.schedule["code_consistency"]
    for key in ("", "_bytes"):
        result["mean" + key] = (result["with_r1" + key] + 15 * result["without_r1" + key]) / 16
    return result


def count(preset: str, resolution: int, batch: int, perceptual_weight: float, diffaugment: str,
          content_stride=None, content_channels=None, width=1.0):
    trainer = _trainer(preset, resolution, perceptual_weight, diffaugment, content_stride, content_channels, width)
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
    parser.add_argument("--width", type=float, default=1.0, help="multiply the encoder's and generator's widths")
    parser.add_argument("--top", type=int, default=12, help="how many of the most frequent operators to list")
    parser.add_argument("--flops", action="store_true", help="also count FLOPs per training image")
    parser.add_argument("--images_per_s", type=float, nargs="*", default=[181.0, 600.0],
                        help="training rates to express as TFLOP/s (with --flops)")
    args = parser.parse_args(argv)
    phases, operators = count(args.preset, args.resolution, args.batch_size, args.perceptual_weight, args.diffaugment,
                              args.content_stride, args.content_channels, args.width)
    print(f"preset {args.preset}, content stride {args.content_stride or 'as preset'}, channels "
          f"{args.content_channels or 'as preset'}, width x{args.width:g}, perceptual_weight "
          f"{args.perceptual_weight:g}, diffaugment "
          f"{args.diffaugment or 'off'}, torch {torch.__version__}: one iteration without R1 or code consistency")
    print("| phase | operators |\n|---|---|")
    for name in ("generate", "tcp_forward", "d_step", "g_step", "other"):
        print(f"| {name} | {phases.get(name, 0)} |")
    print(f"| **all** | **{sum(phases.values())}** |")
    print("most frequent: " + ", ".join(f"{name[6:]} {n}" for name, n in operators.most_common(args.top)))
    if args.flops:
        flops = flops_per_image(args.preset, args.resolution, args.batch_size, args.perceptual_weight,
                                args.diffaugment, args.content_stride, args.content_channels, args.width)
        print(f"GFLOP per training image at {args.resolution} px: {flops['without_r1'] / 1e9:.2f} (step without R1), "
              f"{flops['with_r1'] / 1e9:.2f} (with R1 and code consistency), {flops['mean'] / 1e9:.2f} on average")
        print(f"GB read + written per training image by the eager operators (weights included, bf16 where autocast "
              f"casts): {flops['mean_bytes'] / 1e9:.2f} on average")
        for rate in args.images_per_s:
            print(f"{rate:g} images/s = {rate * flops['mean'] / 1e12:.1f} TFLOP/s and "
                  f"{rate * flops['mean_bytes'] / 1e12:.2f} TB/s of eager memory traffic")
    return phases


if __name__ == "__main__":
    main()
