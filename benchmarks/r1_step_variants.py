"""What an eager R1 pass costs: the image discriminator on real images, its loss plus the R1 penalty,
backward (a double backward through D), with each eager blur implementation, and with the
convolutions the trainer's R1 passes use (`r1_pass`: made for a double backward) against plain
``F.conv2d``. Full model, 256 px, bf16 autocast, channels-last. Each run also reports how far
its parameter gradients are from the first run's (largest difference / largest value): the variants
compute the same thing.

    python benchmarks/r1_step_variants.py [--batch 16] [--iters 5] [--skip crop depthwise]
    python benchmarks/r1_step_variants.py --device cpu --preset tiny --size 32 --batch 2 --iters 1   # smoke test
"""

import argparse
import contextlib
import copy
import statistics
import time

import torch
import torch.nn.functional as F

from tcp_hub import losses as L
from tcp_hub.models import build_models, layers
from tcp_hub.models.r1_pass import r1_pass


def _slices(x, taps, pad):
    return layers._SliceBlur.apply(x, tuple(taps), tuple(pad))


def _padded(blur_fn):
    return lambda x, taps, pad: blur_fn(F.pad(x, (pad[0], pad[1], pad[0], pad[1])), taps)


RUNS = [  # (name, blur, context); the depthwise blur last: seconds per pass on a GPU
    ("slice blur, plain F.conv2d", _slices, contextlib.nullcontext),
    ("slice blur, r1_pass convolutions", _slices, r1_pass),
    ("matmul blur, plain F.conv2d", layers._blur_matmul, contextlib.nullcontext),
    ("matmul blur, r1_pass convolutions (the trainer's R1 passes on GPUs)", layers._blur_matmul, r1_pass),
    ("crop blur (negative pads), plain F.conv2d", _padded(layers._blur_crops), contextlib.nullcontext),
    ("depthwise-convolution blur, plain F.conv2d", _padded(layers._blur_depthwise), contextlib.nullcontext),
]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--preset", default="full")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--precision", choices=("bf16", "fp32"), default="bf16",
                   help="bf16: autocast, as in training; fp32: no autocast, TF32 off")
    p.add_argument("--fp64_reference", action="store_true",
                   help="compare each run's gradients with a float64 pass (matmul blur, r1_pass convolutions) "
                        "instead of with the first run's")
    p.add_argument("--skip", nargs="*", default=[], help="leave out the runs whose names start with these words")
    args = p.parse_args(argv)
    if args.iters < 1:
        p.error("--iters must be at least 1")
    flags = torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    try:
        with torch.random.fork_rng(devices=[]):
            return _run(args)
    finally:  # as the caller had them (the tests call main)
        torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


def _run(args):
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.backends.cudnn.benchmark = True
    if args.precision == "fp32":
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    D = build_models(args.preset, args.size)[2].to(device).to(memory_format=torch.channels_last)
    x = (torch.rand(args.batch, 3, args.size, args.size, device=device) * 2 - 1)
    x = x.contiguous(memory_format=torch.channels_last)

    def r1_gradients(model, images, autocast, convolutions):
        real = images.detach().requires_grad_(True)
        with torch.autocast(device.type, torch.bfloat16, enabled=autocast), convolutions():
            logits = model(real)
        (L.discriminator_real_loss(logits) + 5.0 * L.r1_penalty(logits, real)).backward()
        grads = torch.cat([q.grad.flatten().double() for q in model.parameters()])
        model.zero_grad(set_to_none=True)
        return grads

    original, results, first = layers.blur, {}, None
    try:
        if args.fp64_reference:
            layers.blur = layers._blur_matmul
            first = r1_gradients(copy.deepcopy(D).double(), x.double(), False, r1_pass)
        name = torch.cuda.get_device_name() if cuda else "CPU"
        print(f"{name}: D ({args.preset}, {args.size} px, {args.precision}) on {args.batch} real images, loss + R1, "
              f"backward; ms per pass (median), largest gradient difference from "
              f"{'float64' if args.fp64_reference else 'the first run'} / largest gradient")
        for run, fn, convolutions in RUNS:
            if any(run.startswith(word) for word in args.skip):
                continue
            layers.blur = fn
            times = []
            for i in range(2 + args.iters):
                sync()
                t0 = time.perf_counter()
                grads = r1_gradients(D, x, args.precision == "bf16", convolutions)
                sync()
                times.append(1000 * (time.perf_counter() - t0))
            first = grads if first is None else first
            diff = ((grads - first).abs().max() / first.abs().max()).item()
            results[run] = (statistics.median(times[2:]), diff)
            print(f"  {run}: {results[run][0]:.1f} ms, gradients {diff:.1e}", flush=True)
    finally:
        layers.blur = original
    return results


if __name__ == "__main__":
    main()
