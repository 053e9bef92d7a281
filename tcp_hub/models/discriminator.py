"""The image discriminator D: StyleGAN2's residual discriminator with minibatch stddev."""

import math
from typing import Optional, Sequence

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .layers import ConvLayer, EqualLinear, ResBlock


def channels_at(resolution: int, channel_multiplier: float, max_channels: int) -> int:
    """StyleGAN2's width schedule: 16384 / side x multiplier, capped (512 down to 64 px for multiplier 2)."""
    return min(max_channels, int(16384 // resolution * channel_multiplier))


class TCPDiscriminator(ModelMixin, ConfigMixin):
    """Real/fake logit for whole images.

    Args:
        resolution: input side in pixels (a power of two, >= 8).
        channel_multiplier: width scale (2 gives the official 28.9 M-parameter model at 256 px).
        max_channels: width cap.
        stddev_group: group size of the minibatch standard-deviation feature; 0 for none (the
            official SwAE discriminator has none).
    """

    @register_to_config
    def __init__(self, resolution: int = 256, channel_multiplier: float = 2.0, max_channels: int = 512,
                 stddev_group: int = 4):
        super().__init__()
        log_res = int(math.log2(resolution))
        if 2**log_res != resolution or resolution < 8:
            raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
        ch = channels_at(resolution, channel_multiplier, max_channels)
        layers = [ConvLayer(3, ch, 1)]
        for i in range(log_res, 2, -1):
            out_ch = channels_at(2 ** (i - 1), channel_multiplier, max_channels)
            layers.append(ResBlock(ch, out_ch))
            ch = out_ch
        self.convs = nn.Sequential(*layers)
        self.final_conv = ConvLayer(ch + (1 if stddev_group else 0), ch, 3)
        self.final_linear = nn.Sequential(EqualLinear(ch * 16, ch, activate=True), EqualLinear(ch, 1))

    def forward(self, image: torch.Tensor, batch_sizes: Optional[Sequence[int]] = None) -> torch.Tensor:
        """``[B, 3, R, R]`` -> logits ``[B, 1]``.

        ``batch_sizes``: when ``image`` is several batches concatenated (e.g. reals, then fakes), their
        sizes; the minibatch-stddev feature is then computed within each, so the call equals one call
        per batch (one call launches fewer, larger kernels).
        """
        group = self.config.stddev_group
        x = self.convs(image)
        if batch_sizes is not None and sum(batch_sizes) != image.shape[0]:
            raise ValueError(f"batch_sizes {list(batch_sizes)} add up to {sum(batch_sizes)}, but {image.shape[0]} "
                             "images were given")
        if group and batch_sizes is None:
            x = minibatch_stddev(x, group)
        elif group:
            x = torch.cat([minibatch_stddev(chunk, group) for chunk in x.split(list(batch_sizes))])
        return self.final_linear(self.final_conv(x).flatten(1))


def minibatch_stddev(x: torch.Tensor, group: int) -> torch.Tensor:
    """Append the mean over channels and pixels of the per-group standard deviation as a feature map."""
    b, c, h, w = x.shape
    g = min(group, b)
    while b % g:
        g -= 1
    y = x.float().view(g, -1, c, h, w)
    y = torch.sqrt(y.var(0, unbiased=False) + 1e-8).mean(dim=(1, 2, 3))  # [B/g]
    # [B, 1, h, w] with channels-last strides, so a channels-last x stays so after the concatenation
    y = y.view(-1, 1, 1, 1).repeat(g, h, w, 1).permute(0, 3, 1, 2).to(x.dtype)
    return torch.cat([x, y], dim=1)
