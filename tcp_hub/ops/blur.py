"""The anti-aliasing blur (upfirdn2d with up = down = 1): one filter, one implementation per place it runs.

Why several: the fastest way to run a 4-tap separable filter differs between CPUs, eager GPU training
(bf16 under autocast, differentiated twice by R1) and compiled graphs. Every path computes the same
filter, its gradient and R1's double backward (tested against the depthwise convolution); the speed of
each is in benchmarks/RESULTS.md.
"""

import functools
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F

# Banded products do ``side`` multiply-adds per output element and axis where shifted slices do 4: they
# pay on tensor cores at training sizes, not for large (high-resolution inference) maps.
MATMUL_BLUR_MAX_SIDE = 512


def blur(x: torch.Tensor, taps: Sequence[float], pad: Tuple[int, int]) -> torch.Tensor:
    """Separable FIR low-pass filter of ``x [B, C, H, W]`` with (before, after) zero padding on both axes.

    Under ``torch.compile``: shifted crops, which Inductor fuses into one kernel. On GPUs: two banded
    matrix products for bf16/fp16 maps up to about ``MATMUL_BLUR_MAX_SIDE`` px a side, otherwise shifted
    slices with a hand-written backward. On CPUs: a depthwise convolution.
    """
    if torch.compiler.is_compiling():
        return _blur_crops(F.pad(x, (pad[0], pad[1], pad[0], pad[1])), taps)
    if x.is_cuda:
        return _blur_gpu(x, taps, pad)
    return _blur_depthwise(F.pad(x, (pad[0], pad[1], pad[0], pad[1])), taps)


def _blur_gpu(x: torch.Tensor, taps: Sequence[float], pad: Tuple[int, int]) -> torch.Tensor:
    # "about": a 512 px model's last upsampling blur sees 2 x 256 + 1 = 513 px
    if x.dtype in (torch.bfloat16, torch.float16) and max(x.shape[-2:]) <= MATMUL_BLUR_MAX_SIDE + len(taps):
        return _blur_matmul(x, taps, pad)
    return _SliceBlur.apply(x, tuple(taps), tuple(pad))


def _blur_depthwise(x: torch.Tensor, taps: Sequence[float]) -> torch.Tensor:
    """Valid correlation with ``taps`` along both axes as one depthwise convolution (the reference)."""
    k = torch.tensor(taps, dtype=x.dtype, device=x.device)
    kernel = (k[:, None] * k[None, :]).expand(x.shape[1], 1, len(taps), len(taps))
    return F.conv2d(x, kernel, groups=x.shape[1])


def _blur_slices(x: torch.Tensor, taps: Sequence[float]) -> torch.Tensor:
    """Valid correlation with ``taps`` along both axes, as a scaled shift plus in-place scaled adds:
    one pass over the tensor per tap and axis."""
    n = len(taps)
    h, w = x.shape[-2] - n + 1, x.shape[-1] - n + 1
    rows = x[..., 0:h, :] * taps[0]
    for i, t in enumerate(taps[1:], 1):
        rows.add_(x[..., i:i + h, :], alpha=t)
    out = rows[..., :, 0:w] * taps[0]
    for i, t in enumerate(taps[1:], 1):
        out.add_(rows[..., :, i:i + w], alpha=t)
    return out


class _SliceBlur(torch.autograd.Function):
    """pad + `_blur_slices`. Autograd's own backward of slicing would allocate a zero-filled copy of the
    input per tap; the gradient is instead the same filter with reversed taps, padded by
    (n - 1 - after, n - 1 - before) (negative pads crop). The backward calls this function again, so it
    is differentiable as often as R1 needs."""

    @staticmethod
    def forward(ctx, x, taps, pad):
        ctx.taps, ctx.pad = taps, pad
        return _blur_slices(F.pad(x, (pad[0], pad[1], pad[0], pad[1])), taps)

    @staticmethod
    def backward(ctx, grad):
        n, (before, after) = len(ctx.taps), ctx.pad
        return _SliceBlur.apply(grad, ctx.taps[::-1], (n - 1 - before, n - 1 - after)), None, None


def _blur_crops(x: torch.Tensor, taps: Sequence[float]) -> torch.Tensor:
    """`_blur_slices` with the shifts written as crops (negative padding), for compiled graphs: a crop's
    gradient is the gradient padded, in its own memory layout, where slicing's gradient is a zero-filled
    NCHW tensor that every channels-last convolution's backward would convert back."""
    n = len(taps)
    x = sum(t * F.pad(x, (0, 0, -i, i + 1 - n)) for i, t in enumerate(taps))
    return sum(t * F.pad(x, (-i, i + 1 - n)) for i, t in enumerate(taps))


def _blur_matmul(x: torch.Tensor, taps: Sequence[float], pad: Tuple[int, int]) -> torch.Tensor:
    """pad + valid correlation as two products with banded matrices (one per axis; the padding is their
    missing entries), on the tensor cores. In channels-last memory (N, H, W, C) both are batched products
    without a copy: (H_out x H) times (H, W*C) per image, then (W_out x W) times (W, C) per output row.
    A product's derivatives are products at every order, so R1 needs no hand-written backward."""
    n, c, h, w = x.shape
    taps, pad = tuple(taps), tuple(pad)
    rows, cols = _band(h, taps, pad, x.dtype, x.device), _band(w, taps, pad, x.dtype, x.device)
    if x.is_contiguous(memory_format=torch.channels_last):
        y = torch.matmul(rows, x.permute(0, 2, 3, 1).reshape(n, h, w * c))
        y = torch.matmul(cols, y.reshape(n * rows.shape[0], w, c))
        return y.reshape(n, rows.shape[0], cols.shape[0], c).permute(0, 3, 1, 2)
    y = torch.matmul(x.reshape(n * c, h, w), cols.t())
    return torch.matmul(rows, y).reshape(n, c, rows.shape[0], cols.shape[0])


@functools.lru_cache(maxsize=64)
def _band(size: int, taps: Tuple[float, ...], pad: Tuple[int, int], dtype: torch.dtype,
          device: torch.device) -> torch.Tensor:
    """(size + before + after - n + 1) x size matrix M with M[o, j] = taps[j - o + before] where that is a tap:
    M @ v is v zero-padded by (before, after) and correlated with the taps. Cached, so built outside
    inference mode: an inference tensor could not be saved for a later training step's backward."""
    before, after = pad
    out = size + before + after - len(taps) + 1
    with torch.inference_mode(False):
        k = torch.arange(size)[None, :] - torch.arange(out)[:, None] + before
        valid = (k >= 0) & (k < len(taps))
        band = torch.tensor(taps, dtype=torch.float64)[k.clamp(0, len(taps) - 1)] * valid
        return band.to(device=device, dtype=dtype)
