"""tcp-hub: region-wise image manipulation (TCP, ACM MM 2021) on the Swapping Autoencoder."""

from .convert_swae import SWAE_PRESETS, convert_swae_checkpoint
from .errors import ImageTooLarge, InputError
from .models import (PRESETS, EncoderOutput, TCPDiscriminator, TCPEncoder, TCPGenerator, TCPPatchDiscriminator,
                     build_models)
from .pipeline import TCPPipeline, load_pipeline

__version__ = "0.1.0"  # the package's one version: pyproject.toml reads it from here

__all__ = ["TCPPipeline", "load_pipeline", "TCPEncoder", "EncoderOutput", "TCPGenerator", "TCPDiscriminator",
           "TCPPatchDiscriminator", "build_models", "PRESETS", "InputError", "ImageTooLarge", "convert_swae_checkpoint",
           "SWAE_PRESETS", "__version__"]
