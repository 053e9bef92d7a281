"""Moving and copying content on the content code's grid (`TCPPipeline.paste_content`).

The content code holds one vector per cell of ``stride`` x ``stride`` pixels (16 for the bundled
model), so content moves by whole cells: a pixel offset is rounded to the nearest cell. Pasting
replaces the target cells' code by the source's, in proportion to how much of each source cell the
mask covers (a fully covered cell takes exactly the source's code), and renormalises it as the
encoder does.
"""

from typing import Tuple

import torch
import torch.nn.functional as F


def offset_in_cells(offset: Tuple[float, float], scale: float, stride: int) -> Tuple[int, int]:
    """A ``(dx, dy)`` offset in pixels of the input -> whole content-code cells ``(cx, cy)``.

    ``scale`` is the working size over the input's size; rounding is to the nearest cell.
    """
    return tuple(int(round(float(d) * scale / stride)) for d in offset)


def shift_cells(x: torch.Tensor, cells: Tuple[int, int]) -> torch.Tensor:
    """Shift ``x [B, C, h, w]`` by ``cells = (cx, cy)`` (right and down are positive), filling with zeros;
    what moves past the border is dropped."""
    cx, cy = cells
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(cx) >= w or abs(cy) >= h:
        return out
    out[..., max(cy, 0):h + min(cy, 0), max(cx, 0):w + min(cx, 0)] = \
        x[..., max(-cy, 0):h - max(cy, 0), max(-cx, 0):w - max(cx, 0)]
    return out


def paste_codes(content: torch.Tensor, source: torch.Tensor, coverage: torch.Tensor, cells: Tuple[int, int]
                ) -> Tuple[torch.Tensor, torch.Tensor, bool]:
    """Place the ``source`` code under ``coverage`` at ``cells`` from where it is, into ``content``.

    Args:
        content, source: content codes ``[B, C, h, w]`` on one grid (L2-normalised per cell).
        coverage: ``[B, 1, h, w]`` in [0, 1]: how much of each source cell the mask covers.
        cells: ``(cx, cy)`` offset in cells.

    Returns:
        the new code ``[B, C, h, w]``, where it changed ``placed [B, 1, h, w]`` (the shifted coverage),
        and whether part of the pasted region fell outside the grid (and was dropped).
    """
    placed = shift_cells(coverage, cells)
    clipped = bool(placed.sum() < coverage.sum() - 1e-6)
    moved = shift_cells(source * coverage, cells)  # source code weighted by its coverage, at the target
    mixed = content * (1 - placed) + moved
    return F.normalize(mixed.float(), dim=1).to(content.dtype), placed, clipped


def coverage_on_grid(mask: torch.Tensor, grid: Tuple[int, int], stride: int) -> torch.Tensor:
    """``mask [B, 1, h, w]`` at the working size -> the fraction of each ``stride``-px cell it covers,
    ``[B, 1, *grid]`` (cells past the image's right or bottom edge, on the padding, are empty)."""
    h, w = mask.shape[-2:]
    padded = F.pad(mask, (0, grid[1] * stride - w, 0, grid[0] * stride - h))
    return F.avg_pool2d(padded, stride)
