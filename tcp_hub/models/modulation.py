"""Style modulation with region-wise styles: the one place where TCP's mixing math lives.

A modulated convolution with demodulation (StyleGAN2) equals

    y = conv(x * s, w) * d(s),    d_o(s) = 1 / sqrt(sum_{i,k} (w_oik * s_i)^2 + eps)

so the style only scales the input channels before, and the output channels after, one ordinary
convolution whose weight every image shares. With K styles and K soft masks (summing to 1 per
pixel) the per-pixel blends ``s_map = sum_j m_j s_j`` and ``d_map = sum_j m_j d(s_j)`` give every
region its own style in a single pass (TCP's region-wise modulation). One style per image is the
special case K = 1 without masks.

The official Swapping Autoencoder demodulates differently (``demodulation="weight"``): it scales
each style's ``s`` to unit root mean square and divides by the norm of the weight alone,
``y = conv(x * s / rms(s), w) / sqrt(sum_{i,k} w_oik^2 + eps)``. The blend is then over the
normalised scales, ``s_map = sum_j m_j s_j / rms(s_j)``, and ``d`` is one constant per channel.
"""

import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Blur, EqualLinear, fused_leaky_relu

DEMOD_EPS = 1e-8
DEMODULATIONS = ("style", "weight")


class RegionStyles:
    """K style vectors per image and the soft masks saying where each applies.

    Args:
        styles: ``[B, K, D]`` style codes.
        masks: ``[B, K, H, W]`` weights summing to 1 over K at every pixel, at any resolution;
            ``None`` means one style for the whole image (then K must be 1).
    """

    def __init__(self, styles: torch.Tensor, masks: Optional[torch.Tensor] = None):
        self.styles = styles
        self.masks = masks
        self._resized: Dict[Tuple[int, int], torch.Tensor] = {}

    def masks_at(self, size: Tuple[int, int]) -> torch.Tensor:
        """The masks area-resized to a layer's resolution (cached per resolution)."""
        size = tuple(size)
        if size not in self._resized:
            m = self.masks
            if tuple(m.shape[-2:]) != size:
                shrinking = m.shape[-2] >= size[0] and m.shape[-1] >= size[1]
                m = F.interpolate(m, size=size, mode="area") if shrinking else \
                    F.interpolate(m, size=size, mode="bilinear", align_corners=False)
            self._resized[size] = m
        return self._resized[size]

    def blend(self, per_region: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """``[B, K, C]`` per-region values -> ``[B, C, H, W]`` map (``[B, C, 1, 1]`` without masks)."""
        if self.masks is None:
            return per_region[:, 0, :, None, None]
        m = self.masks_at(size).to(per_region.dtype)
        return torch.einsum("bkc,bkhw->bchw", per_region, m)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution, region-aware, optionally upsampling by 2 (anti-aliased).

    ``demodulation``: ``"style"`` (StyleGAN2: ``d(s)`` of the modulated weight) or ``"weight"``
    (the official SwAE: unit-RMS scales, ``d`` of the weight alone); unused without ``demodulate``.
    """

    def __init__(self, in_ch, out_ch, kernel_size, style_dim, demodulate=True, upsample=False,
                 blur_taps=(1, 3, 3, 1), demodulation="style"):
        super().__init__()
        if demodulation not in DEMODULATIONS:
            raise ValueError(f"demodulation must be one of {DEMODULATIONS}, got {demodulation!r}")
        self.demodulation_mode = demodulation
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_ch * kernel_size**2)
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        self.demodulate, self.upsample, self.kernel_size = demodulate, upsample, kernel_size
        if upsample:
            p = (len(blur_taps) - 2) - (kernel_size - 1)
            self.blur = Blur(blur_taps, pad=((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2)

    def demodulation(self, s: torch.Tensor) -> torch.Tensor:
        """``d(s)`` for per-region input scales ``s: [B, K, in]`` -> ``[B, K, out]``."""
        w_sq = (self.weight * self.scale).float().square().sum(dim=(2, 3))  # [out, in]
        return torch.rsqrt(s.float().square() @ w_sq.t() + DEMOD_EPS)

    def weight_demodulation(self) -> torch.Tensor:
        """The official SwAE's ``d``: ``[out]``, from the weight alone."""
        return torch.rsqrt((self.weight * self.scale).float().square().sum(dim=(1, 2, 3)) + DEMOD_EPS)

    def forward(self, x: torch.Tensor, regions: RegionStyles) -> torch.Tensor:
        s = self.modulation(regions.styles)  # [B, K, in]
        by_weight = self.demodulate and self.demodulation_mode == "weight"
        if by_weight:
            s = s * torch.rsqrt(s.float().square().mean(dim=-1, keepdim=True) + DEMOD_EPS).to(s.dtype)
        w = (self.weight * self.scale).to(x.dtype)
        x = x * regions.blend(s, x.shape[-2:]).to(x.dtype)
        if self.upsample:
            x = self.blur(F.conv_transpose2d(x, w.transpose(0, 1), stride=2))
        else:
            x = F.conv2d(x, w, padding=self.kernel_size // 2)
        if by_weight:
            x = x * self.weight_demodulation().to(x.dtype).view(1, -1, 1, 1)
        elif self.demodulate:
            x = x * regions.blend(self.demodulation(s), x.shape[-2:]).to(x.dtype)
        return x


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, noise: Optional[torch.Tensor]):
        if noise is None:
            return x
        return x + self.weight.to(x.dtype) * noise.to(x.dtype)


class StyledConv(nn.Module):
    """Modulated conv + per-pixel noise + biased leaky ReLU."""

    def __init__(self, in_ch, out_ch, kernel_size, style_dim, upsample=False, blur_taps=(1, 3, 3, 1),
                 demodulation="style"):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, style_dim, upsample=upsample,
                                    blur_taps=blur_taps, demodulation=demodulation)
        self.noise = NoiseInjection()
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x, regions: RegionStyles, noise: Optional[torch.Tensor]):
        """``noise``: ``[B, 1, H, W]`` at the output's resolution, or ``None`` for none."""
        x = self.conv(x, regions)
        x = self.noise(x, noise)
        return fused_leaky_relu(x, self.bias)


class ToRGB(nn.Module):
    """Modulated 1x1 convolution to RGB, without demodulation."""

    def __init__(self, in_ch, style_dim):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, regions: RegionStyles):
        return self.conv(x, regions) + self.bias.to(x.dtype)


class ContentModulation(nn.Module):
    """Per-channel scale and bias of the content code, predicted from the style (SwAE)."""

    def __init__(self, style_dim, content_ch):
        super().__init__()
        self.scale = EqualLinear(style_dim, content_ch)
        self.bias = EqualLinear(style_dim, content_ch)

    def forward(self, content, regions: RegionStyles):
        size = content.shape[-2:]
        scale = regions.blend(self.scale(regions.styles), size).to(content.dtype)
        bias = regions.blend(self.bias(regions.styles), size).to(content.dtype)
        return content * scale + bias
