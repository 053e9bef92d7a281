"""Apply a generator's edit to the photo itself, as a smooth change of colour and light.

The generator's swap ``G(c, s_new)`` re-draws the whole picture: with the reference's colours come its
textures (a dog in a field's style turns into foliage) and the generator's own blur. The *edit* is what
the new style changes, ``G(c, s_new) - G(c, s_own)``; its smooth part, filtered edge-aware with the photo
as the guide (He et al., "Guided Image Filtering", 2010), recolours and relights the photo while every
edge and texture of the photo stays. `TCPPipeline`'s ``texture`` mixes this with the generator's own
rendering (benchmarks/edit_texture.py measures the trade-off).

In a region edit the generator blends the styles in its coarse feature maps, so its change fades over a few
cells next to unpainted areas: left as it is, a ring of the photo's own colour would stay inside the paint around
every unpainted object. `fill_from_interior` carries the change of the region's interior out to its edge.
"""

from typing import Optional

import torch
import torch.nn.functional as F

from .image_io import resize_tensor

# The guided filter's window radius (px at the working size: two cells of the bundled model's 8-px content
# code) and its regulariser (on the photo's grey level in [-1, 1]); chosen by benchmarks/edit_texture.py.
EDIT_RADIUS = 16
EDIT_EPS = 0.01
# How far (px at the working size: three cells of the bundled model's content code) inside a painted region's edge
# the change is taken from the region's interior; chosen on the held-out photos' region edits (benchmarks/RESULTS.md).
REGION_FILL = 24


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean of ``[B, C, H, W]`` over the (2r + 1)^2 window around each pixel, the part inside the picture.

    Separable (a column pass, then a row pass): the in-picture part of a window is a rectangle, so the two means
    of means equal the window's mean, at 2 (2r + 1) rather than (2r + 1)^2 operations per pixel.
    """
    if radius < 1:
        return x
    k = 2 * radius + 1
    x = F.avg_pool2d(x, (k, 1), stride=1, padding=(radius, 0), count_include_pad=False)
    return F.avg_pool2d(x, (1, k), stride=1, padding=(0, radius), count_include_pad=False)


def guided_filter(src: torch.Tensor, guide: torch.Tensor, radius: int = EDIT_RADIUS,
                  eps: float = EDIT_EPS) -> torch.Tensor:
    """Smooth ``src [B, C, H, W]`` except across the edges of ``guide [B, 3, H, W]`` (in [-1, 1]).

    In each window ``src`` is fitted as ``a * grey(guide) + b`` (ridge ``eps``); the fits are averaged. A
    constant ``src`` comes back unchanged; where the guide is flat the result is ``src``'s window mean.
    """
    src, grey = src.float(), guide.float().mean(1, keepdim=True)
    mean_g, mean_s = box_mean(grey, radius), box_mean(src, radius)
    a = (box_mean(grey * src, radius) - mean_g * mean_s) / (box_mean(grey * grey, radius) - mean_g ** 2 + eps)
    b = mean_s - a * mean_g
    return box_mean(a, radius) * grey + box_mean(b, radius)


def erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """The minimum of ``mask [B, 1, H, W]`` over the (2r + 1)^2 window around each pixel; the picture's border
    does not erode (a region that reaches it stays whole there). Separable, like `box_mean`."""
    if radius < 1:
        return mask
    k = 2 * radius + 1  # separable, like box_mean: a column pass, then a row pass
    x = -F.max_pool2d(-F.pad(mask, (0, 0, radius, radius), mode="replicate"), (k, 1), stride=1)
    return -F.max_pool2d(-F.pad(x, (radius, radius, 0, 0), mode="replicate"), (1, k), stride=1)


def fill_from_interior(change: torch.Tensor, region: torch.Tensor, width: int = REGION_FILL) -> torch.Tensor:
    """``change [B, C, H, W]`` with its values near the edge of ``region [1, 1, H, W]`` (0..1) replaced by the
    mean change of the region's interior within ``2 * width`` px.

    The interior is where ``region`` is fully painted ``width`` px around. The change is carried over the
    ``width`` px inside the edge and as far past it, so that a guided filter does not dilute it at the edge
    (`smooth_edit` keeps the result only inside the region). Pixels with no interior that near (thin strokes,
    everything farther outside) keep their own change.
    """
    inside = (erode(region.float(), width) > 0.99).float()
    num, den = box_mean(change * inside, 2 * width), box_mean(inside, 2 * width)
    carried = torch.where(den > 1e-3, num / den.clamp_min(1e-3), change)
    return torch.lerp(carried, change, inside)


def smooth_edit(photo: torch.Tensor, working_photo: torch.Tensor, edited: torch.Tensor,
                reconstruction: torch.Tensor, region: Optional[torch.Tensor] = None, radius: int = EDIT_RADIUS,
                eps: float = EDIT_EPS) -> torch.Tensor:
    """The photo with the smooth part of the generator's edit added.

    Args:
        photo: ``[B, 3, H, W]`` in [-1, 1], at the size of the output.
        working_photo: ``[B, 3, h, w]`` the photo at the working size (the guide).
        edited: ``[B, 3, h, w]`` the generator's rendering with the new style(s).
        reconstruction: ``[B, 3, h, w]`` its rendering of the photo with the photo's own style.
        region: ``[1, 1, h, w]`` how much of each pixel a region edit paints, or ``None`` (a global swap). Inside
            it the change is `fill_from_interior`'s, so the edit keeps its strength up to the paint's edge;
            outside it the generator's own change stays (for ``keep_unedited=False``).

    Returns:
        ``[B, 3, H, W]``, not clamped: ``photo`` exactly where the edit changes nothing.
    """
    change = edited.float() - reconstruction.float()
    smooth = guided_filter(change, working_photo, radius, eps)
    if region is not None:
        region = region.to(smooth)
        filled = guided_filter(fill_from_interior(change, region), working_photo, radius, eps)
        smooth = torch.lerp(smooth, filled, region)
    return photo.float() + resize_tensor(smooth, tuple(photo.shape[-2:]))
