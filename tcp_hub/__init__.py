"""tcp-hub: region-wise image manipulation (TCP, ACM MM 2021) on the Swapping Autoencoder."""

from .errors import ImageTooLarge, InputError
from .models import (PRESETS, TCPDiscriminator, TCPEncoder, TCPGenerator, TCPPatchDiscriminator,
                     build_models)
from .pipeline import TCPPipeline, load_pipeline

__version__ = "0.1.0"

__all__ = ["TCPPipeline", "load_pipeline", "TCPEncoder", "TCPGenerator", "TCPDiscriminator", "TCPPatchDiscriminator",
           "build_models", "PRESETS", "InputError", "ImageTooLarge", "__version__"]
