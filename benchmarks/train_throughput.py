"""Training throughput: the whole TCPTrainer iteration (D step + G step, lazy R1 and code consistency
on their schedules) on one device, with random images already on the device (no data loading).

    python benchmarks/train_throughput.py                                  # full model, 256 px, batch 16
    python benchmarks/train_throughput.py --precision bf16 --ablation swae --compile
    python benchmarks/train_throughput.py --preset tiny --resolution 64 --device cpu --steps 3   # smoke test

Prints one table row per (precision, ablation): images/s, iterations/s, peak memory, and the share
of the iteration spent in each phase (measured with CUDA events, so the loop never waits for the
GPU): generate = E + G forward; D step = discriminator losses, backward and update (R1 included);
R1 = the R1 gradient computation within it; G step = G losses, backward of E + G, update;
TCP fwd = the extra forward passes of the TCP terms (region-mixed G call, re-encoding for code
consistency), counted within generate and G step.

--compile sets SpeedConfig.compile: all four networks compiled, R1's passes on real images eager.
The warmup takes the compilations (step 0 has R1 and code consistency, step 1 the first D step
without R1), so keep --warmup at 2 or more; the last column says how long the warm-up took. For the
full model that is over 5 minutes on the lent H100 machine: run it in the background there
(benchmarks/gpu_throughput.sh).

Measured figures, with the commands that gave them: benchmarks/RESULTS.md.
"""

import argparse
import contextlib
import time
from collections import defaultdict

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from tcp_hub.models import build_models
from tcp_hub.training import SpeedConfig, TCPTrainer, TrainerConfig
from tcp_hub.training.config import COMPILE_MODES

PHASES = ("generate", "d_step", "r1", "g_step", "tcp_forward")


class PhaseTimer:
    """Sums the time spent in named phases: on a GPU the device's time (CUDA events) and the host's
    (how long the CPU took to issue the phase's work; a phase whose host time is above its device time
    keeps the GPU waiting), on a CPU the wall clock."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.events = defaultdict(list)
        self.host = defaultdict(float)
        self.enabled = False

    @contextlib.contextmanager
    def phase(self, name: str):
        if not self.enabled:
            yield
            return
        t0 = time.perf_counter()
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            yield
            end.record()
            self.events[name].append((start, end))
        else:
            yield
            self.events[name].append(time.perf_counter() - t0)
        self.host[name] += 1000 * (time.perf_counter() - t0)

    def totals_ms(self) -> dict:
        if self.cuda:
            torch.cuda.synchronize()
            return {k: sum(s.elapsed_time(e) for s, e in v) for k, v in self.events.items()}
        return {k: 1000 * sum(v) for k, v in self.events.items()}


KERNEL_KINDS = (  # first match wins; names of cuDNN / cuBLAS / Triton kernels, lower-cased
    ("fused Triton (Inductor)", ("triton",)),
    ("convolution (cuDNN)", ("conv", "cudnn", "implicit", "wgrad", "dgrad", "fprop")),
    ("matmul (cuBLAS)", ("gemm", "cutlass", "nvjet", "cublas")),
    ("copy / fill", ("memcpy", "memset", "copy", "fill")),
)


def kernel_kind(name: str) -> str:
    low = name.lower()
    return next((kind for kind, keys in KERNEL_KINDS if any(k in low for k in keys)), "other (eager ATen)")


UNEXPLAINED_KINDS = ("other (eager ATen)", "copy / fill")  # kernels worth tracing back to the op that launched them


def kernel_launchers(events, kernel_names, steps: int, callers: int = 4) -> dict:
    """``{kernel name: [(ms per iteration, calls per iteration, launcher), ...]}``, costliest first: for
    each kernel of ``kernel_names``, the CPU ops that launched it (a profile's CPU events carry their
    kernels), each as ``"op [input shapes] < caller < ..."`` with up to ``callers`` enclosing events
    (e.g. ``aten::contiguous < aten::convolution_backward < CompiledFunctionBackward``). Needs a profile
    taken with ``record_shapes=True`` for the shapes."""
    found = {name: defaultdict(lambda: [0.0, 0]) for name in kernel_names}
    for event in events:
        for kernel in getattr(event, "kernels", ()):
            if kernel.name not in found:
                continue
            chain, parent = [f"{event.name} {list(event.input_shapes or [])}"], event.cpu_parent
            while parent is not None and len(chain) <= callers:
                chain.append(parent.name)
                parent = parent.cpu_parent
            record = found[kernel.name][" < ".join(chain)]
            record[0] += kernel.duration / 1000 / steps
            record[1] += 1 / steps
    return {name: sorted(((ms, calls, launcher) for launcher, (ms, calls) in by.items()), reverse=True)
            for name, by in found.items()}


def profile_steps(trainer, images, device, steps: int) -> None:
    """Profile `steps` iterations and print where the GPU time goes: wall vs summed kernel time per
    iteration (how busy the GPU is; well below 100 % means the CPU or a sync is the bottleneck),
    kernels per iteration, time by kernel kind and the 15 costliest kernels."""
    from torch.autograd import DeviceType

    with torch.profiler.profile() as prof:
        start = time.perf_counter()
        for _ in range(steps):
            trainer.run_step(images)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall_ms = 1000 * (time.perf_counter() - start) / steps
    kernels = [e for e in prof.events() if e.device_type == DeviceType.CUDA]
    if not kernels:
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=60))
        return
    busy_ms = sum(e.time_range.elapsed_us() for e in kernels) / 1000 / steps
    print(f"profile of {steps} iterations: {wall_ms:.1f} ms wall per iteration, GPU kernels {busy_ms:.1f} ms "
          f"({100 * busy_ms / wall_ms:.0f} % busy), {len(kernels) / steps:.0f} kernels per iteration")
    by_kind, by_name = defaultdict(float), defaultdict(lambda: [0.0, 0])
    for e in kernels:
        us = e.time_range.elapsed_us()
        by_kind[kernel_kind(e.name)] += us
        by_name[e.name][0] += us
        by_name[e.name][1] += 1
    print("| kernel kind | ms per iteration | share of GPU time |\n|---|---|---|")
    for kind, us in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"| {kind} | {us / 1000 / steps:.1f} | {100 * us / 1000 / steps / busy_ms:.0f} % |")
    print("| kernel (top 15) | ms per iteration | calls per iteration |\n|---|---|---|")
    costliest = sorted(by_name.items(), key=lambda kv: -kv[1][0])
    for name, (us, calls) in costliest[:15]:
        print(f"| {name[:90]} | {us / 1000 / steps:.2f} | {calls / steps:.0f} |")
    # The host's side: which ops take the CPU's time (launching kernels, autograd, Python wrappers)
    print("| CPU op (top 15 by self CPU time) | self CPU ms per iteration | calls per iteration |\n|---|---|---|")
    cpu_ops = sorted(prof.key_averages(), key=lambda a: -a.self_cpu_time_total)
    for a in cpu_ops[:15]:
        print(f"| {a.key[:90]} | {a.self_cpu_time_total / 1000 / steps:.2f} | {a.count / steps:.0f} |")
    # Where the costliest eager kernels and copies come from: a second, shorter profile with input shapes
    # (recording them costs CPU time, so the figures above come from the profile without them).
    unexplained = [name for name, _ in costliest if kernel_kind(name) in UNEXPLAINED_KINDS][:4]
    with torch.profiler.profile(record_shapes=True) as prof:
        for _ in range(2):
            trainer.run_step(images)
        torch.cuda.synchronize()
    for name, launchers in kernel_launchers(prof.events(), unexplained, steps=2).items():
        print(f"launched by (top 5 of {len(launchers)}; ms and calls per iteration): {name[:120]}")
        for ms, calls, launcher in launchers[:5]:
            print(f"  {ms:6.2f} ms {calls:4.0f}x  {launcher[:400]}")


def print_step_times(trainer, images, device, steps: int) -> None:
    """Time ``steps`` iterations one by one (a GPU sync after each): what a lazy-R1 step costs against
    the others. Leaves the trainer at a step number that is a multiple of ``steps``."""
    while trainer.global_step % steps:
        trainer.run_step(images)
    times = {}
    for _ in range(steps):
        r1 = trainer.schedule["r1"]
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        trainer.run_step(images)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.setdefault("R1 step" if r1 else "other steps", []).append(1000 * (time.perf_counter() - t0))
    print("step times (synchronised), ms: " + ", ".join(
        f"{k} median {sorted(v)[len(v) // 2]:.1f} (n={len(v)})" for k, v in times.items()))


def measure(args, precision: str, ablation: str) -> dict:
    AcceleratorState._reset_state(reset_partial_state=True)
    accelerator = Accelerator(mixed_precision={"fp32": "no"}.get(precision, precision), cpu=args.device == "cpu")
    device = accelerator.device
    torch.manual_seed(0)
    checks = {} if args.nan_check_steps is None else {"nan_check_steps": args.nan_check_steps}
    speed = SpeedConfig(channels_last=args.channels_last, compile=args.compile, compile_mode=args.compile_mode,
                        mask_workers=args.mask_workers, **checks)
    config = TrainerConfig(ablation=ablation, perceptual_weight=args.perceptual_weight, diffaugment=args.diffaugment)
    models = build_models(args.preset, args.resolution, args.content_stride, args.content_channels, args.width)
    trainer = TCPTrainer(*models, config, accelerator, speed=speed)
    timer = PhaseTimer(device)
    trainer.profiler = timer
    images = torch.rand(args.batch_size, 3, args.resolution, args.resolution, device=device) * 2 - 1
    warmup_start = time.perf_counter()
    for i in range(args.warmup):
        trainer.run_step(images)
        if args.compile:  # compilation can take minutes: say how far it got
            print(f"  warm-up step {i + 1}/{args.warmup} done after {time.perf_counter() - warmup_start:.0f} s",
                  flush=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    warmup_s = time.perf_counter() - warmup_start
    timer.enabled = args.phases
    masks_before = trainer.masks.from_worker, trainer.masks.drawn_here
    start = time.perf_counter()
    for _ in range(args.steps):
        trainer.run_step(images)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    masks = (trainer.masks.from_worker - masks_before[0], trainer.masks.drawn_here - masks_before[1])
    phases = timer.totals_ms()
    host = {p: ms / args.steps for p, ms in timer.host.items()}
    timer.enabled = False
    if args.step_times:
        print_step_times(trainer, images, device, trainer.config.r1_interval)
    if args.profile:
        if args.step_times:  # profile one R1 step (the next step is one after print_step_times)
            print(f"profile of the R1 step {trainer.global_step}:")
            profile_steps(trainer, images, device, steps=1)
        else:
            profile_steps(trainer, images, device, steps=4)
    total_ms = 1000 * seconds
    return {
        "precision": precision, "ablation": ablation,
        "warmup_s": warmup_s, "images_per_s": args.steps * args.batch_size / seconds, "it_per_s": args.steps / seconds,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan"),
        "shares": {p: phases.get(p, 0.0) / total_ms for p in PHASES},
        "device_ms": {p: ms / args.steps for p, ms in phases.items()}, "host_ms": host,
        "iteration_ms": total_ms / args.steps, "masks": masks,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="full", choices=("full", "small", "tiny"))
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--content_stride", type=int, default=None, choices=(8, 16),
                   help="the content code's stride (default: the preset's; the bundled model: 8)")
    p.add_argument("--content_channels", type=int, default=None,
                   help="the content code's channels (default: the preset's; the bundled model: 16)")
    p.add_argument("--width", type=float, default=1.0, help="multiply the encoder's and generator's widths")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--steps", type=int, default=32, help="timed iterations (32 = 2 R1 + 2 code-consistency steps)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--perceptual_weight", type=float, default=0.0,
                   help="as the trainer's option (the scenes recipe uses 5); its network's passes are timed too")
    p.add_argument("--diffaugment", default="",
                   help="as the trainer's option (the scenes recipe: color,translation,cutout)")
    p.add_argument("--precision", nargs="+", default=["bf16", "fp32"], choices=("bf16", "fp16", "fp32"))
    p.add_argument("--ablation", nargs="+", default=["swae", "tcp"], choices=("swae", "tcp"))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cuda", "cpu"))
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the four networks (SpeedConfig.compile; R1's real-image passes stay eager)")
    p.add_argument("--compile_mode", default="default", choices=COMPILE_MODES,
                   help="torch.compile mode with --compile ('reduce-overhead': CUDA graphs)")
    p.add_argument("--channels_last", action=argparse.BooleanOptionalAction, default=False,
                   help="channels-last memory format")
    p.add_argument("--phases", action=argparse.BooleanOptionalAction, default=True,
                   help="time phases with CUDA events (no GPU syncs inside the loop)")
    p.add_argument("--nan_check_steps", type=int, default=None,
                   help="read the loss terms back every N steps (a GPU sync); default: as in training (16)")
    p.add_argument("--mask_workers", type=int, default=-1,
                   help="SpeedConfig.mask_workers: processes drawing TCP's masks one step ahead (-1: 1 on CUDA)")
    p.add_argument("--cpp_wrapper", action="store_true",
                   help="Inductor's C++ wrapper (torch._inductor.config.cpp_wrapper): compiled graphs launch their "
                        "kernels from C++ instead of Python")
    p.add_argument("--step_times", action="store_true",
                   help="after the timed steps, time r1_interval steps one by one (R1 step vs the others); "
                        "with --profile, profile one R1 step")
    p.add_argument("--profile", action="store_true",
                   help="after each row, profile 4 iterations: GPU busy share, time by kernel kind, top kernels")
    args = p.parse_args(argv)
    if args.cpp_wrapper:
        from torch._inductor import config as inductor_config

        inductor_config.cpp_wrapper = True
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True

    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    code = (f", content code stride {args.content_stride or 'as preset'}, "
            f"channels {args.content_channels or 'as preset'}, width x{args.width:g}")
    print(f"{name}: preset {args.preset}{code}, {args.resolution} px, batch {args.batch_size}, {args.steps} steps, "
          f"compile={args.compile} ({args.compile_mode}{', C++ wrapper' if args.cpp_wrapper else ''}), "
          f"channels_last={args.channels_last}, mask workers {args.mask_workers}, "
          f"perceptual_weight {args.perceptual_weight:g}, diffaugment {args.diffaugment or 'off'}, "
          f"torch {torch.__version__}")
    header = ("| precision | ablation | images/s | it/s | peak GiB | generate | D step | R1 | G step | TCP fwd "
              "| warm-up s |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    notes = []
    for precision in args.precision:
        for ablation in args.ablation:
            r = measure(args, precision, ablation)
            shares = " | ".join(f"{100 * r['shares'][ph]:.0f}%" for ph in PHASES)
            print(f"| {precision} | {ablation} | {r['images_per_s']:.1f} | {r['it_per_s']:.2f} | "
                  f"{r['peak_gib']:.1f} | {shares} | {r['warmup_s']:.0f} |", flush=True)
            if args.phases and args.device == "cuda":
                times = ", ".join(f"{ph} {r['host_ms'].get(ph, 0):.1f} / {r['device_ms'].get(ph, 0):.1f}"
                                  for ph in PHASES)
                notes.append(f"{precision} {ablation}: ms per iteration, host (CPU issuing the work) / device: "
                             f"{times}; whole iteration {r['iteration_ms']:.1f}; mask batches from the worker / "
                             f"drawn in the training process: {r['masks'][0]} / {r['masks'][1]}")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
