"""The generator G: (content code, one style or K styles with masks) -> image."""

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .layers import ConvLayer
from .modulation import ContentModulation, NoiseSource, RegionStyles, StyledConv, ToRGB


class _HeadBlock(nn.Module):
    """Resolution-preserving residual block at the content code's resolution."""

    def __init__(self, in_ch, out_ch, style_dim):
        super().__init__()
        self.conv1 = StyledConv(in_ch, out_ch, 3, style_dim)
        self.conv2 = StyledConv(out_ch, out_ch, 3, style_dim)
        self.skip = nn.Identity() if in_ch == out_ch else ConvLayer(in_ch, out_ch, 1, bias=False, activate=False)

    def forward(self, x, regions, noise):
        return (self.conv2(self.conv1(x, regions, noise), regions, noise) + self.skip(x)) / math.sqrt(2)


class _UpBlock(nn.Module):
    """Residual block that doubles the resolution (anti-aliased transposed conv; bilinear skip)."""

    def __init__(self, in_ch, out_ch, style_dim):
        super().__init__()
        self.conv1 = StyledConv(in_ch, out_ch, 3, style_dim, upsample=True)
        self.conv2 = StyledConv(out_ch, out_ch, 3, style_dim)
        self.skip = nn.Identity() if in_ch == out_ch else ConvLayer(in_ch, out_ch, 1)

    def forward(self, x, regions, noise):
        skip = F.interpolate(self.skip(x), scale_factor=2, mode="bilinear", align_corners=False)
        return (self.conv2(self.conv1(x, regions, noise), regions, noise) + skip) / math.sqrt(2)


class TCPGenerator(ModelMixin, ConfigMixin):
    """Renders a content code in one style, or in K styles blended by soft masks (TCP).

    Args:
        content_channels: channels of the content code (8).
        style_dim: length of a style vector (2048).
        head_channels: widths of the residual blocks at the content code's resolution.
        block_out_channels: widths of the up-sampling blocks (each doubles the resolution).
        use_noise: whether the model has per-pixel noise inputs (they can still be switched off
            per call with ``noise_mode="none"``).
    """

    @register_to_config
    def __init__(
        self,
        content_channels: int = 8,
        style_dim: int = 2048,
        head_channels: Sequence[int] = (256, 512),
        block_out_channels: Sequence[int] = (512, 512, 256, 128),
        use_noise: bool = True,
    ):
        super().__init__()
        self.content_modulation = ContentModulation(style_dim, content_channels)
        blocks, ch = [], content_channels
        for out_ch in head_channels:
            blocks.append(_HeadBlock(ch, out_ch, style_dim))
            ch = out_ch
        for out_ch in block_out_channels:
            blocks.append(_UpBlock(ch, out_ch, style_dim))
            ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = ToRGB(ch, style_dim)

    @property
    def upsample_factor(self) -> int:
        return 2 ** len(self.config.block_out_channels)

    def _noise_source(self, noise_mode: str, generator: Optional[torch.Generator]) -> NoiseSource:
        if noise_mode not in ("random", "none"):
            raise ValueError(f"noise_mode must be 'random' or 'none', got {noise_mode!r}")
        if noise_mode == "none" or not self.config.use_noise:
            return lambda x: None

        def draw(x):
            device = generator.device if generator is not None else x.device
            n = torch.randn((x.shape[0], 1, *x.shape[2:]), generator=generator, device=device)
            return n.to(x.device)

        return draw

    def forward(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        masks: Optional[torch.Tensor] = None,
        noise_mode: str = "random",
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """Render images.

        Args:
            content: ``[B, C, h, w]`` content codes.
            style: ``[B, D]`` one style per image, or ``[B, K, D]`` one per region.
            masks: ``[B, K, H, W]`` soft masks (sum 1 over K per pixel), any resolution; needed
                when K > 1.
            noise_mode: ``"random"`` (drawn from ``generator`` when given, so seeded calls repeat
                exactly) or ``"none"``.

        Returns:
            ``[B, 3, h * 16, w * 16]`` images, roughly in [-1, 1].
        """
        if style.ndim == 2:
            style = style[:, None]
        if style.ndim != 3 or style.shape[0] != content.shape[0]:
            raise ValueError(f"style must be [B, D] or [B, K, D] with B={content.shape[0]}, got {tuple(style.shape)}")
        if masks is None and style.shape[1] != 1:
            raise ValueError(f"{style.shape[1]} styles per image need masks [B, K, H, W] saying where each applies")
        if masks is not None and (masks.ndim != 4 or masks.shape[:2] != style.shape[:2]):
            raise ValueError(f"masks must be [B, K, H, W] matching styles {tuple(style.shape[:2])}, got {tuple(masks.shape)}")
        regions = RegionStyles(style.to(content.dtype), masks)
        noise = self._noise_source(noise_mode, generator)
        x = self.content_modulation(content, regions)
        for block in self.blocks:
            x = block(x, regions, noise)
        return self.to_rgb(x, regions)
