"""Detail transfer and seams of region edits on held-out photos.

    python benchmarks/detail_transfer.py --model tcp-scenes --images /work/shared/data \\
        --list configs/scenes256-holdout.txt

Every photo is centre-cropped to ``--resolution`` (256) px and quantised to 8 bits, as a user's file.

Both tables are of the generator's rendering (``texture=1``; the pipeline's default ``texture=0`` keeps the
photo itself, benchmarks/edit_texture.py).

**Detail** (`TCPPipeline.__call__(detail=...)`, `tcp_hub.pipeline.photo_detail`): global swaps on
``--max_pairs`` ordered pairs (whole cycles ``(i, i + k mod N)``), each variant
``clamp(edit + detail * photo_detail(photo, reconstruction, sigma))`` with edit = the pipeline's swap of
photo i in photo j's style with ``detail=0`` and reconstruction = the same of photo i in its own style (so
both are rendered as the pipeline renders: its default noise and rendering margin). The script first checks
that its default variant equals the pipeline's output. Per variant, medians over the pairs of:

- edges: edge agreement with the content photo (correlation of Sobel magnitudes, 1 = same edges);
- colour: colour-transfer gain toward the reference (fraction of the Lab colour distance removed);
- sharpness: Laplacian variance over the content photo's (1 = as sharp as the photo).

**Seams** (`keep_unedited`): region edits on the N offset-1 pairs with a seeded hard mask each
(`tcp_hub.evaluation.evaluation_masks`), made by the pipeline with its defaults otherwise. In a band
``--band`` px to each side of the mask's edge, the energy of the lightness gradient across the edge
(``(grad L . n)^2``, n the edge normal) over the same for the unedited photo (1 = no more edge than
the photo has there; a hard seam raises it), and the mean change against the photo outside the mask
beyond the band and inside it beyond the band. Compared: today's output (``keep_unedited=False,
detail=0``), ``keep_unedited=False`` and ``True`` (feather 0 and 4) with the default detail, and a global
swap (default detail) pasted through the mask in pixels.
"""

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import List, Optional

import torch
import torch.nn.functional as F

from tcp_hub.data.transforms import make_transform
from tcp_hub.errors import InputError
from tcp_hub.evaluation import (band_masks, colour_transfer_gain, edge_agreement, evaluation_masks,
                                laplacian_variance, rgb_to_lab)
from tcp_hub.image_io import gaussian_blur, open_image_file
from tcp_hub.pipeline import DEFAULT_DETAIL, DETAIL_SIGMA, KEEP_MARGIN, load_pipeline, photo_detail

SIGMAS = (None, 1.5, 2.0, 3.0)  # None: the whole residual, no high-pass
AMOUNTS = (0.5, 1.0)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="tcp-scenes", help="bundled name, pipeline folder, checkpoint or Hub repo id")
    p.add_argument("--images", required=True, help="folder the paths of --list are relative to")
    p.add_argument("--list", required=True, help="text file of photo paths, one per line ('#': comment)")
    p.add_argument("--resolution", type=int, default=256, help="side of the centre crops (a multiple of 16)")
    p.add_argument("--max_pairs", type=int, default=104, help="swap pairs, rounded down to whole cycles of N")
    p.add_argument("--seam_pairs", type=int, default=13, help="region edits for the seam table (offset-1 pairs)")
    p.add_argument("--band", type=int, default=12, help="seam band half-width (px)")
    p.add_argument("--tables", nargs="+", default=["detail", "seams"], choices=["detail", "seams"])
    return p.parse_args(argv)


# ---- photos --------------------------------------------------------------------------------------
def photo_files(folder: str, list_file: str) -> List[Path]:
    root, listing = Path(folder).expanduser(), Path(list_file).expanduser()
    if not listing.is_file():
        raise InputError(f"photo list {str(listing)!r} does not exist")
    entries = [line.strip() for line in listing.read_text().splitlines()]
    files = [root / e for e in entries if e and not e.startswith("#")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise InputError(f"{len(missing)} photos of {list_file!r} are not under {folder!r}, e.g. {missing[0]!r}")
    if len(files) < 2:
        raise InputError("swaps need at least 2 photos")
    return files


def load_crops(files: List[Path], resolution: int) -> torch.Tensor:
    """8-bit centre crops ``[N, 3, R, R]`` in [-1, 1] (what the pipeline reads from a photo file)."""
    transform = make_transform("resize_crop", resolution, train=False)
    crops = torch.stack([transform(open_image_file(f, "photo")) for f in files])
    return torch.round((crops.clamp(-1, 1) + 1) * 127.5) / 127.5 - 1


def cycle_pairs(n: int, max_pairs: int) -> torch.Tensor:
    """Ordered (content, style) pairs ``[P, 2]``: whole cycles ``(i, i + k mod n)``, offset 1 first."""
    cycles = min(n - 1, max(1, max_pairs // n))
    offsets = [1 + k * (n - 1) // cycles for k in range(cycles)]
    return torch.tensor([(i, (i + k) % n) for k in offsets for i in range(n)])


def median(values: torch.Tensor) -> float:
    finite = [v for v in values.tolist() if math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


# ---- detail --------------------------------------------------------------------------------------
@torch.no_grad()
def detail_table(pipe, photos: torch.Tensor, pairs: torch.Tensor) -> List[tuple]:
    images = [(p + 1) / 2 for p in photos]
    render = lambda i, j: pipe(images[i], images[j], detail=0.0, texture=1.0,  # noqa: E731
                               output_type="pt").images * 2 - 1
    recons = [render(i, i) for i in range(len(photos))]

    # The variant the pipeline uses by default must be what it returns.
    i, j = pairs[0].tolist()
    edit = render(i, j)
    photo = photos[i:i + 1]
    ours = (edit + DEFAULT_DETAIL * photo_detail(photo, photo, recons[i], DETAIL_SIGMA)).clamp(-1, 1)
    theirs = pipe(images[i], images[j], texture=1.0, output_type="pt").images * 2 - 1
    gap = (ours - theirs).abs().max().item()
    assert gap < 1e-4, f"the benchmark's default variant differs from the pipeline's output by {gap}"

    variants = [("detail 0 (generator only)", None, 0.0)] + [
        (f"detail {a:g}, " + ("no high-pass" if s is None else f"high-pass sigma {s:g}"), s, a)
        for s in SIGMAS for a in AMOUNTS]
    outs = {name: [] for name, _, _ in variants}
    for i, j in pairs.tolist():
        edit = render(i, j)
        for name, sigma, amount in variants:
            residual = photo_detail(photos[i:i + 1], photos[i:i + 1], recons[i], sigma)
            outs[name].append((edit + amount * residual).clamp(-1, 1))
    content, reference = photos[pairs[:, 0]], photos[pairs[:, 1]]
    real_sharpness = laplacian_variance(content)
    rows = []
    for name, sigma, amount in variants:
        out = torch.cat(outs[name])
        default = sigma == DETAIL_SIGMA and amount == DEFAULT_DETAIL
        rows.append((name + (" (default)" if default else ""),
                     median(edge_agreement(out, content)), median(colour_transfer_gain(out, content, reference)),
                     median(laplacian_variance(out) / real_sharpness)))
    return rows


# ---- seams ---------------------------------------------------------------------------------------
_SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8


def _gradient(x: torch.Tensor) -> torch.Tensor:
    """``[B, 1, H, W]`` -> Sobel gradient ``[B, 2, H, W]`` (d/dx, d/dy) per px, borders replicated."""
    kernels = torch.stack([_SOBEL, _SOBEL.T])[:, None].to(x)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)


def across_energy(images: torch.Tensor, masks: torch.Tensor, band: torch.Tensor) -> torch.Tensor:
    """Mean over ``band`` of the squared lightness gradient along the mask's edge normal, ``[B]``."""
    lightness = rgb_to_lab(images)[:, :1].float() / 100
    normal = _gradient(gaussian_blur(masks.float(), 2.0))
    normal = normal / normal.norm(dim=1, keepdim=True).clamp_min(1e-6)
    across = (_gradient(lightness) * normal).sum(1, keepdim=True) ** 2
    return (across * band).flatten(1).sum(1) / band.flatten(1).sum(1).clamp_min(1)


def mean_change(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean |a - b| over ``region`` in [0, 1] units, ``[B]``."""
    total = ((a - b).abs().mean(1, keepdim=True) * region).flatten(1).sum(1) / 2
    return total / region.flatten(1).sum(1).clamp_min(1)


@torch.no_grad()
def seam_table(pipe, photos: torch.Tensor, count: int, band_width: int) -> List[tuple]:
    n, resolution = len(photos), photos.shape[-1]
    count = min(count, n)
    pairs = [(i, (i + 1) % n) for i in range(count)]
    masks = evaluation_masks(count, resolution, seed=0)
    images = [(p + 1) / 2 for p in photos]
    call = lambda i, j, k, **kw: pipe(images[i], images[j], mask=masks[k, 0].numpy(), output_type="pt",  # noqa: E731
                                      **{"texture": 1.0, **kw}).images * 2 - 1
    settings = {"today's output (keep_unedited=False, detail 0)": dict(keep_unedited=False, detail=0.0),
                "keep_unedited=False": dict(keep_unedited=False),
                "keep_unedited, feather 0": {}, "keep_unedited, feather 4": dict(feather=4.0)}
    outs = {name: [] for name in [*settings, "global swap pasted through the mask"]}
    for k, (i, j) in enumerate(pairs):
        for name, kwargs in settings.items():
            outs[name].append(call(i, j, k, **kwargs))
        swap = pipe(images[i], images[j], texture=1.0, output_type="pt").images * 2 - 1
        outs["global swap pasted through the mask"].append(masks[k:k + 1] * swap + (1 - masks[k:k + 1]) * photos[i])
    content = photos[[i for i, _ in pairs]]
    inside, outside, band = band_masks(masks, band_width)
    base = across_energy(content, masks, band)
    rows = [("the photo itself", 1.0, 0.0, 0.0)]
    for name, out in outs.items():
        out = torch.cat(out)
        rows.append((name, median(across_energy(out, masks, band) / base), median(mean_change(out, content, outside)),
                     median(mean_change(out, content, inside))))
    return rows


def print_table(title: str, header: tuple, rows: List[tuple]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, *values in rows:
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    torch.manual_seed(0)
    try:
        files = photo_files(args.images, args.list)
        photos = load_crops(files, args.resolution)
        pipe = load_pipeline(args.model)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    pipe.set_progress_bar_config(disable=True)
    start = time.perf_counter()
    if "detail" in args.tables:
        pairs = cycle_pairs(len(photos), args.max_pairs)
        rows = detail_table(pipe, photos, pairs)
        print_table(f"Detail transfer: global swaps, {len(pairs)} ordered pairs of {len(photos)} held-out photos "
                    f"at {args.resolution} px, medians",
                    ("variant", "edges (with content)", "colour moved", "sharpness / photo's"), rows)
    if "seams" in args.tables:
        rows = seam_table(pipe, photos, args.seam_pairs, args.band)
        print_table(f"Seams: region edits with hard masks, {min(args.seam_pairs, len(photos))} pairs, "
                    f"band {args.band} px each side of the mask edge, keep margin {KEEP_MARGIN:g} px, "
                    f"detail {DEFAULT_DETAIL:g}, medians",
                    ("output", "across-edge energy / photo's", "change outside", "change inside"), rows)
    print(f"\n{time.perf_counter() - start:.0f} s on {torch.get_num_threads()} CPU threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
