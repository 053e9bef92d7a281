"""Named model sizes. "full" matches the official Swapping Autoencoder at 256 px; "small" divides
every width by 4 so that encoder + generator fit in under 20 MB as fp16 safetensors."""

PRESETS = {
    "full": {
        "encoder": dict(stem_channels=32, block_out_channels=(64, 128, 256, 512), content_channels=8,
                        style_block_channels=(1024, 2048), style_dim=2048),
        "generator": dict(content_channels=8, style_dim=2048, head_channels=(256, 512),
                          block_out_channels=(512, 512, 256, 128)),
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


def build_models(preset: str = "full", resolution: int = 256):
    """Fresh (E, G, D, Dpatch) of a named size for images of ``resolution`` px."""
    from . import TCPDiscriminator, TCPEncoder, TCPGenerator, TCPPatchDiscriminator

    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {sorted(PRESETS)}")
    cfg = PRESETS[preset]
    return (TCPEncoder(**cfg["encoder"]), TCPGenerator(**cfg["generator"]),
            TCPDiscriminator(resolution=resolution, **cfg["discriminator"]),
            TCPPatchDiscriminator(**cfg["patch_discriminator"]))
