"""Sample grids that show how training goes: reconstruction, swap and region edit, as one PNG.

Rows of the grid (one column per image, N even):
1. the inputs x;
2. reconstructions G(c, s);
3. swaps G(c, s') with the style of the image N/2 columns away;
4. region edits G(c, [s, s'], [1 - M, M]) with the mask's outline drawn in red.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..losses import swap_partner
from ..masks import outline, two_regions
from ..training_masks import random_masks

OUTLINE_RGB = (1.0, -1.0, -1.0)  # red, in [-1, 1]


def draw_outline(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Paint the outline of ``mask [B, 1, H, W]`` onto ``images [B, 3, H, W]`` (in [-1, 1])."""
    edge = outline(mask, width=1).to(images.dtype)
    colour = torch.tensor(OUTLINE_RGB, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return images * (1 - edge) + colour * edge


@torch.no_grad()
def sample_grid(encoder, generator, images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The sample grid for ``images [N, 3, H, W]`` in [-1, 1] -> ``[3, 4H, NW]`` in [-1, 1].

    Masks and generator noise come from ``seed``, so grids of successive steps are comparable.
    """
    n, _, h, w = images.shape
    device = next(generator.parameters()).device
    x = images.to(device, torch.float32)
    partner = swap_partner(n).to(device)
    codes = encoder(x)
    content, style = codes.content, codes.style
    mask = random_masks(n, h, w, generator=torch.Generator().manual_seed(seed)).to(device)

    def render(styles, masks=None):
        return generator(content, styles, masks, generator=torch.Generator(device=device).manual_seed(seed)).float()

    rec = render(style)
    swap = render(style[partner])
    edit = render(torch.stack([style, style[partner]], 1), two_regions(mask))
    rows = [x, rec, swap, draw_outline(edit, mask)]
    grid = torch.cat([torch.cat(list(r.clamp(-1, 1)), dim=2) for r in rows], dim=1)
    return grid


def save_grid(grid: torch.Tensor, path) -> Path:
    """``[3, H, W]`` in [-1, 1] -> PNG file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = ((grid.detach().float().cpu().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)
    Image.fromarray(np.ascontiguousarray(array.permute(1, 2, 0).numpy())).save(path)
    return path
