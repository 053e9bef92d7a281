"""Differentiable augmentation of discriminator inputs (DiffAugment, Zhao et al. 2020).

Real and fake images get random colour / translation / cutout before every discriminator call, so
a discriminator shown a few dozen photos cannot memorise them; being differentiable, the transforms
pass gradients to the generator and to the un-augmented input (R1, as in stylegan2-ada).
Vectorised over the batch, no host-device sync.
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from tcp_hub.errors import InputError

VALID_POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125  # largest shift, as a fraction of each side
CUTOUT_RATIO = 0.5  # side of the zeroed rectangle, as a fraction of each side


@dataclass
class AugmentParams:
    """Per-image random parameters, None for transforms not in the policy; geometry is stored as
    fractions of the sides, so one draw serves any image size.

    brightness: [B] offset added to every value, in [-0.5, 0.5)
    saturation: [B] factor on each pixel's deviation from its channel mean, in [0, 2)
    contrast: [B] factor on the deviation from the image mean, in [0.5, 1.5)
    translation: [B, 2] (rows, cols) shift of the content as a fraction of (H, W), in
        [-1/8, 1/8]; rounded to whole pixels, the uncovered border is zero
    cutout: [B, 2] (row, col) centre of the zeroed rectangle as a fraction of (H, W), in [0, 1);
        near the border the rectangle is clipped, as in the reference implementation
    """

    brightness: Optional[Tensor] = None
    saturation: Optional[Tensor] = None
    contrast: Optional[Tensor] = None
    translation: Optional[Tensor] = None
    cutout: Optional[Tensor] = None


def check_policy(policy: str) -> str:
    """Normalise a comma-separated policy ("Color, cutout" -> "color,cutout"); "" means none."""
    names = list(dict.fromkeys(n.strip().lower() for n in policy.split(",") if n.strip()))
    unknown = [n for n in names if n not in VALID_POLICIES]
    if unknown:
        raise InputError(f"unknown augmentation {', '.join(map(repr, unknown))} in policy {policy!r}; "
                         f"use a comma-separated subset of {', '.join(VALID_POLICIES)}, or '' for none")
    return ",".join(names)


def _names(policy: str) -> List[str]:
    normalised = check_policy(policy)
    return normalised.split(",") if normalised else []


def draw_params(batch: int, policy: str, generator: Optional[torch.Generator] = None,
                device=None) -> AugmentParams:
    """Draw per-image parameters for `policy` on the generator's device, returned on `device`."""
    draw_device = generator.device if generator is not None else torch.device(device or "cpu")
    device = torch.device(device) if device is not None else draw_device

    def uniform(*shape: int) -> Tensor:
        return torch.rand(shape, generator=generator, device=draw_device).to(device, non_blocking=True)

    p = AugmentParams()
    for name in _names(policy):
        if name == "color":
            p.brightness, p.saturation, p.contrast = uniform(batch) - 0.5, uniform(batch) * 2, uniform(batch) + 0.5
        elif name == "translation":
            p.translation = (uniform(batch, 2) * 2 - 1) * TRANSLATION_RATIO
        else:
            p.cutout = uniform(batch, 2)
    return p


def _color(x: Tensor, p: AugmentParams) -> Tensor:
    """x: [B, ..., C, H, W]; one affine colour map per index b, shared by all of b's crops."""
    shape = (-1,) + (1,) * (x.dim() - 1)
    brightness, saturation, contrast = (v.view(shape).to(x.dtype) for v in (p.brightness, p.saturation, p.contrast))
    x = x + brightness
    grey = x.mean(dim=-3, keepdim=True)
    x = (x - grey) * saturation + grey
    mean = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
    return (x - mean) * contrast + mean


def _pixels(fraction: Tensor, H: int, W: int) -> Tuple[Tensor, Tensor]:
    """[B, 2] fractions of (H, W) -> whole-pixel (rows, cols), each [B, 1]."""
    return (fraction[:, :1] * H).round().long(), (fraction[:, 1:] * W).round().long()


def _translate(x: Tensor, p: AugmentParams) -> Tensor:
    """x: [B, C, H, W]; output pixel (i, j) = input (i - dy, j - dx), zero where that is outside."""
    B, C, H, W = x.shape
    dy, dx = _pixels(p.translation, H, W)
    rows = torch.arange(H, device=x.device) - dy  # [B, H] source row of each output row
    cols = torch.arange(W, device=x.device) - dx  # [B, W]
    keep = (((rows >= 0) & (rows < H))[:, None, :, None] & ((cols >= 0) & (cols < W))[:, None, None, :])
    rows, cols = rows.clamp(0, H - 1), cols.clamp(0, W - 1)
    b = torch.arange(B, device=x.device)[:, None, None]
    if x.is_contiguous():  # NCHW: gather [B, C, H, W] directly
        c = torch.arange(C, device=x.device)[:, None, None]
        out = x[b[..., None], c, rows[:, None, :, None], cols[:, None, None, :]]
    else:  # channels_last: gather [B, H, W, C], whose permuted view is channels_last again
        out = x[b, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    return out * keep.to(x.dtype)


def _cutout(x: Tensor, p: AugmentParams) -> Tensor:
    """x: [B, C, H, W]; zero a rectangle of half of each side around the drawn centre."""
    _, _, H, W = x.shape
    h, w = int(H * CUTOUT_RATIO + 0.5), int(W * CUTOUT_RATIO + 0.5)
    cy, cx = _pixels(p.cutout, H, W)
    r = torch.arange(H, device=x.device) - (cy - h // 2)  # [B, H] row offset inside the hole
    c = torch.arange(W, device=x.device) - (cx - w // 2)
    hole = ((r >= 0) & (r < h))[:, None, :, None] & ((c >= 0) & (c < w))[:, None, None, :]
    return x * (~hole).to(x.dtype)


_APPLY = {"color": (_color, "brightness"), "translation": (_translate, "translation"), "cutout": (_cutout, "cutout")}


def diff_augment(images: Tensor, policy: str = "color,translation,cutout", generator: Optional[torch.Generator] = None,
                 params: Optional[AugmentParams] = None) -> Tensor:
    """Augment `images` [B, C, H, W] (in [-1, 1], any float dtype) with the transforms in `policy`.

    Applied in the order named; `params` (from `draw_params`) replaces the random draw. Returns a
    tensor of the same shape, dtype and memory format; "" returns `images` itself.
    """
    names = _names(policy)
    if not names:
        return images
    if params is None:
        params = draw_params(images.shape[0], policy, generator, images.device)
    x = images
    for name in names:
        apply, field = _APPLY[name]
        if getattr(params, field) is None:
            raise ValueError(f"params has no {field!r}: draw them with a policy that includes {name!r}")
        x = apply(x, params)
    return x


def diff_augment_patches(query: Tensor, reference: Tensor, policy: str = "color",
                         generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    """Augment the co-occurrence discriminator's crops: query [B, T, 3, P, P], reference [B, T2, 3, P, P].

    The discriminator judges whether query crops share colour/texture statistics with reference
    crops of the same image, so image b's colour map (contrast around the mean of all its crops)
    is the same for all of its query and reference crops; translation and cutout, if asked for,
    are drawn per crop. The default is colour only: crops already sit at random positions, and a
    cutout of half a 64-pixel crop removes most of the texture the discriminator should compare.
    Colour is applied before geometry, whatever the order in `policy`.
    """
    names = _names(policy)
    if not names:
        return query, reference
    T = query.shape[1]
    crops = torch.cat([query, reference], dim=1)  # [B, T + T2, 3, P, P]
    if "color" in names:
        crops = _color(crops, draw_params(crops.shape[0], "color", generator, crops.device))
    geometry = ",".join(n for n in names if n != "color")
    if geometry:
        crops = diff_augment(crops.flatten(0, 1), geometry, generator).reshape(crops.shape)
    return crops[:, :T], crops[:, T:]
