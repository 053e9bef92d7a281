"""Shared building blocks of the four networks, in plain PyTorch.

Equalized learning rate (weights stored at unit variance, scaled by 1/sqrt(fan_in) at run time),
leaky ReLU 0.2 with a learned bias, and anti-aliased resampling with the [1, 3, 3, 1] filter, as
in StyleGAN2. No custom CUDA extension: the blur and the R1 passes' convolutions come from
`tcp_hub.ops`, which runs them fast in plain PyTorch.
"""

import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import blur, conv2d_for_double_backward, in_r1_pass

LEAKY_SLOPE = 0.2
LEAKY_GAIN = math.sqrt(2.0)


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
