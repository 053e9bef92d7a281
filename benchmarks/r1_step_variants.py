"""What an eager R1 pass costs: the image discriminator on real images, its loss plus the R1 penalty,
backward (a double backward through D), with each eager blur implementation, and with the
convolutions the trainer's R1 passes use (`r1_pass`: made for a double backward) against plain
``F.conv2d``. Full model, 256 px, bf16 autocast, channels-last.

    python benchmarks/r1_step_variants.py [--batch 16] [--iters 5]
"""

import argparse
import contextlib
import time

import torch
import torch.nn.functional as F

from tcp_hub import losses as L
from tcp_hub.models import build_models, layers
from tcp_hub.models.r1_pass import r1_pass


def _padded(blur_fn):
    return lambda x, taps, pad: blur_fn(F.pad(x, (pad[0], pad[1], pad[0], pad[1])), taps)


def _slices(x, taps, pad):
    return layers._SliceBlur.apply(x, tuple(taps), tuple(pad))


RUNS = [  # (name, blur, context); the depthwise blur last: seconds per pass
    ("slice blur, plain F.conv2d", _slices, contextlib.nullcontext),
    ("slice blur, r1_pass convolutions", _slices, r1_pass),
    ("matmul blur, plain F.conv2d", layers._blur_matmul, contextlib.nullcontext),
    ("matmul blur, r1_pass convolutions", layers._blur_matmul, r1_pass),
    ("layers.blur on CUDA, r1_pass convolutions (the trainer's R1 passes)", layers.blur, r1_pass),
    ("crop blur (negative pads), plain F.conv2d", _padded(layers._blur_crops), contextlib.nullcontext),
    ("depthwise-convolution blur, plain F.conv2d", _padded(layers._blur_depthwise), contextlib.nullcontext),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--skip", nargs="*", default=[], help="leave out the runs whose names start with these words")
    args = p.parse_args()
    torch.backends.cudnn.benchmark = True
    D = build_models("full", 256)[2].cuda().to(memory_format=torch.channels_last)
    x = (torch.rand(args.batch, 3, 256, 256, device="cuda") * 2 - 1).contiguous(memory_format=torch.channels_last)
    original = layers.blur
    print(f"{torch.cuda.get_device_name()}: D on {args.batch} real images, loss + R1, backward; ms per pass")
    for name, fn, convolutions in RUNS:
        if any(name.startswith(word) for word in args.skip):
            continue
        layers.blur = fn
        times = []
        for i in range(2 + args.iters):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            real = x.detach().requires_grad_(True)
            with torch.autocast("cuda", torch.bfloat16), convolutions():
                logits = D(real)
            loss = L.discriminator_real_loss(logits) + 5.0 * L.r1_penalty(logits, real)
            loss.backward()
            D.zero_grad(set_to_none=True)
            torch.cuda.synchronize()
            times.append(1000 * (time.perf_counter() - t0))
        print(f"  {name}: {sorted(times[2:])[len(times[2:]) // 2]:.1f}")
    layers.blur = original


if __name__ == "__main__":
    main()
