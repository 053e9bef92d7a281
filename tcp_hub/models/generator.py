"""The generator G: (content code, one style or K styles with masks) -> image."""

import math
from typing import List, Optional, Sequence, Tuple

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from ..ops import upsample2x_bilinear
from .layers import ConvLayer
from .modulation import ContentModulation, RegionStyles, StyledConv, ToRGB


class _HeadBlock(nn.Module):
    """Resolution-preserving residual block at the content code's resolution."""

    scale = 1  # output side / input side

    def __init__(self, in_ch, out_ch, style_dim, demodulation):
        super().__init__()
        self.conv1 = StyledConv(in_ch, out_ch, 3, style_dim, demodulation=demodulation)
        self.conv2 = StyledConv(out_ch, out_ch, 3, style_dim, demodulation=demodulation)
        self.skip = nn.Identity() if in_ch == out_ch else ConvLayer(in_ch, out_ch, 1, bias=False, activate=False)

    def forward(self, x, regions, noise):
        return (self.conv2(self.conv1(x, regions, noise[0]), regions, noise[1]) + self.skip(x)) / math.sqrt(2)


class _UpBlock(nn.Module):
    """Residual block that doubles the resolution (anti-aliased transposed conv; bilinear skip)."""

    scale = 2  # output side / input side

    def __init__(self, in_ch, out_ch, style_dim, demodulation):
        super().__init__()
        self.conv1 = StyledConv(in_ch, out_ch, 3, style_dim, upsample=True, demodulation=demodulation)
        self.conv2 = StyledConv(out_ch, out_ch, 3, style_dim, demodulation=demodulation)
        self.skip = nn.Identity() if in_ch == out_ch else ConvLayer(in_ch, out_ch, 1)

    def forward(self, x, regions, noise):
        skip = upsample2x_bilinear(self.skip(x))
        return (self.conv2(self.conv1(x, regions, noise[0]), regions, noise[1]) + skip) / math.sqrt(2)


class TCPGenerator(ModelMixin, ConfigMixin):
    """Renders a content code in one style, or in K styles blended by soft masks (TCP).

    Args:
        content_channels: channels of the content code (8).
        style_dim: length of a style vector (2048).
        head_channels: widths of the residual blocks at the content code's resolution.
        block_out_channels: widths of the up-sampling blocks (each doubles the resolution).
        use_noise: whether the model has per-pixel noise inputs (they can still be switched off
            per call with ``noise_mode="none"``).
        demodulation: ``"style"`` (StyleGAN2's, the default of models trained before) or ``"weight"``
            (the official Swapping Autoencoder's, the full preset; see `tcp_hub.models.modulation`).
    """

    @register_to_config
    def __init__(
        self,
        content_channels: int = 8,
        style_dim: int = 2048,
        head_channels: Sequence[int] = (256, 512),
        block_out_channels: Sequence[int] = (512, 512, 256, 128),
        use_noise: bool = True,
        demodulation: str = "style",
    ):
        super().__init__()
        self.content_modulation = ContentModulation(style_dim, content_channels)
        blocks, ch = [], content_channels
        for out_ch in head_channels:
            blocks.append(_HeadBlock(ch, out_ch, style_dim, demodulation))
            ch = out_ch
        for out_ch in block_out_channels:
            blocks.append(_UpBlock(ch, out_ch, style_dim, demodulation))
            ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = ToRGB(ch, style_dim)

    @property
    def upsample_factor(self) -> int:
        return 2 ** len(self.config.block_out_channels)

    def noise_maps(self, content: torch.Tensor, noise_mode: str = "random",
                   generator: Optional[torch.Generator] = None) -> List[Optional[torch.Tensor]]:
        """The per-pixel noise that `forward` adds for ``content [B, C, h, w]``: two maps per block
        (one per styled conv, in the order the layers use them), ``[B, 1, H, W]`` at the block's
        output resolution; ``None`` each with ``noise_mode="none"`` or a model without noise.

        `forward` calls this unless given ``noise``; drawing up front lets a caller reuse one draw
        and keeps ``torch.Generator`` (which Dynamo cannot trace) out of a compiled forward.
        """
        _check_noise_mode(noise_mode)
        if noise_mode == "none" or not self.config.use_noise:
            return [None] * (2 * len(self.blocks))
        device = generator.device if generator is not None else content.device
        return [torch.randn(shape, generator=generator, device=device).to(content.device)
                for shape in self._noise_shapes(content)]

    def _noise_shapes(self, content: torch.Tensor) -> List[Tuple[int, int, int, int]]:
        b, _, h, w = content.shape
        shapes = []
        for block in self.blocks:
            h, w = h * block.scale, w * block.scale
            shapes += [(b, 1, h, w)] * 2
        return shapes

    def _check_noise(self, noise: Sequence[Optional[torch.Tensor]], content: torch.Tensor) -> None:
        shapes = self._noise_shapes(content)
        if len(noise) != len(shapes):
            raise ValueError(f"noise must hold {len(shapes)} maps (see noise_maps), got {len(noise)}")
        for i, (n, shape) in enumerate(zip(noise, shapes)):
            if n is not None and tuple(n.shape) != shape:
                raise ValueError(f"noise map {i} is {tuple(n.shape)} but this content code needs {shape}: "
                                 "draw the maps with noise_maps(content) for the same content")

    def forward(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        masks: Optional[torch.Tensor] = None,
        noise_mode: str = "random",
        generator: Optional[torch.Generator] = None,
        noise: Optional[Sequence[Optional[torch.Tensor]]] = None,
    ) -> torch.Tensor:
        """Render images.

        Args:
            content: ``[B, C, h, w]`` content codes.
            style: ``[B, D]`` one style per image, or ``[B, K, D]`` one per region.
            masks: ``[B, K, H, W]`` soft masks (sum 1 over K per pixel), any resolution; needed
                when K > 1.
            noise_mode: ``"random"`` (drawn from ``generator`` when given, so seeded calls repeat
                exactly) or ``"none"``.
            noise: the maps of `noise_maps`, used instead of drawing (``noise_mode`` and
                ``generator`` are then ignored).

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
            raise ValueError(f"masks must be [B, K, H, W] matching styles {tuple(style.shape[:2])}, "
                             f"got {tuple(masks.shape)}")
        _check_noise_mode(noise_mode)
        if noise is None:
            noise = self.noise_maps(content, noise_mode, generator)
        else:
            self._check_noise(noise, content)
        regions = RegionStyles(style.to(content.dtype), masks)
        x = self.content_modulation(content, regions)
        for i, block in enumerate(self.blocks):
            x = block(x, regions, noise[2 * i:2 * i + 2])
        return self.to_rgb(x, regions)


def _check_noise_mode(noise_mode: str) -> None:
    if noise_mode not in ("random", "none"):
        raise ValueError(f"noise_mode must be 'random' or 'none', got {noise_mode!r}")
