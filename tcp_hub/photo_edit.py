"""Apply a generator's edit to the photo itself, as a smooth change of colour and light.

The generator's swap ``G(c, s_new)`` re-draws the whole picture: with the reference's colours come its
textures (a dog in a field's style turns into foliage) and the generator's own blur. The *edit* is what
the new style changes, ``G(c, s_new) - G(c, s_own)``; its smooth part, filtered edge-aware with the photo
as the guide (He et al., "Guided Image Filtering", 2010), recolours and relights the photo while every
edge and texture of the photo stays. `TCPPipeline`'s ``texture`` mixes this with the generator's own
rendering (benchmarks/edit_texture.py measures the trade-off).
"""

import torch
import torch.nn.functional as F

from .image_io import resize_tensor

# The guided filter's window radius (px at the working size: two cells of the bundled model's 8-px content
# code) and its regulariser (on the photo's grey level in [-1, 1]); chosen by benchmarks/edit_texture.py.
EDIT_RADIUS = 16
EDIT_EPS = 0.01


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


def smooth_edit(photo: torch.Tensor, working_photo: torch.Tensor, edited: torch.Tensor,
                reconstruction: torch.Tensor, radius: int = EDIT_RADIUS, eps: float = EDIT_EPS) -> torch.Tensor:
    """The photo with the smooth part of the generator's edit added.

    Args:
        photo: ``[B, 3, H, W]`` in [-1, 1], at the size of the output.
        working_photo: ``[B, 3, h, w]`` the photo at the working size (the guide).
        edited: ``[B, 3, h, w]`` the generator's rendering with the new style(s).
        reconstruction: ``[B, 3, h, w]`` its rendering of the photo with the photo's own style.

    Returns:
        ``[B, 3, H, W]``, not clamped: ``photo`` exactly where the edit changes nothing.
    """
    change = guided_filter(edited.float() - reconstruction.float(), working_photo, radius, eps)
    return photo.float() + resize_tensor(change, tuple(photo.shape[-2:]))
