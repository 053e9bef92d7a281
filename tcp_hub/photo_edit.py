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


def _window_mean_1d(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Mean of ``x`` over ``[i - r, i + r]`` along ``dim``, the part inside the picture, from a running sum: the
    same cost for any radius."""
    n = x.shape[dim]
    exact = torch.float32 if x.device.type == "mps" else torch.float64  # a long sum in double; MPS has none
    total = F.pad(x.to(exact).cumsum(dim).movedim(dim, -1), (1, 0)).movedim(-1, dim)  # total[i] = sum of x[:i]
    index = torch.arange(n, device=x.device)
    hi, lo = (index + radius + 1).clamp(max=n), (index - radius).clamp(min=0)
    window = total.index_select(dim, hi) - total.index_select(dim, lo)
    shape = [1] * x.dim()
    shape[dim] = n
    return (window / (hi - lo).view(shape)).to(x.dtype)


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean of ``[B, C, H, W]`` over the (2r + 1)^2 window around each pixel, the part inside the picture.

    Separable (a column pass, then a row pass): the in-picture part of a window is a rectangle, so the two means
    of means equal the window's mean; each pass is a difference of running sums, so large windows (the region
    fill's) cost no more than small ones.
    """
    if radius < 1:
        return x
    return _window_mean_1d(_window_mean_1d(x, radius, 2), radius, 3)


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
    k = 2 * radius + 1
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
    carried = num / den.clamp_min(1e-6)
    # full where at least 1/20 of the window is interior, fading to the pixel's own change where none is
    carried = torch.lerp(change, carried, (den * 20).clamp(max=1))
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
        region: ``[1, K, h, w]`` how much of each pixel each of a region edit's K regions paints (summing to 1
            at most), or ``None`` (a global swap). Inside region k the change is `fill_from_interior`'s from
            region k's own interior, so the edit keeps its strength up to the paint's edge; outside every region
            the generator's own change stays (for ``keep_unedited=False``).

    Returns:
        ``[B, 3, H, W]``, not clamped: ``photo`` exactly where the edit changes nothing.
    """
    change = edited.float() - reconstruction.float()
    smooth = guided_filter(change, working_photo, radius, eps)
    if region is not None:
        region = region.to(smooth)
        painted = region.sum(1, keepdim=True).clamp(max=1)
        # each painted pixel takes its own region's fill; an unpainted one near regions, the fill of the region
        # that covers most of its surroundings (so that the filter does not dilute a fill at its edge); one far
        # from every region, its own change. One filter for all regions.
        cover = box_mean(region, REGION_FILL)
        nearest = F.one_hot(cover.argmax(1), region.shape[1]).movedim(-1, 1).to(cover) * (cover.sum(1, True) > 0)
        share = region + (1 - painted) * nearest
        filled = change * (1 - share.sum(1, keepdim=True))
        for k in range(region.shape[1]):
            filled += share[:, k:k + 1] * fill_from_interior(change, region[:, k:k + 1])
        smooth = torch.lerp(smooth, guided_filter(filled, working_photo, radius, eps), painted)
    return photo.float() + resize_tensor(smooth, tuple(photo.shape[-2:]))
