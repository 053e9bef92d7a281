"""Shared building blocks of the four networks, in plain PyTorch.

Equalized learning rate (weights stored at unit variance, scaled by 1/sqrt(fan_in) at run time),
leaky ReLU 0.2 with a learned bias, and anti-aliased resampling with the [1, 3, 3, 1] filter, as
in StyleGAN2. No custom CUDA extension: each op is a handful of standard torch calls.
"""

import functools
import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .double_backward_conv import conv2d_for_double_backward
from .r1_pass import in_r1_pass

LEAKY_SLOPE = 0.2
LEAKY_GAIN = math.sqrt(2.0)


MATMUL_BLUR_MAX_SIDE = 512
_MAX_GEMM_BATCH = 65535  # larger batched products are split, a precaution (some CUDA GEMM kernels put the batch
# on a grid axis limited to 65535; whether cuBLAS here needs it was not tested on a GPU)


def blur(x: torch.Tensor, taps: Sequence[float], pad: Tuple[int, int]) -> torch.Tensor:
    """Separable FIR low-pass filter with (before, after) padding on both axes (upfirdn2d, up=down=1).

    On GPUs, for bf16/fp16 maps up to about ``MATMUL_BLUR_MAX_SIDE`` pixels a side (training under
    autocast), it is two products with banded matrices (`_blur_matmul`) on the tensor cores: in
    channels-last memory they need no copy, and autograd differentiates them as often as R1 needs. On
    an H200 that made the blur 4.8x faster than sums of shifted slices (forward + backward,
    48x128x256^2, bf16, channels-last), the eager R1 pass of D 75.9 -> 40.5 ms and a whole R1 step
    268 -> 165 ms (RESULTS.md session 10). A product does ``side`` multiply-adds per output element and
    axis where the slices do 4, so float32 maps and larger maps (high-resolution inference) keep the
    slices (`_SliceBlur`, whose backward is the same filter; neither case is measured with the
    products). On CPUs it is a depthwise convolution. Under ``torch.compile`` plain shifted crops are
    used on every device: Inductor fuses them into one kernel. All paths compute the same thing,
    gradients and R1's double backward too (tested).
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


def _blur_slices(x: torch.Tensor, taps: Sequence[float]) -> torch.Tensor:
    """Valid correlation with ``taps`` along both axes, as a scaled shift plus in-place scaled adds:
    one pass over the tensor per tap and axis (``sum`` of products took two)."""
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
    """pad + valid correlation by shifted slices; its gradient is the correlation of the output gradient
    with the reversed taps, padded by (n - 1 - after, n - 1 - before) (negative pads crop): autograd's
    own backward of slicing would allocate a zero-filled copy of the input per tap. The backward calls
    this function again, so it is differentiable as often as needed (R1 differentiates D's input
    gradient)."""

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
    gradient is the gradient padded, in its own memory layout. Slicing's gradient is written into a
    zero-filled tensor of the default (NCHW) layout, and in channels-last training each convolution's
    backward converted it back (37 copies, 8.1 ms of a 136 ms iteration on an H200)."""
    n = len(taps)
    x = sum(t * F.pad(x, (0, 0, -i, i + 1 - n)) for i, t in enumerate(taps))
    return sum(t * F.pad(x, (-i, i + 1 - n)) for i, t in enumerate(taps))


def _blur_matmul(x: torch.Tensor, taps: Sequence[float], pad: Tuple[int, int]) -> torch.Tensor:
    """pad + valid correlation as two matrix products with banded matrices (one per axis; the padding is
    their missing entries). In channels-last memory (N, H, W, C) both axes are plain batched products
    without a copy: (H_out x H) times (H, W*C) per image, then (W_out x W) times (W, C) per output row.
    A product's derivatives are products, at every order, so autograd differentiates it as often as
    R1 needs with no hand-written backward."""
    n, c, h, w = x.shape
    taps, pad = tuple(taps), tuple(pad)
    rows, cols = _band(h, taps, pad, x.dtype, x.device), _band(w, taps, pad, x.dtype, x.device)
    if x.is_contiguous(memory_format=torch.channels_last):
        y = _batched_matmul(rows, x.permute(0, 2, 3, 1).reshape(n, h, w * c))
        y = _batched_matmul(cols, y.reshape(n * rows.shape[0], w, c))
        return y.reshape(n, rows.shape[0], cols.shape[0], c).permute(0, 3, 1, 2)
    y = torch.matmul(x.reshape(n * c, h, w), cols.t())
    return _batched_matmul(rows, y).reshape(n, c, rows.shape[0], cols.shape[0])


def _batched_matmul(matrix: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """``matrix @ batch`` for a 3-D batch, in pieces of at most ``_MAX_GEMM_BATCH`` (joined with a copy)."""
    if batch.shape[0] <= _MAX_GEMM_BATCH:
        return torch.matmul(matrix, batch)
    return torch.cat([torch.matmul(matrix, part) for part in batch.split(_MAX_GEMM_BATCH)])


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


def _blur_depthwise(x: torch.Tensor, taps: Sequence[float]) -> torch.Tensor:
    k = torch.tensor(taps, dtype=x.dtype, device=x.device)
    kernel = (k[:, None] * k[None, :]).expand(x.shape[1], 1, len(taps), len(taps))
    return F.conv2d(x, kernel, groups=x.shape[1])


def upsample2x_bilinear(x: torch.Tensor) -> torch.Tensor:
    """``F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)``.

    Under ``torch.compile`` it is written as shifted slices (per axis, output 2i is 1/4 of input i-1
    plus 3/4 of input i, output 2i+1 3/4 of i plus 1/4 of i+1, edges repeated): Inductor lowers
    interpolate's backward to a scatter-add with bf16 atomics, which took 24 ms of the 158 ms of GPU
    kernels in a training iteration on an H100 (benchmarks/RESULTS.md), while the slices' backward
    fuses like the blur's. Eagerly, interpolate's own kernels are faster. Both paths compute the same
    thing up to rounding (tested in float64 and bf16).
    """
    if torch.compiler.is_compiling():
        return _upsample2x_slices(x)
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def _upsample2x_slices(x: torch.Tensor) -> torch.Tensor:
    for dim in (x.ndim - 1, x.ndim - 2):
        n = x.shape[dim]
        padded = torch.cat([x.narrow(dim, 0, 1), x, x.narrow(dim, n - 1, 1)], dim)
        even = 0.25 * padded.narrow(dim, 0, n) + 0.75 * x
        odd = 0.75 * x + 0.25 * padded.narrow(dim, 2, n)
        shape = list(x.shape)
        shape[dim] = 2 * n
        x = torch.stack([even, odd], dim + 1).reshape(shape)
    return x


class Blur(nn.Module):
    """Anti-aliasing filter from 1-D taps (normalised to sum 1; times ``upsample_factor`` per axis).
    ``reflect``: pad by mirroring the border instead of with zeros (the official SwAE encoder)."""

    def __init__(self, taps: Sequence[float], pad: Tuple[int, int], upsample_factor: int = 1,
                 reflect: bool = False):
        super().__init__()
        total = float(sum(taps))
        self.taps = [t * upsample_factor / total for t in taps]
        self.pad = pad
        self.reflect = reflect

    def forward(self, x):
        if self.reflect:
            before, after = self.pad
            return blur(F.pad(x, (before, after, before, after), mode="reflect"), self.taps, (0, 0))
        return blur(x, self.taps, self.pad)


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape).to(x.dtype), LEAKY_SLOPE) * LEAKY_GAIN


class FusedLeakyReLU(nn.Module):
    """Leaky ReLU 0.2 with a learned per-channel bias, rescaled to keep unit variance."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return fused_leaky_relu(x, self.bias)


class EqualConv2d(nn.Module):
    """Equalized conv; ``padding_mode="reflect"`` mirrors the border instead of padding with zeros."""

    def __init__(self, in_ch, out_ch, kernel_size, stride=1, padding=0, bias=True, padding_mode="zeros"):
        super().__init__()
        if padding_mode not in ("zeros", "reflect"):
            raise ValueError(f"padding_mode must be 'zeros' or 'reflect', got {padding_mode!r}")
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_ch * kernel_size**2)
        self.stride, self.padding, self.padding_mode = stride, padding, padding_mode
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None

    def forward(self, x):
        bias = None if self.bias is None else self.bias.to(x.dtype)
        weight = (self.weight * self.scale).to(x.dtype)
        if self.padding_mode == "reflect" and self.padding:
            p = self.padding
            return self._conv(F.pad(x, (p, p, p, p), mode="reflect"), weight, bias, 0)
        return self._conv(x, weight, bias, self.padding)

    def _conv(self, x, weight, bias, padding):
        # R1 passes (eager); is_compiling first: Dynamo would break the graph at the context variable
        if not torch.compiler.is_compiling() and in_r1_pass():
            y = conv2d_for_double_backward(x, weight, self.stride, padding)
            return y if bias is None else y + bias.view(1, -1, 1, 1)
        return F.conv2d(x, weight, bias, self.stride, padding)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, bias_init=0.0, activate=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale = 1 / math.sqrt(in_dim)
        self.activate = activate

    def forward(self, x):
        w = (self.weight * self.scale).to(x.dtype)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        x = F.linear(x, w, bias)
        return F.leaky_relu(x, LEAKY_SLOPE) * LEAKY_GAIN if self.activate else x


class ConvLayer(nn.Sequential):
    """Equalized conv (optionally anti-aliased stride-2 downsampling) + biased leaky ReLU.

    ``padding_mode="reflect"`` mirrors the border (in the blur before a downsampling conv, else in the
    conv itself). ``padding`` overrides the padding of a conv without blur (default ``kernel_size // 2``,
    so that small inputs still work; the official SwAE style head uses 0).
    """

    def __init__(self, in_ch, out_ch, kernel_size, downsample=False, blur_taps=(1, 3, 3, 1),
                 bias=True, activate=True, padding_mode="zeros", padding=None):
        layers = []
        conv_padding_mode = padding_mode
        if downsample and len(blur_taps) > 1:
            p = (len(blur_taps) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_taps, pad=((p + 1) // 2, p // 2), reflect=padding_mode == "reflect"))
            stride, padding, conv_padding_mode = 2, 0, "zeros"
        else:
            stride = 2 if downsample else 1
            padding = kernel_size // 2 if padding is None else padding
        layers.append(EqualConv2d(in_ch, out_ch, kernel_size, stride, padding,
                                  bias=bias and not activate, padding_mode=conv_padding_mode))
        if activate:
            layers.append(FusedLeakyReLU(out_ch) if bias else _ScaledLeakyReLU())
        super().__init__(*layers)


class _ScaledLeakyReLU(nn.Module):
    def forward(self, x):
        return F.leaky_relu(x, LEAKY_SLOPE) * LEAKY_GAIN


class ResBlock(nn.Module):
    """Residual block of the encoder and discriminators: two 3x3 convs, 1x1 skip, optional /2.
    ``padding_mode`` applies to the two 3x3 convs (the skip pads with zeros, as in the official SwAE)."""

    def __init__(self, in_ch, out_ch, downsample=True, blur_taps=(1, 3, 3, 1), padding_mode="zeros"):
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3, blur_taps=blur_taps, padding_mode=padding_mode)
        self.conv2 = ConvLayer(in_ch, out_ch, 3, downsample=downsample, blur_taps=blur_taps,
                               padding_mode=padding_mode)
        self.skip = ConvLayer(in_ch, out_ch, 1, downsample=downsample, blur_taps=blur_taps,
                              bias=False, activate=False)

    def forward(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)
