"""Ways to write the [1, 3, 3, 1] anti-aliasing blur for eager training (issue 3), timed forward + backward.

    python benchmarks/blur_variants.py                      # GPU: the image discriminator's two largest blurs
    python benchmarks/blur_variants.py --device cpu --batch 2 --channels 8 --sizes 32 --repeats 2   # smoke test

The blur runs on the largest activations of an iteration (the image discriminator's first ResBlocks:
48 images x 128 channels x 256^2 in the D step), and issue 3's estimate is that written as shifted slices
it moves ~16 passes of memory per call. Variants, all the same function (checked against a float64
reference before timing):

- ``slices``: sums of shifted slices with a hand-written backward (`_SliceBlur`: tcp_hub's GPU path until
  session 10, now for float32 maps and maps over about 512 px a side);
- ``matmul``: two products with banded matrices, no copy in channels-last memory (`_blur_matmul`:
  tcp_hub's GPU path for bf16/fp16 maps up to about 512 px a side);
- ``depthwise``: one grouped 4x4 convolution (cuDNN; tcp_hub's CPU path);
- ``separable``: two grouped 1-D convolutions (4x1, then 1x4);
- ``strided``: for the skip path, which keeps only every second output (blur, then a 1x1 stride-2
  conv): the shifted slices taken with step 2, so only the kept outputs are computed. Compared with
  the full blur followed by ``[..., ::2, ::2]``.

Prints one row per variant and memory layout: median milliseconds of forward + backward over
``--repeats`` runs (CUDA events), and the largest error relative to the reference's largest value.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from tcp_hub.models.layers import _blur_depthwise, _blur_matmul, _SliceBlur

TAPS = tuple(t / 8 for t in (1, 3, 3, 1))
PAD = (2, 2)  # ConvLayer's padding for a 3x3 stride-2 conv after the 4-tap blur


def padded(x, pad):
    return F.pad(x, (pad[0], pad[1], pad[0], pad[1]))


def blur_slices(x, pad):
    return _SliceBlur.apply(x, TAPS, pad)


def blur_depthwise(x, pad):
    return _blur_depthwise(padded(x, pad), TAPS)


def blur_separable(x, pad):
    k = torch.tensor(TAPS, dtype=x.dtype, device=x.device)
    c = x.shape[1]
    y = F.conv2d(padded(x, pad), k.view(1, 1, 4, 1).expand(c, 1, 4, 1), groups=c)
    return F.conv2d(y, k.view(1, 1, 1, 4).expand(c, 1, 1, 4), groups=c)


def blur_matmul(x, pad):
    return _blur_matmul(x, TAPS, pad)


def blur_full_then_stride(x, pad):
    return blur_slices(x, pad)[..., ::2, ::2]


def blur_strided(x, pad):
    """Only the even outputs: out[i, j] = sum_mn k_m k_n xp[2i + m, 2j + n]."""
    xp = padded(x, pad)
    h = (xp.shape[-2] - len(TAPS)) // 2 + 1
    w = (xp.shape[-1] - len(TAPS)) // 2 + 1
    rows = sum(t * xp[..., i:i + 2 * h - 1:2, :] for i, t in enumerate(TAPS))
    return sum(t * rows[..., :, i:i + 2 * w - 1:2] for i, t in enumerate(TAPS))


FULL = {"slices": blur_slices, "matmul": blur_matmul, "depthwise": blur_depthwise, "separable": blur_separable}
STRIDE2 = {"slices, then [::2, ::2]": blur_full_then_stride, "strided": blur_strided}


def reference(x, pad, stride):
    y = blur_depthwise(x.detach().double().contiguous(), pad)
    return y[..., ::stride, ::stride]


def time_ms(fn, x, pad, repeats, cuda):
    grad = None
    times = []
    for i in range(repeats + 1):  # the first run warms up (cuDNN algorithm choice, allocations)
        x.grad = None
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
        t0 = time.perf_counter()
        y = fn(x, pad)
        if grad is None:
            grad = torch.randn_like(y)
        y.backward(grad)
        if cuda:
            end.record()
            torch.cuda.synchronize()
            elapsed = start.elapsed_time(end)
        else:
            elapsed = 1000 * (time.perf_counter() - t0)
        if i:
            times.append(elapsed)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"))
    p.add_argument("--batch", type=int, default=48, help="images (the D step sees 16 real + 32 fake)")
    p.add_argument("--channels", type=int, nargs="+", default=[128, 256], help="channels, one per size")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 128], help="sides of the blurred maps")
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args(argv)
    if len(args.channels) != len(args.sizes):
        p.error("--channels and --sizes need the same number of values")
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    cuda = device.type == "cuda"
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name() if cuda else "CPU"
    print(f"{name}, torch {torch.__version__}, {args.dtype}, batch {args.batch}, forward + backward")
    print("| shape | output | variant | layout | ms (median) | max error / max value |")
    print("|---|---|---|---|---|---|")
    for channels, size in zip(args.channels, args.sizes):
        base = torch.randn(args.batch, channels, size, size, device=device, dtype=dtype)
        for layout in (torch.contiguous_format, torch.channels_last):
            x = base.contiguous(memory_format=layout).requires_grad_(True)
            for output, variants, pad, stride in (("full", FULL, PAD, 1), ("stride 2", STRIDE2, (1, 1), 2)):
                ref = reference(x, pad, stride)
                for variant, fn in variants.items():
                    with torch.no_grad():
                        err = (fn(x, pad).double() - ref).abs().max() / ref.abs().max()
                    ms = time_ms(fn, x, pad, args.repeats, cuda)
                    print(f"| {args.batch}x{channels}x{size}^2 | {output} | {variant} | "
                          f"{'channels-last' if layout == torch.channels_last else 'NCHW'} | {ms:.2f} | {err:.1e} |",
                          flush=True)


if __name__ == "__main__":
    main()
