"""Named model sizes. "full" is the official Swapping Autoencoder's encoder and generator at 256 px
(its widths, reflection padding and [1, 2, 1] filter in the encoder, no padding in the style head,
and its demodulation; tests/test_swae_convert.py checks it on official weights); "small" divides
every width by 4 so that encoder + generator fit in under 20 MB as fp16 safetensors (with the
defaults' zero padding and StyleGAN2 demodulation, as the bundled model was trained)."""

from typing import Optional

from .discriminator import TCPDiscriminator
from .encoder import TCPEncoder
from .generator import TCPGenerator
from .patch_discriminator import TCPPatchDiscriminator

PRESETS = {
    "full": {
        "encoder": dict(stem_channels=32, block_out_channels=(64, 128, 256, 512), content_channels=8,
                        style_block_channels=(1024, 2048), style_dim=2048,
                        blur_taps=(1, 2, 1), padding_mode="reflect", style_padding=0),
        "generator": dict(content_channels=8, style_dim=2048, head_channels=(256, 512),
                          block_out_channels=(512, 512, 256, 128), demodulation="weight"),
        "discriminator": dict(channel_multiplier=2.0, max_channels=512),
        "patch_discriminator": dict(patch_size=128, channel_multiplier=4.0, max_channels=384,
                                    mlp_channels=(2048, 2048, 1024)),
    },
    "small": {
        "encoder": dict(stem_channels=8, block_out_channels=(16, 32, 64, 128), content_channels=8,
                        style_block_channels=(256, 512), style_dim=512),
        "generator": dict(content_channels=8, style_dim=512, head_channels=(64, 128),
                          block_out_channels=(128, 128, 64, 32)),
        "discriminator": dict(channel_multiplier=0.5, max_channels=128),
        "patch_discriminator": dict(patch_size=64, channel_multiplier=1.0, max_channels=96,
                                    mlp_channels=(512, 512, 256)),
    },
    # For tests: a few thousand parameters, runs in milliseconds on a CPU.
    "tiny": {
        "encoder": dict(stem_channels=4, block_out_channels=(8, 8, 16, 16), content_channels=4,
                        style_block_channels=(16, 16), style_dim=16),
        "generator": dict(content_channels=4, style_dim=16, head_channels=(16, 16),
                          block_out_channels=(16, 16, 8, 8)),
        "discriminator": dict(channel_multiplier=0.0625, max_channels=16),
        "patch_discriminator": dict(patch_size=16, channel_multiplier=0.25, max_channels=16,
                                    mlp_channels=(32,)),
    },
}


# The encoder's and generator's convolution widths, which ``width`` scales (the code shapes stay).
WIDTH_KEYS = {"encoder": ("stem_channels", "block_out_channels", "style_block_channels"),
              "generator": ("head_channels", "block_out_channels")}
MAX_WIDTH = 8.0  # the small preset x 8 is about the full one's size; beyond it a typo more likely than a wish


def _scaled(channels, width: float):
    """``channels`` (an int or a tuple of them) times ``width``, each rounded to a multiple of 8 (at least 8)."""
    if isinstance(channels, int):
        return max(8, 8 * round(channels * width / 8))
    return tuple(_scaled(c, width) for c in channels)


def build_models(preset: str = "full", resolution: int = 256, content_stride: Optional[int] = None,
                 content_channels: Optional[int] = None, width: float = 1.0):
    """Fresh (E, G, D, Dpatch) of a named size for images of ``resolution`` px.

    ``content_stride`` (8 or 16; default the preset's 16) and ``content_channels`` change the content
    code's shape: a stride of 8 drops the encoder's first down-sampling block and the generator's last
    up-sampling block (the content code gets 4x the positions; reconstructions keep more detail, swaps
    may move the style less: SwAE's trade-off). ``width`` multiplies the encoder's and generator's
    convolution widths (`WIDTH_KEYS`, each to the nearest multiple of 8, at least 8; 1 keeps the preset's
    exactly): their parameters grow by between ``width`` (the layers fed by the style vector) and
    ``width**2`` (the convolutions); the small preset at the bundled content code stays under 20 MB of fp16
    up to 1.75. The style vector, the content code and the discriminators keep the preset's sizes.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {sorted(PRESETS)}")
    cfg = PRESETS[preset]
    encoder, generator = dict(cfg["encoder"]), dict(cfg["generator"])
    if content_stride is not None:
        if content_stride not in (8, 16):
            raise ValueError(f"content_stride must be 8 or 16, got {content_stride!r}")
        blocks = {8: 3, 16: 4}[content_stride]
        encoder["block_out_channels"] = tuple(encoder["block_out_channels"])[-blocks:]
        generator["block_out_channels"] = tuple(generator["block_out_channels"])[:blocks]
    if not 0 < width <= MAX_WIDTH:
        raise ValueError(f"width must be a number in (0, {MAX_WIDTH}], got {width!r}")
    if width != 1:
        for part, net in (("encoder", encoder), ("generator", generator)):
            for key in WIDTH_KEYS[part]:
                net[key] = _scaled(net[key], width)
    if content_channels is not None:
        if content_channels < 1:
            raise ValueError(f"content_channels must be >= 1, got {content_channels!r}")
        encoder["content_channels"] = generator["content_channels"] = content_channels
    return (TCPEncoder(**encoder), TCPGenerator(**generator),
            TCPDiscriminator(resolution=resolution, **cfg["discriminator"]),
            TCPPatchDiscriminator(**cfg["patch_discriminator"]))
