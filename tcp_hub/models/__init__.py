from .discriminator import TCPDiscriminator
from .encoder import EncoderOutput, TCPEncoder
from .generator import TCPGenerator
from .modulation import RegionStyles
from .patch_discriminator import TCPPatchDiscriminator
from .presets import PRESETS, build_models

__all__ = ["TCPEncoder", "EncoderOutput", "TCPGenerator", "TCPDiscriminator", "TCPPatchDiscriminator", "RegionStyles",
           "PRESETS", "build_models"]
