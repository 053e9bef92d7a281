"""The encoder E: image -> (content code, style code)."""

from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .layers import ConvLayer, EqualLinear, ResBlock


class TCPEncoder(ModelMixin, ConfigMixin):
    """Splits an image into a spatial content code and a global style vector (SwAE's encoder).

    Args:
        stem_channels: width of the 1x1 RGB stem (32 at full size).
        block_out_channels: widths of the residual down-sampling blocks; their number sets the
            content code's stride (4 blocks -> H/16).
        content_channels: channels of the content code (8).
        style_block_channels: widths of the stride-2 3x3 convs of the style head.
        style_dim: length of the style vector (2048).

    Inputs are RGB in [-1, 1], ``[B, 3, H, W]`` with H and W multiples of ``downsample_factor``.
    """

    _supports_gradient_checkpointing = False

    @register_to_config
    def __init__(
        self,
        stem_channels: int = 32,
        block_out_channels: Sequence[int] = (64, 128, 256, 512),
        content_channels: int = 8,
        style_block_channels: Sequence[int] = (1024, 2048),
        style_dim: int = 2048,
    ):
        super().__init__()
        self.from_rgb = ConvLayer(3, stem_channels, 1)
        blocks, ch = [], stem_channels
        for out_ch in block_out_channels:
            blocks.append(ResBlock(ch, out_ch))
            ch = out_ch
        self.trunk = nn.Sequential(*blocks)
        self.content_head = nn.Sequential(
            ConvLayer(ch, ch, 1),
            ConvLayer(ch, content_channels, 1, activate=False),
        )
        style_layers = []
        for out_ch in style_block_channels:
            style_layers.append(ConvLayer(ch, out_ch, 3, downsample=True, blur_taps=(1,)))
            ch = out_ch
        self.style_convs = nn.Sequential(*style_layers)
        self.style_linear = EqualLinear(ch, style_dim)

    @property
    def downsample_factor(self) -> int:
        return 2 ** len(self.config.block_out_channels)

    def forward(self, image: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``image [B, 3, H, W]`` -> ``content [B, C, H/16, W/16]``, ``style [B, D]`` (both L2-normalised)."""
        trunk = self.trunk(self.from_rgb(image))
        content = F.normalize(self.content_head(trunk).float(), dim=1)
        style = self.style_linear(self.style_convs(trunk).mean(dim=(2, 3)))
        style = F.normalize(style.float(), dim=1)
        return content.to(image.dtype), style.to(image.dtype)
