"""User-painted region masks: loading, size checks, feathering, and turning them into the soft
per-region weights the generator blends styles with. The pipeline, the CLI and the app all go
through these functions."""

import math
import os
import warnings
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .errors import InputError
from .image_io import gaussian_blur, open_image_file, pad_to_multiple

MaskInput = Union[str, os.PathLike, Image.Image, np.ndarray, torch.Tensor]


def load_mask(source: MaskInput, index: int = 0, max_side: Optional[int] = None,
              name: Optional[str] = None) -> torch.Tensor:
    """A mask from a file, PIL image, array or tensor -> ``[H, W]`` float32 in [0, 1].

    Images with transparency use their alpha (what a brush painted); other images use their
    luminance. Arrays and tensors may be bool, uint8 (0..255) or float in [0, 1]. A file whose longest
    side exceeds ``max_side`` is refused before it is decoded. ``name`` is how errors call it (default
    ``"mask <index + 1>"``).
    """
    name = name or f"mask {index + 1}"
    if isinstance(source, (str, os.PathLike)):
        source = open_image_file(source, name, max_side)
    if isinstance(source, Image.Image):
        has_alpha = source.mode in ("RGBA", "LA", "PA") or "transparency" in source.info
        if has_alpha:
            alpha = np.asarray(source.convert("RGBA"))[..., 3]
            if alpha.min() < 255:
                return torch.from_numpy(alpha.astype(np.float32) / 255.0)
        return torch.from_numpy(np.asarray(source.convert("L"), dtype=np.float32) / 255.0)
    if isinstance(source, np.ndarray):
        source = torch.from_numpy(np.ascontiguousarray(source))
    if not isinstance(source, torch.Tensor):
        raise InputError(f"{name} must be a file path, PIL image, numpy array or torch tensor; "
                         f"got {type(source).__name__}")
    m = source.detach().cpu()
    while m.ndim > 2 and m.shape[0] == 1:
        m = m[0]
    if m.ndim == 3 and m.shape[-1] in (1, 3, 4):  # [H, W, C] array: use the first channel
        m = m[..., -1] if m.shape[-1] == 4 else m[..., 0]
    if m.ndim != 2:
        raise InputError(f"{name} must be a 2-D [H, W] array; got shape {tuple(source.shape)}")
    if m.dtype == torch.bool:
        return m.float()
    if m.dtype == torch.uint8:
        return m.float() / 255.0
    m = m.float()
    if not torch.isfinite(m).all():
        raise InputError(f"{name} contains NaN or infinite values")
    lo, hi = m.min().item(), m.max().item()
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise InputError(f"{name} must hold values in [0, 1] (or be uint8 0..255); got [{lo:.3g}, {hi:.3g}]")
    return m.clamp(0, 1)


def fit_mask(mask: torch.Tensor, size: Tuple[int, int], index: int = 0, resize_mask: bool = True,
             name: Optional[str] = None, image: str = "the image") -> torch.Tensor:
    """Bring ``[H, W]`` mask to the image's ``size`` (H, W), warning when it had to be resized.

    ``name`` and ``image`` are how messages call the mask (default ``"mask <index + 1>"``) and its image.
    """
    if tuple(mask.shape) == tuple(size):
        return mask
    msg = f"{name or f'mask {index + 1}'} is {mask.shape[1]}x{mask.shape[0]} but {image} is {size[1]}x{size[0]}"
    if not resize_mask:
        raise InputError(msg + "; give a mask of the image's size, or let masks be resized to the image "
                         "(resize_mask=True in Python; the command line's default without --no_resize_mask)")
    warnings.warn(msg + "; the mask was resized to the image (resize_mask=False in Python or --no_resize_mask "
                  "on the command line refuses instead)", stacklevel=3)
    return F.interpolate(mask[None, None], size=size, mode="bilinear", align_corners=False)[0, 0].clamp(0, 1)


def feather(mask: torch.Tensor, radius: float) -> torch.Tensor:
    """Soften ``[..., H, W]`` mask edges with a Gaussian blur of standard deviation ``radius`` px.

    The blur reaches ``ceil(3 * radius)`` px past the painted pixels and no farther.
    """
    return gaussian_blur(mask, radius).clamp(0, 1) if radius > 0 else mask


def grow(mask: torch.Tensor, margin: float) -> torch.Tensor:
    """Extend ``[..., H, W]`` mask by ``margin`` px with a smooth falloff.

    A grey dilation with a smooth ramp, ``out(p) = max_q mask(q) * (1 - smoothstep(|p - q| / margin))``:
    never below ``mask``, its slope at most ``1.5 / margin`` per px, and exactly 0 at ``margin`` px or
    more from every non-zero pixel (so what lies beyond stays untouched).
    """
    if margin <= 0:
        return mask
    reach = int(math.ceil(margin))
    h, w = mask.shape[-2:]
    padded = F.pad(mask.reshape(-1, 1, h, w), (reach,) * 4)
    out = torch.zeros_like(padded[..., :h, :w])
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            t = math.hypot(dy, dx) / margin
            if t >= 1:
                continue
            weight = 1 - t * t * (3 - 2 * t)
            out = torch.maximum(out, weight * padded[..., reach + dy:reach + dy + h, reach + dx:reach + dx + w])
    return out.reshape(mask.shape)


def resample_mask(mask: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Resample ``[B, C, H, W]`` soft masks to ``size`` (H, W): area when shrinking, bilinear when enlarging.

    Unlike bicubic, neither overshoots [0, 1] nor spreads a mask more than one source pixel.
    """
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    if mask.shape[-2] >= size[0] and mask.shape[-1] >= size[1]:
        return F.interpolate(mask, size=size, mode="area")
    return F.interpolate(mask, size=size, mode="bilinear", align_corners=False)


def prepare_masks(masks: Sequence[MaskInput], size: Tuple[int, int], resize_mask: bool = True,
                  max_side: Optional[int] = None) -> torch.Tensor:
    """Load and size-check user masks -> ``[K, H, W]`` in [0, 1]. Empty masks warn; mask files over
    ``max_side`` px are refused before decoding."""
    out = []
    for i, src in enumerate(masks):
        m = fit_mask(load_mask(src, i, max_side), size, i, resize_mask)
        if not (m > 0).any():
            warnings.warn(f"mask {i + 1} has no painted pixel; its region is left unedited", stacklevel=3)
        out.append(m)
    return torch.stack(out) if out else torch.zeros(0, *size)


def prepare_style_mask(source: MaskInput, size: Tuple[int, int], index: int = 0, resize_mask: bool = True,
                       max_side: Optional[int] = None) -> Optional[torch.Tensor]:
    """Load the mask of style reference ``index`` -> ``[H, W]`` in [0, 1] at the reference's ``size``, with
    the rules of region masks (resized with a warning unless ``resize_mask=False``; files over ``max_side``
    refused). ``None``, with a warning, when nothing is painted: the whole reference is used."""
    name, image = f"style mask {index + 1}", f"style image {index + 1}"
    m = fit_mask(load_mask(source, index, max_side, name), size, index, resize_mask, name, image)
    if not (m > 0).any():
        warnings.warn(f"{name} has no painted pixel; the style is taken from the whole of {image}", stacklevel=3)
        return None
    return m


def region_weights(masks: torch.Tensor) -> torch.Tensor:
    """``[K, H, W]`` region masks -> ``[K + 1, H, W]`` weights summing to 1 per pixel.

    Index 0 is the unedited image (what no mask covers); where painted regions overlap to more
    than 1 they share the pixel in proportion to their masks.
    """
    total = masks.sum(0, keepdim=True)
    regions = masks / total.clamp(min=1.0)
    return torch.cat([1 - regions.sum(0, keepdim=True), regions], dim=0).clamp(0, 1)


def two_regions(mask: torch.Tensor) -> torch.Tensor:
    """``[B, 1, H, W]`` mask of one edited region -> ``[B, 2, H, W]`` generator weights (unedited, edited)."""
    return torch.cat([1 - mask, mask], dim=1)


def generator_weights(masks: Sequence[MaskInput], original: Tuple[int, int], working: Tuple[int, int],
                      multiple: int, feather_px: float = 0.0, resize_mask: bool = True,
                      max_side: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """User masks -> what the generator blends styles with, in one call.

    Masks are loaded and checked at the image's ``original`` size (H, W) (`prepare_masks`), resampled
    to the ``working`` size (h, w), feathered by ``feather_px``, turned into `region_weights` and
    padded like the image (mirrored to multiples of ``multiple``).

    Returns:
        weights ``[1, K + 1, h', w']`` summing to 1 per pixel (index 0: unedited), and how much of each
        pixel the masks edit, ``edited [1, 1, h, w]`` (unpadded).
    """
    region = prepare_masks(masks, original, resize_mask=resize_mask, max_side=max_side)
    region = feather(resample_mask(region[None], working).clamp(0, 1), feather_px)[0]
    weights = region_weights(region)  # [K + 1, h, w]
    return pad_to_multiple(weights[None], multiple), (1 - weights[:1])[None]


def connected_to(mask: torch.Tensor, seed: Tuple[int, int]) -> torch.Tensor:
    """The 8-connected part of boolean ``mask [h, w]`` that contains pixel ``seed`` (row, col)."""
    allowed = mask.float()[None, None]
    grown = torch.zeros_like(allowed)
    grown[..., seed[0], seed[1]] = 1
    while True:  # geodesic dilation: grow inside the mask until nothing changes
        nxt = F.max_pool2d(grown, 3, 1, 1) * allowed
        if torch.equal(nxt, grown):
            return grown[0, 0] > 0
        grown = nxt


def outline(mask: torch.Tensor, width: int = 2) -> torch.Tensor:
    """Boolean outline (``width`` px to each side of the edge) of a mask's painted region, ``[..., H, W]``
    -> the same shape; for drawing regions over a result."""
    m = (mask > 0.5).float().reshape(-1, 1, *mask.shape[-2:])
    k = 2 * width + 1
    dilated = F.max_pool2d(m, k, 1, width)
    eroded = -F.max_pool2d(-m, k, 1, width)
    return ((dilated - eroded) > 0).reshape(mask.shape)
