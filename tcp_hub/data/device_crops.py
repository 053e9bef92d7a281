"""Training photos kept on the training device, with random crops and flips cut there.

A small model trained on a few hundred photos spends most of its time waiting for PIL to decode and
resize crops (32 images/s on a GPU that trains the full model at 130). `DeviceCropSampler` decodes
every photo once, keeps it on the device as uint8 together with 2x area-downsampled copies (a mip
pyramid), and cuts a whole batch of the "random_crop" preset's crops with one gather and one
bilinear resample per pyramid level: no worker processes, no host-to-device copies per step.

Each crop is read from the pyramid level at which it shrinks by a factor in [1, 2) (or grows, from the
finest level), so bilinear sampling stays close to PIL's antialiased resize (tested). Batch ``k`` of
a run depends only on ``(seed, process, k)``: a resumed run draws the same batches.
"""

import math
import os
from pathlib import Path
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from ..errors import InputError
from .folder import DECODE_ERRORS
from .transforms import to_rgb

_RESAMPLE = Image.Resampling.BICUBIC


class DeviceCropSampler:
    """Random square crops of photos held on ``device``, as training batches.

    Args:
        files: the photos (paths); unreadable ones are skipped with their names in ``skipped_files``.
        resolution: R, the side of the output crops.
        device: where the photos live and the crops are cut.
        min_crop_fraction: smallest crop side as a fraction of the photo's short side (largest: 1).
        hflip: flip half of the crops horizontally.
        max_short_side: photos are first scaled down (antialiased) so their short side is at most this
            (default 4 R: the smallest crop of a larger photo would be shrunk anyway).
        max_bytes: refuse (with `InputError`) photos that would take more device memory than this.

    ``sample(batch, generator)`` returns float32 ``[batch, 3, R, R]`` in [-1, 1] on ``device``.
    """

    def __init__(self, files: Sequence, resolution: int, device, min_crop_fraction: float = 0.25,
                 hflip: bool = True, max_short_side: Optional[int] = None, max_bytes: float = 8e9):
        if not 0.0 < min_crop_fraction <= 1.0:
            raise InputError(f"min_crop_fraction must be in (0, 1], got {min_crop_fraction!r}")
        self.resolution, self.device = int(resolution), torch.device(device)
        self.min_crop_fraction, self.hflip = float(min_crop_fraction), hflip
        cap = max_short_side or 4 * self.resolution
        photos, self.files, self.skipped_files = [], [], []
        for path in tqdm(files, desc="decoding photos", leave=False):
            try:
                photos.append(_decode(path, cap))
                self.files.append(Path(path))
            except DECODE_ERRORS:
                self.skipped_files.append(str(path))
        if not photos:
            if not files:
                raise InputError("no training photos were given")
            folder = os.path.commonpath([os.path.dirname(os.path.abspath(f)) for f in files])
            raise InputError(f"none of the {len(files)} training photos in the folder {folder!r} could be read "
                             f"(e.g. {str(files[0])!r}); check the files or the path")
        # enough levels that any crop (side <= the short side) shrinks by less than 2 at one of them
        longest_short = max(min(p.shape[1:]) for p in photos)
        levels = max(1, math.floor(math.log2(longest_short / self.resolution)) + 1)
        bytes_needed = sum(p.numel() for p in photos) * 4 / 3 * 1.5  # pyramid, padding
        if bytes_needed > max_bytes:
            raise InputError(f"{len(photos)} photos need about {bytes_needed / 1e9:.1f} GB on the device, over the "
                             f"limit of {max_bytes / 1e9:.1f} GB; train without --data_on_device (crops cut by "
                             "DataLoader workers) or with fewer/smaller photos")
        # sizes[l, i] = (h, w) of photo i at level l; pyramid[l]: [N, 3, Hmax_l, Wmax_l] uint8
        self.pyramid: List[torch.Tensor] = []
        sizes = []
        current = [p.to(self.device) for p in photos]
        for level in range(levels):
            if level:
                current = [_half(p) for p in current]
            sizes.append([p.shape[1:] for p in current])
            hmax, wmax = max(s[0] for s in sizes[-1]), max(s[1] for s in sizes[-1])
            stack = torch.zeros(len(current), 3, hmax, wmax, dtype=torch.uint8, device=self.device)
            for i, p in enumerate(current):
                stack[i, :, :p.shape[1], :p.shape[2]] = p
            self.pyramid.append(stack)
        self.sizes = torch.tensor(sizes, dtype=torch.float32, device=self.device)  # [levels, N, 2]

    def __len__(self) -> int:
        return len(self.files)

    def sample(self, batch: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """``batch`` random crops, float32 ``[batch, 3, R, R]`` in [-1, 1] (no host sync)."""
        dev = self.device
        u = torch.rand(batch, 5, generator=generator, device=_generator_device(generator, dev)).to(dev)
        index = (u[:, 0] * len(self)).long().clamp_max(len(self) - 1)
        h0, w0 = self.sizes[0, index].unbind(1)
        side = torch.minimum(h0, w0) * (self.min_crop_fraction + (1 - self.min_crop_fraction) * u[:, 1])
        left, top = (w0 - side) * u[:, 2], (h0 - side) * u[:, 3]
        flip = (u[:, 4] < 0.5) if self.hflip else torch.zeros(batch, dtype=torch.bool, device=dev)
        return self.crops(index, left, top, side, flip)

    def crops(self, index: torch.Tensor, left: torch.Tensor, top: torch.Tensor, side: torch.Tensor,
              flip: torch.Tensor) -> torch.Tensor:
        """Square boxes of photos ``index`` (``left, top, side`` in pixels of the stored photo, all ``[B]``)
        resampled to R x R and flipped where ``flip``: float32 ``[B, 3, R, R]`` in [-1, 1]."""
        r, batch = self.resolution, index.shape[0]
        h0, w0 = self.sizes[0, index].unbind(1)
        level = torch.log2(side / r).floor().clamp(0, len(self.pyramid) - 1).long()
        out = torch.zeros(batch, 3, r, r, device=self.device)
        for lv, photos in enumerate(self.pyramid):
            hl, wl = self.sizes[lv, index].unbind(1)
            sy, sx = hl / h0, wl / w0
            crop = self._resample(photos, index, hl, wl, left * sx, top * sy, side * sx, side * sy, flip)
            out = torch.where((level == lv)[:, None, None, None], crop, out)
        return out / 127.5 - 1

    def _resample(self, photos, index, hl, wl, left, top, width, height, flip) -> torch.Tensor:
        """Bilinear resample of the boxes (``left, top, width, height`` in the level's pixels) to R x R,
        read through a window of 2R + 4 pixels (every box of its level fits), clamped at the edges."""
        r = self.resolution
        size = 2 * r + 4
        x0, y0 = left.floor() - 1, top.floor() - 1  # [B]
        steps = torch.arange(size, device=self.device, dtype=torch.float32)
        cols = (x0[:, None] + steps).clamp(min=0).minimum(wl[:, None] - 1).long()  # [B, size]
        rows = (y0[:, None] + steps).clamp(min=0).minimum(hl[:, None] - 1).long()
        window = photos[index[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # [B, size, size, 3]
        window = window.permute(0, 3, 1, 2).float()
        # output pixel j (centre j + 0.5) samples the box at left + (j + 0.5) * width / R, in window pixels
        centres = (torch.arange(r, device=self.device, dtype=torch.float32) + 0.5) / r  # [R]
        gx = left[:, None] - x0[:, None] + centres * width[:, None]
        gx = torch.where(flip[:, None], gx.flip(1), gx)
        gy = top[:, None] - y0[:, None] + centres * height[:, None]
        grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)  # [B, R, R, 2]
        return F.grid_sample(window, grid / size * 2 - 1, mode="bilinear", padding_mode="border",
                             align_corners=False)


def _decode(path, max_short_side: int) -> torch.Tensor:
    """Photo -> uint8 ``[3, H, W]`` with a short side of at most ``max_short_side`` (antialiased)."""
    with Image.open(path) as image:
        image.load()
        image = to_rgb(image)
    scale = max_short_side / min(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), _RESAMPLE)
    data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    return data.view(image.height, image.width, 3).permute(2, 0, 1).contiguous()


def _half(photo: torch.Tensor) -> torch.Tensor:
    """2x area downsample of a uint8 ``[3, H, W]`` (odd last rows/columns dropped)."""
    small = F.avg_pool2d(photo[None].float(), 2)[0]
    return small.round().clamp(0, 255).to(torch.uint8)


def _generator_device(generator: Optional[torch.Generator], default: torch.device) -> torch.device:
    return generator.device if generator is not None else default

