"""Training-time image preprocessing: PIL image of any mode -> float tensor ``[3, R, R]`` in [-1, 1].

Three presets follow how the Swapping Autoencoder trains on each kind of data:

- ``"resize"`` (FFHQ, aligned faces): the whole image is resized to R x R.
- ``"resize_crop"`` (LSUN Church): the short side is scaled to R, then an R x R crop is taken at a
  random position (centred when ``train=False``).
- ``"random_crop"`` (large scene photos): a square crop whose side is drawn uniformly between
  ``min_crop_fraction`` and 1.0 of the short side, at a random position, resized to R (the
  centred crop of the full short side when ``train=False``).

In training a random horizontal flip follows (``hflip=True``). Randomness comes from the
``generator`` passed to the call, else from torch's global RNG, so ``torch.manual_seed`` and
DataLoader worker seeding make a run reproducible.
"""

from typing import Callable, Optional, Tuple

import torch
from PIL import Image

from ..image_io import pil_to_tensor, to_rgb  # noqa: F401  (to_rgb: re-exported for the data code)

PRESETS = ("resize", "resize_crop", "random_crop")

_RESAMPLE = Image.Resampling.BICUBIC

Box = Tuple[float, float, float, float]


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float32 ``[3, H, W]`` in [-1, 1]."""
    return pil_to_tensor(image)[0]


def _uniform(generator: Optional[torch.Generator]) -> float:
    return float(torch.rand((), generator=generator))


class ImageTransform:
    """Callable ``(PIL image, generator=None) -> Tensor [3, R, R]`` in [-1, 1]; see the module doc."""

    def __init__(self, preset: str, resolution: int, train: bool = True, hflip: bool = True,
                 min_crop_fraction: float = 0.25):
        if preset not in PRESETS:
            raise ValueError(f"unknown preprocessing preset {preset!r}; choose one of {list(PRESETS)} "
                             "('resize' for aligned faces, 'resize_crop' for LSUN-like photos, "
                             "'random_crop' for large scene photos)")
        if int(resolution) != resolution or resolution < 1:
            raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
        if not 0.0 < min_crop_fraction <= 1.0:
            raise ValueError(f"min_crop_fraction must be in (0, 1], got {min_crop_fraction!r}")
        self.preset = preset
        self.resolution = int(resolution)
        self.train = train
        self.hflip = hflip
        self.min_crop_fraction = float(min_crop_fraction)

    def __repr__(self) -> str:
        return (f"ImageTransform(preset={self.preset!r}, resolution={self.resolution}, train={self.train}, "
                f"hflip={self.hflip}, min_crop_fraction={self.min_crop_fraction})")

    def __call__(self, image: Image.Image, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        image = to_rgb(image)
        r = self.resolution
        if self.preset == "resize":
            image = image.resize((r, r), _RESAMPLE)
        elif self.preset == "resize_crop":
            image = self._resize_crop(image, generator)
        else:
            image = image.resize((r, r), _RESAMPLE, box=self._random_crop_box(image.size, generator))
        if self.train and self.hflip and _uniform(generator) < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return to_tensor(image)

    def _resize_crop(self, image: Image.Image, generator: Optional[torch.Generator]) -> Image.Image:
        r = self.resolution
        w, h = image.size
        scale = r / min(w, h)
        size = (max(r, round(w * scale)), max(r, round(h * scale)))
        image = image.resize(size, _RESAMPLE)
        spare_x, spare_y = size[0] - r, size[1] - r
        if self.train:
            left = int(torch.randint(spare_x + 1, (), generator=generator))
            top = int(torch.randint(spare_y + 1, (), generator=generator))
        else:
            left, top = spare_x // 2, spare_y // 2
        return image.crop((left, top, left + r, top + r))

    def _random_crop_box(self, size: Tuple[int, int], generator: Optional[torch.Generator]) -> Box:
        w, h = size
        short = min(w, h)
        if self.train:
            side = short * (self.min_crop_fraction + (1.0 - self.min_crop_fraction) * _uniform(generator))
            left = (w - side) * _uniform(generator)
            top = (h - side) * _uniform(generator)
        else:
            side = short
            left, top = (w - side) / 2, (h - side) / 2
        return (left, top, left + side, top + side)


def make_transform(preset: str, resolution: int, train: bool = True, hflip: bool = True,
                   min_crop_fraction: float = 0.25) -> Callable[..., torch.Tensor]:
    """The preprocessing of a named preset; ``transform(pil_image, generator=None) -> [3, R, R]``.

    Args:
        preset: "resize" | "resize_crop" | "random_crop" (see the module docstring).
        resolution: R, the side of the square output.
        train: random crops and flips when True; deterministic centre crops, no flip when False.
        hflip: random horizontal flip (probability 0.5) in training.
        min_crop_fraction: smallest crop side of "random_crop", as a fraction of the short side.
    """
    return ImageTransform(preset, resolution, train=train, hflip=hflip, min_crop_fraction=min_crop_fraction)
