"""The patch co-occurrence discriminator Dpatch: do these patches share the reference patches' texture?"""

import math

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .layers import ConvLayer, EqualLinear, ResBlock


class TCPPatchDiscriminator(ModelMixin, ConfigMixin):
    """SwAE's co-occurrence discriminator: a residual patch encoder and an MLP on
    ``[patch feature, mean feature of the reference patches]``.

    Args:
        patch_size: side of the (resampled) patches, a power of two >= 16 (128 official, 64 cheaper).
        channel_multiplier: width scale (4 gives the official 24.5 M parameters at 128 px).
        max_channels: width cap of the encoder (384).
        mlp_channels: widths of the MLP's hidden layers.
    """

    @register_to_config
    def __init__(self, patch_size: int = 128, channel_multiplier: float = 4.0, max_channels: int = 384,
                 mlp_channels=(2048, 2048, 1024)):
        super().__init__()
        log_size = int(math.log2(patch_size))
        if 2**log_size != patch_size or patch_size < 16:
            raise ValueError(f"patch_size must be a power of two >= 16, got {patch_size}")

        def width(res):
            return min(max_channels, int(1024 // res * channel_multiplier))

        ch = width(patch_size)
        layers = [ConvLayer(3, ch, 3)]
        for i in range(log_size, 2, -1):
            out_ch = width(2 ** (i - 1))
            layers.append(ResBlock(ch, out_ch))
            ch = out_ch
        layers.append(ResBlock(ch, max_channels * 2, downsample=False))
        layers.append(_ValidConv(max_channels * 2, max_channels))  # 4x4 -> 2x2
        self.encoder = nn.Sequential(*layers)
        mlp, dim = [], max_channels * 4 * 2
        for hidden in mlp_channels:
            mlp.append(EqualLinear(dim, hidden, activate=True))
            dim = hidden
        mlp.append(EqualLinear(dim, 1))
        self.mlp = nn.Sequential(*mlp)

    def features(self, patches: torch.Tensor) -> torch.Tensor:
        """``[B, T, 3, P, P]`` patches -> ``[B, T, F]`` features."""
        b, t = patches.shape[:2]
        x = patches.flatten(0, 1)
        if self.encoder[0][0].weight.is_contiguous(memory_format=torch.channels_last):
            # a channels-last model (training): else cuDNN converts the crops in each backward
            x = x.contiguous(memory_format=torch.channels_last)
        return self.encoder(x).flatten(1).view(b, t, -1)

    def forward(self, patches: torch.Tensor, reference_patches: torch.Tensor) -> torch.Tensor:
        """Logit per patch that it co-occurs with the references.

        Args:
            patches: ``[B, T, 3, P, P]`` patches to judge.
            reference_patches: ``[B, R, 3, P, P]`` patches of the reference image of each batch item.

        Returns:
            ``[B, T]`` logits.
        """
        feat = self.features(patches)
        ref = self.features(reference_patches).mean(dim=1, keepdim=True).expand_as(feat)
        return self.mlp(torch.cat([ref, feat], dim=2)).squeeze(2)


class _ValidConv(ConvLayer):
    """3x3 conv without padding (4x4 -> 2x2), as in SwAE's last patch-encoder layer."""

    def __init__(self, in_ch, out_ch):
        super().__init__(in_ch, out_ch, 3)
        self[0].padding = 0
