"""The encoder E: image -> (content code, style code)."""

import warnings
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.utils import BaseOutput
from torch import nn

from .layers import ConvLayer, EqualLinear, ResBlock


@dataclass
class EncoderOutput(BaseOutput):
    """The two codes of `TCPEncoder`, both L2-normalised.

    Args:
        content: spatial content code ``[B, C, H/16, W/16]`` (``H/8`` with a content stride of 8).
        style: global style vector ``[B, D]``.

    The fields default to ``None`` so that ``EncoderOutput({"content": c, "style": s})`` works:
    accelerate's mixed-precision wrapper rebuilds a model's output that way.
    """

    content: torch.Tensor = None
    style: torch.Tensor = None


class TCPEncoder(ModelMixin, ConfigMixin):
    """Splits an image into a spatial content code and a global style vector (SwAE's encoder).

    Args:
        stem_channels: width of the 1x1 RGB stem (32 at full size).
        block_out_channels: widths of the residual down-sampling blocks; their number sets the
            content code's stride (4 blocks -> H/16).
        content_channels: channels of the content code (8).
        style_block_channels: widths of the stride-2 3x3 convs of the style head.
        style_dim: length of the style vector (2048).
        blur_taps: anti-aliasing filter of the trunk's down-sampling blocks.
        padding_mode: ``"zeros"`` or ``"reflect"`` (border mirrored) for the trunk's 3x3 convs.
        style_padding: padding of the style head's stride-2 convs (1 keeps small inputs working;
            the official SwAE uses 0, so its trunk must be at least 7 positions a side).
        sample_size: the image size (px) the model was trained at, which `TCPPipeline` works at by default
            (diffusers' name for it); ``None``: not recorded (the pipeline then works at the image's own size).

    The official Swapping Autoencoder's encoder is ``blur_taps=(1, 2, 1), padding_mode="reflect",
    style_padding=0`` (the full preset); the defaults are those of models trained before.

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
        blur_taps: Sequence[int] = (1, 3, 3, 1),
        padding_mode: str = "zeros",
        style_padding: int = 1,
        sample_size: Optional[int] = None,
    ):
        super().__init__()
        self.from_rgb = ConvLayer(3, stem_channels, 1)
        blocks, ch = [], stem_channels
        for out_ch in block_out_channels:
            blocks.append(ResBlock(ch, out_ch, blur_taps=tuple(blur_taps), padding_mode=padding_mode))
            ch = out_ch
        self.trunk = nn.Sequential(*blocks)
        self.content_head = nn.Sequential(
            ConvLayer(ch, ch, 1),
            ConvLayer(ch, content_channels, 1, activate=False),
        )
        style_layers = []
        for out_ch in style_block_channels:
            style_layers.append(ConvLayer(ch, out_ch, 3, downsample=True, blur_taps=(1,), padding=style_padding))
            ch = out_ch
        self.style_convs = nn.Sequential(*style_layers)
        self.style_linear = EqualLinear(ch, style_dim)

    @property
    def downsample_factor(self) -> int:
        return 2 ** len(self.config.block_out_channels)

    def forward(self, image: torch.Tensor, style_mask: Optional[torch.Tensor] = None, return_dict: bool = True
                ) -> Union[EncoderOutput, Tuple[torch.Tensor, torch.Tensor]]:
        """``image [B, 3, H, W]`` -> `EncoderOutput` (``content [B, C, H/16, W/16]``, ``style [B, D]``), or the
        tuple ``(content, style)`` with ``return_dict=False``.

        ``style_mask [B or 1, 1, H, W]`` in [0, 1] pools the style code over that part of the image only
        (a weighted mean over the style head's feature map, the mask shrunk to it by area); ``None`` or
        an all-ones mask pools over the whole image. A mask with nothing left at that resolution falls
        back to the whole image, with a warning.
        """
        trunk = self.trunk(self.from_rgb(image))
        self._check_style_head_input(trunk)
        content = F.normalize(self.content_head(trunk).float(), dim=1).to(image.dtype)
        style = self.style_linear(self._pool_style(self.style_convs(trunk), style_mask))
        style = F.normalize(style.float(), dim=1).to(image.dtype)
        if not return_dict:
            return content, style
        return EncoderOutput(content=content, style=style)

    def _check_style_head_input(self, trunk: torch.Tensor) -> None:
        side, pad = min(trunk.shape[-2:]), self.config.style_padding
        for _ in self.config.style_block_channels:
            side = (side + 2 * pad - 3) // 2 + 1
        if side < 1:
            height, width = (n * self.downsample_factor for n in trunk.shape[-2:])
            raise ValueError(f"images of {height}x{width} px are too small for this encoder's style head; use at least "
                             f"{self.min_side} px a side")

    @property
    def min_side(self) -> int:
        """The shortest image side (a multiple of ``downsample_factor``) this encoder takes."""
        side, pad = 1, self.config.style_padding
        for _ in self.config.style_block_channels:  # the smallest input of a 3x3 stride-2 conv giving `side`
            side = max(1, 2 * (side - 1) + 3 - 2 * pad)
        return side * self.downsample_factor

    @staticmethod
    def _pool_style(features: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        """``features [B, C, h, w]`` -> ``[B, C]``: their mean, weighted by ``mask`` when given."""
        if mask is None:
            return features.mean(dim=(2, 3))
        weights = F.interpolate(mask.to(features.dtype), size=features.shape[-2:], mode="area")
        weights = weights.expand(features.shape[0], 1, -1, -1)  # [B, 1, h, w]
        total = weights.sum(dim=(2, 3), keepdim=True)
        empty = total <= 0
        if empty.any():
            warnings.warn("a style mask has nothing painted at the style head's resolution; the style "
                          "is taken from the whole image", stacklevel=3)
            weights = torch.where(empty, torch.ones_like(weights), weights)
            total = weights.sum(dim=(2, 3), keepdim=True)
        return (features * (weights / total)).sum(dim=(2, 3))
