"""Quality of a trained model on held-out photos (issues 5 and 19): reconstruction, swaps and region edits.

    python benchmarks/scenes_quality.py --model tcp-scenes --images ../shared/data \\
        --list configs/scenes256-holdout.txt --json quality.json --figures figures/

Every photo is centre-cropped and resized to ``--resolution`` (256). With N photos, each number
has a baseline measured in the same run beside it:

- reconstruction ``G(E(x))`` (the model's own output, noise off): PSNR and SSIM (median and mean
  over the photos), beside the same for a 4x down-up resize of the photo (antialiased bicubic);
- global swaps made by ``TCPPipeline.__call__`` with its default settings (seed, strength, ...),
  one call per pair, as a user gets them, on P ordered pairs (content i, style j != i): all
  N (N - 1) of them, or whole cycles ``(i, i + k mod N)`` for ``--max_pairs`` // N offsets k spread
  over 1..N-1, so every photo is content and style equally often. Beside each, Reinhard colour
  transfer on the same pairs:
  - edge agreement with the content (correlation of Sobel magnitudes; 1 = the same edges), median;
  - colour-transfer gain: the fraction of the Lab colour distance to the reference removed, median;
  - sharpness: Laplacian variance of the swap over that of its content photo, median (1 = as sharp;
    the generator's per-pixel noise, when the defaults turn it on, raises it as speckle);
  - the rank correlation of colour gain and edge agreement over the pairs (negative: a swap that
    moves colour destroys structure);
  - FID against the N real crops for the P swaps and P Reinhard transfers, and at equal set size
    for N swaps (offset 1), N Reinhard transfers and the N real crops blurred with a Gaussian of
    sigma 1.5 px. FID is biased upward for small sets: compare numbers only at equal set sizes;
- noise: the N offset-1 swaps again with the generator's per-pixel noise on (``seed=0``) and off
  (``seed=None``): speckle (share of pixels whose luma is off the median of its 3x3 neighbourhood
  by more than 0.1; the real photos' value beside it), edges kept and colour moved;
- region edits ``G(c_i, [s_i, s_j], [1 - M, M])`` (noise off) on the N offset-1 pairs with a random
  hard mask M each: mean change against the unedited reconstruction inside M, outside M beyond a
  band of 1/32 of the side, and in the band; then the same pairs and masks through the pipeline with its
  defaults (the photo recoloured by the edit): the mean change against the photo inside M, and how strong
  the change is in the 12 px inside M's edge over M's interior (24 px or more inside; median over the pairs
  with both): 1 = the edit keeps its strength up to the paint, below 1 = a ring of the photo's own colour.

Prints a table, writes every number as JSON and, with ``--figures``, three JPEG contact sheets:
reconstructions, a grid of swaps (pipeline defaults) and region edits.
"""

import argparse
import inspect
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from tcp_hub.data.folder import find_images
from tcp_hub.data.transforms import make_transform
from tcp_hub.errors import InputError
from tcp_hub.evaluation import (colour_transfer_gain, down_up, edge_agreement, evaluation_masks, gaussian_blur,
                                laplacian_variance, psnr, region_differences, reinhard_transfer, speckle_fraction,
                                ssim)
from tcp_hub.evaluation.fid import features_frechet_distance, inception_features
from tcp_hub.image_io import open_image_file, tensor_to_output
from tcp_hub.masks import two_regions
from tcp_hub.photo_edit import erode
from tcp_hub.pipeline import TCPPipeline, load_pipeline

BLUR_SIGMA = 1.5      # the blurred-real FID baseline
DOWN_UP_FACTOR = 4    # the reconstruction baseline
FIGURE_WIDTH = 1200   # px, at most
FIGURE_QUALITY = 85   # JPEG
# Arguments of TCPPipeline.__call__ that are inputs, or apply only to masked edits, not settings of a global swap.
_NOT_SWAP_SETTINGS = {"self", "content", "style", "mask", "feather", "resize_mask", "resolution", "max_side",
                      "keep_unedited",
                      "output_type", "return_dict"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, help="TCPPipeline folder, Hub repo id or bundled name (tcp-scenes), "
                                               "or a folder with encoder/ and generator/ (a training checkpoint)")
    p.add_argument("--images", required=True, help="folder of held-out photos (searched recursively), or the "
                                                "folder that the paths of --list are relative to")
    p.add_argument("--list", help="text file of photo paths relative to --images, one per line ('#' starts a "
                                  "comment line), e.g. configs/scenes256-holdout.txt; default: every photo")
    p.add_argument("--resolution", type=int, default=256, help="side of the centre crops (a multiple of 16)")
    p.add_argument("--max_images", type=int, default=50,
                   help="use the first N photos (of --list, else sorted by path); the pairs grow as N^2")
    p.add_argument("--max_pairs", type=int, default=130,
                   help="swap pairs to score, rounded down to whole cycles of N pairs (at least one); "
                        "0 = all N (N - 1). 130 = 5 cycles of 26 photos, about 3 minutes on 2 CPU cores")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0, help="seed of the region-edit masks")
    p.add_argument("--json", default="scenes_quality.json", help="where to write the numbers")
    p.add_argument("--figures", help="folder for the contact sheets (JPEG); none when not given")
    return p.parse_args(argv)


# ---- photos --------------------------------------------------------------------------------------
def read_list(path: str) -> List[str]:
    """The photo paths of a list file: one per line, blank lines and '#' comment lines skipped."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(f"photo list {str(file)!r} does not exist")
    entries = [line.strip() for line in file.read_text().splitlines()]
    entries = [e for e in entries if e and not e.startswith("#")]
    repeated = sorted({e for e in entries if entries.count(e) > 1})
    if repeated:
        raise InputError(f"photo list {str(file)!r} names {repeated[0]!r} more than once; list each photo once")
    return entries


def photo_files(folder: str, list_file: Optional[str], max_images: int) -> List[Path]:
    """The held-out photos: the entries of ``list_file`` under ``folder``, else every image under it."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError(f"held-out photo folder {str(root)!r} does not exist or is not a folder")
    if list_file:
        files = [root / entry for entry in read_list(list_file)]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise InputError(f"{len(missing)} of the {len(files)} photos of {list_file!r} are not under "
                             f"{str(root)!r}, e.g. {missing[0]!r}: list paths relative to --images")
    else:
        files = find_images(root)
    files = files[:max_images]
    if len(files) < 2:
        raise InputError(f"{len(files)} held-out photo(s) found; swaps and FID need at least 2")
    return files


def load_crops(files: Sequence[Path], resolution: int) -> torch.Tensor:
    """Centre crops of the photos, ``[N, 3, R, R]`` in [-1, 1]."""
    transform = make_transform("resize_crop", resolution, train=False)
    return torch.stack([transform(open_image_file(f, "held-out photo")) for f in files])


def sample_pairs(n: int, max_pairs: int) -> torch.Tensor:
    """Ordered (content, style) pairs ``[P, 2]``: whole cycles ``(i, i + k mod n)``, offset 1 first.

    ``max_pairs // n`` offsets (at least 1, all n - 1 when ``max_pairs`` is 0 or large enough),
    spread evenly over 1..n-1 so that near and far neighbours in the list (often the same and
    other domains) both appear.
    """
    cycles = n - 1 if max_pairs <= 0 else min(n - 1, max(1, max_pairs // n))
    offsets = [1 + k * (n - 1) // cycles for k in range(cycles)]
    return torch.tensor([(i, (i + k) % n) for k in offsets for i in range(n)])


# ---- scoring -------------------------------------------------------------------------------------
def _median(values: torch.Tensor) -> float:
    finite = [v for v in values.tolist() if math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def _mean(values: torch.Tensor) -> float:
    finite = values[torch.isfinite(values)]
    return float(finite.mean()) if finite.numel() else math.nan


def _rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman correlation of two score lists (pairs with a NaN left out)."""
    keep = torch.isfinite(a) & torch.isfinite(b)
    if int(keep.sum()) < 3:
        return math.nan
    ra, rb = (v[keep].argsort().argsort().double() for v in (a, b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()).clamp_min(1e-12))


def swap_defaults() -> Dict[str, object]:
    """The settings of ``TCPPipeline.__call__`` that the swaps leave at their defaults (seed, strength, ...)."""
    params = inspect.signature(TCPPipeline.__call__).parameters.values()
    return {p.name: p.default for p in params if p.name not in _NOT_SWAP_SETTINGS and p.default is not p.empty}


def pipeline_swap(pipe: TCPPipeline, content: Image.Image, style: Image.Image, resolution: int) -> torch.Tensor:
    """A global swap exactly as a user calls it (default settings), ``[1, 3, R, R]`` in [-1, 1] on the CPU."""
    out = pipe(content, style, resolution=resolution, output_type="pt").images
    return out.float().cpu() * 2 - 1


def noise_check(pipe: TCPPipeline, images: torch.Tensor, pairs: torch.Tensor) -> dict:
    """The generator's per-pixel noise on (``seed=0``) and off (``seed=None``) for the swaps of ``pairs``,
    other settings at their defaults: speckle (isolated dark/bright pixels), edges kept, colour moved."""
    photos, resolution = tensor_to_output(images, "pil"), images.shape[-1]
    i, j = pairs.unbind(1)
    results = {}
    for name, seed in (("on", 0), ("off", None)):
        out = torch.cat([pipe(photos[a], photos[b], resolution=resolution, seed=seed, output_type="pt").images
                         for a, b in tqdm(pairs.tolist(), desc=f"Swaps with noise {name}")]).float().cpu() * 2 - 1
        results.update({f"noise_{name}_speckle_median": _median(speckle_fraction(out)),
                        f"noise_{name}_edge_agreement_median": _median(edge_agreement(out, images[i])),
                        f"noise_{name}_colour_gain_median": _median(colour_transfer_gain(out, images[i], images[j]))})
    results["real_speckle_median"] = _median(speckle_fraction(images))
    return results


def score_reconstructions(rec: torch.Tensor, images: torch.Tensor) -> dict:
    """PSNR, SSIM and sharpness of reconstructions ``rec`` and of the down-up baseline, against ``images``."""
    baseline = down_up(images, DOWN_UP_FACTOR)
    real_sharpness = laplacian_variance(images)
    rec_psnr, base_psnr = psnr(rec, images), psnr(baseline, images)
    rec_ssim, base_ssim = ssim(rec, images), ssim(baseline, images)
    return {
        "reconstruction_psnr": _mean(rec_psnr), "reconstruction_psnr_median": _median(rec_psnr),
        "reconstruction_ssim": _mean(rec_ssim), "reconstruction_ssim_median": _median(rec_ssim),
        "down_up_psnr": _mean(base_psnr), "down_up_psnr_median": _median(base_psnr),
        "down_up_ssim": _mean(base_ssim), "down_up_ssim_median": _median(base_ssim),
        "reconstruction_sharpness_ratio_median": _median(laplacian_variance(rec) / real_sharpness),
        "down_up_sharpness_ratio_median": _median(laplacian_variance(baseline) / real_sharpness),
        "real_sharpness_median": _median(real_sharpness),
    }


def score_swaps(pipe: TCPPipeline, images: torch.Tensor, pairs: torch.Tensor, batch_size: int, device: str) -> dict:
    """Edges, colour, sharpness and FID of the pipeline's swaps and of Reinhard's transfer on ``pairs [P, 2]``.

    The equal-size FIDs use the first N pairs (offset 1 in `sample_pairs`).
    """
    n, resolution = len(images), images.shape[-1]
    photos = tensor_to_output(images, "pil")
    real_sharpness = laplacian_variance(images)
    real_features = inception_features(images, batch_size, device)
    blurred_features = inception_features(gaussian_blur(images, BLUR_SIGMA), batch_size, device)
    features = {"swap": [], "reinhard": []}
    scores = {f"{k}_{m}": [] for m in ("swap", "reinhard") for k in ("gain", "edges", "sharpness")}
    progress = tqdm(total=len(pairs), desc="Swaps (pipeline defaults)")
    for batch in pairs.split(batch_size):
        i, j = batch.unbind(1)
        swaps = []
        for a, b in batch.tolist():
            swaps.append(pipeline_swap(pipe, photos[a], photos[b], resolution))
            progress.update()
        x_content, x_style = images[i], images[j]
        for method, out in (("swap", torch.cat(swaps)), ("reinhard", reinhard_transfer(x_content, x_style))):
            scores[f"gain_{method}"].append(colour_transfer_gain(out, x_content, x_style))
            scores[f"edges_{method}"].append(edge_agreement(out, x_content))
            scores[f"sharpness_{method}"].append(laplacian_variance(out) / real_sharpness[i])
            features[method].append(inception_features(out, batch_size, device))
    progress.close()
    scores = {k: torch.cat(v) for k, v in scores.items()}
    features = {k: torch.cat(v) for k, v in features.items()}
    results = {}
    for method in ("swap", "reinhard"):
        results.update({
            f"colour_gain_{method}_median": _median(scores[f"gain_{method}"]),
            f"edge_agreement_{method}_median": _median(scores[f"edges_{method}"]),
            f"sharpness_ratio_{method}_median": _median(scores[f"sharpness_{method}"]),
            f"gain_edges_rank_correlation_{method}": _rank_correlation(scores[f"gain_{method}"],
                                                                       scores[f"edges_{method}"]),
            f"{method}_fid": features_frechet_distance(features[method], real_features),
            f"{method}_fid_equal_n": features_frechet_distance(features[method][:n], real_features),
        })
    return {**results, "fid_real_images": n, "fid_generated_images": len(pairs), "fid_equal_n_images": n,
            "blurred_real_fid": features_frechet_distance(blurred_features, real_features),
            "blurred_real_sigma": BLUR_SIGMA}


def region_edits(generator, content: torch.Tensor, style: torch.Tensor, pairs: torch.Tensor, masks: torch.Tensor,
                 batch_size: int) -> torch.Tensor:
    """``G(c_i, [s_i, s_j], [1 - M, M])`` (noise off) for ``pairs [P, 2]`` and hard ``masks [P, 1, R, R]``."""
    edits = []
    for batch, mask in zip(pairs.split(batch_size), masks.split(batch_size)):
        i, j = batch.to(content.device).unbind(1)
        weights = two_regions(mask).to(content.device, content.dtype)
        edits.append(_render(generator, content[i], torch.stack([style[i], style[j]], 1), weights))
    return torch.cat(edits)


def pipeline_region_edits(pipe: TCPPipeline, images: torch.Tensor, pairs: torch.Tensor, masks: torch.Tensor) -> dict:
    """The pipeline's default region edits of ``pairs [P, 2]`` with ``masks [P, 1, R, R]``: mean change inside
    the masks, and the change in the 12 px inside each mask's edge over that of its interior (median)."""
    photos, resolution = tensor_to_output(images, "pil"), images.shape[-1]
    inside, ratios = [], []
    for (i, j), mask in zip(tqdm(pairs.tolist(), desc="Region edits (pipeline defaults)"), masks):
        out = pipe(photos[i], [photos[j]], mask=[mask[0].numpy()], resolution=resolution, output_type="pt").images
        change = (out.float().cpu() * 2 - 1 - images[i:i + 1]).abs().mean(1)[0]
        painted = (mask[None] > 0.5).float()
        band, interior = (painted - erode(painted, 12))[0, 0] > 0, erode(painted, 24)[0, 0] > 0
        inside.append(change[painted[0, 0] > 0].mean().item())
        if band.sum() >= 100 and interior.sum() >= 100:
            ratios.append((change[band].mean() / change[interior].mean().clamp_min(1e-6)).item())
    return {"edit_pipeline_inside_change": _mean(torch.tensor(inside)),
            "edit_pipeline_edge_ratio_median": _median(torch.tensor(ratios)),
            "edit_pipeline_edge_ratio_pairs": len(ratios)}


def _render(generator, content, style, masks=None) -> torch.Tensor:
    return generator(content, style, masks, noise_mode="none").float().cpu().clamp(-1, 1)


@torch.no_grad()
def evaluate(pipe: TCPPipeline, images: torch.Tensor, max_pairs: int, batch_size: int, device: str,
             seed: int) -> tuple:
    """All the numbers of the module docstring for ``images [N, 3, R, R]`` in [-1, 1].

    Returns ``(results, material)``: the numbers, and the images the contact sheets show.
    """
    pipe = pipe.to(device)
    encoder, generator = pipe.encoder.eval(), pipe.generator.eval()
    n, resolution = len(images), images.shape[-1]
    codes = [encoder(b.to(device, encoder.dtype)) for b in images.split(batch_size)]
    content, style = torch.cat([c.content for c in codes]), torch.cat([c.style for c in codes])
    rec = torch.cat([_render(generator, c, s) for c, s in zip(content.split(batch_size), style.split(batch_size))])

    pairs = sample_pairs(n, max_pairs)  # [P, 2] (content, style); the first n are offset 1
    edit_pairs, masks = pairs[:n], evaluation_masks(n, resolution, seed)
    edits = region_edits(generator, content, style, edit_pairs, masks, batch_size)
    changes = region_differences(edits, rec[edit_pairs[:, 0]], masks)

    results = {"images": n, "resolution": resolution, "ordered_pairs": len(pairs), "all_ordered_pairs": n * (n - 1),
               "swap_settings": swap_defaults(),
               **score_reconstructions(rec, images),
               **score_swaps(pipe, images, pairs, batch_size, device),
               **noise_check(pipe, images, pairs[:n]),
               "edit_pairs": n, **{f"edit_{k}_change": _mean(v) for k, v in changes.items()},
               **pipeline_region_edits(pipe, images, edit_pairs, masks)}
    material = {"images": images, "rec": rec, "down_up": down_up(images, DOWN_UP_FACTOR),
                "photos": tensor_to_output(images, "pil"), "edit_pairs": edit_pairs, "masks": masks, "edits": edits}
    return results, material


def table(r: dict) -> str:
    n, p, ne = r["images"], r["ordered_pairs"], r["fid_equal_n_images"]
    rows = [
        (f"**reconstruction** G(E(x)), {n} photos, noise off", "", "", ""),
        ("PSNR (dB), median / mean ↑", f"{r['reconstruction_psnr_median']:.2f} / {r['reconstruction_psnr']:.2f}",
         f"{r['down_up_psnr_median']:.2f} / {r['down_up_psnr']:.2f}", f"{DOWN_UP_FACTOR}x down-up resize"),
        ("SSIM, median / mean ↑", f"{r['reconstruction_ssim_median']:.3f} / {r['reconstruction_ssim']:.3f}",
         f"{r['down_up_ssim_median']:.3f} / {r['down_up_ssim']:.3f}", f"{DOWN_UP_FACTOR}x down-up resize"),
        ("sharpness / photo's, median (1 = as sharp)", f"{r['reconstruction_sharpness_ratio_median']:.3f}",
         f"{r['down_up_sharpness_ratio_median']:.3f}", f"{DOWN_UP_FACTOR}x down-up resize"),
        (f"**global swaps**, {p} of {r['all_ordered_pairs']} ordered pairs, pipeline defaults", "", "", ""),
        ("edge agreement with content, median ↑", f"{r['edge_agreement_swap_median']:.3f}",
         f"{r['edge_agreement_reinhard_median']:.3f}", "Reinhard transfer"),
        ("colour-transfer gain, median ↑", f"{r['colour_gain_swap_median']:.3f}",
         f"{r['colour_gain_reinhard_median']:.3f}", "Reinhard transfer"),
        ("sharpness / content photo's, median (1 = as sharp)", f"{r['sharpness_ratio_swap_median']:.3f}",
         f"{r['sharpness_ratio_reinhard_median']:.3f}", "Reinhard transfer"),
        ("rank correlation of colour removed and edges kept", f"{r['gain_edges_rank_correlation_swap']:.2f}",
         f"{r['gain_edges_rank_correlation_reinhard']:.2f}", "Reinhard transfer"),
        (f"FID, {p} images vs {n} real crops ↓", f"{r['swap_fid']:.1f}", f"{r['reinhard_fid']:.1f}",
         f"Reinhard transfer ({p})"),
        (f"FID, {ne} images vs {n} real crops ↓", f"{r['swap_fid_equal_n']:.1f}", f"{r['reinhard_fid_equal_n']:.1f}",
         f"Reinhard transfer ({ne})"),
        (f"FID, {ne} images vs {n} real crops ↓", f"{r['swap_fid_equal_n']:.1f}", f"{r['blurred_real_fid']:.1f}",
         f"real crops blurred, sigma {r['blurred_real_sigma']} px ({n})"),
        (f"**noise** on (seed 0) / off (seed None), {ne} swaps", "", "", ""),
        ("speckle: share of pixels off their 3x3 median by > 0.1 ↓",
         f"{r['noise_on_speckle_median']:.4f} / {r['noise_off_speckle_median']:.4f}",
         f"{r['real_speckle_median']:.4f}", "the real photos"),
        ("edge agreement, median ↑", f"{r['noise_on_edge_agreement_median']:.3f} / "
         f"{r['noise_off_edge_agreement_median']:.3f}", "", ""),
        ("colour-transfer gain, median ↑", f"{r['noise_on_colour_gain_median']:.3f} / "
         f"{r['noise_off_colour_gain_median']:.3f}", "", ""),
        (f"**region edits**, {r['edit_pairs']} pairs, noise off", "", "", ""),
        ("change inside the mask", f"{r['edit_inside_change']:.4f}", "", ""),
        ("change outside the mask (beyond the band) ↓", f"{r['edit_outside_change']:.4f}", "", ""),
        ("change in the band", f"{r['edit_band_change']:.4f}", "", ""),
        ("pipeline defaults: change inside the mask (against the photo)", f"{r['edit_pipeline_inside_change']:.4f}",
         "", ""),
        (f"pipeline defaults: change in the 12 px inside the edge / interior, median of "
         f"{r['edit_pipeline_edge_ratio_pairs']} (1 = no ring) ↑", f"{r['edit_pipeline_edge_ratio_median']:.3f}",
         "", ""),
    ]
    lines = [f"{n} held-out photos, {r['resolution']} px centre crops; swap settings {r['swap_settings']}", "",
             "| metric | model | baseline | baseline is |", "|---|---|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows])


# ---- contact sheets ------------------------------------------------------------------------------
def _spread(count: int, n: int) -> List[int]:
    """``count`` indices spread evenly over 0..n-1 (all of them when n <= count)."""
    if n <= count:
        return list(range(n))
    return sorted({round(k * (n - 1) / (count - 1)) for k in range(count)})


def contact_sheet(rows: List[List[Optional[torch.Tensor]]], labels: Sequence[str] = ()) -> Image.Image:
    """A grid of ``[3, R, R]`` images in [-1, 1] (``None`` = an empty cell) with a row of column labels,
    scaled so the sheet is at most ``FIGURE_WIDTH`` px wide."""
    columns = max(len(r) for r in rows)
    side = next(t for r in rows for t in r if t is not None).shape[-1]
    tile = min(side, FIGURE_WIDTH // columns)
    header = 16 if labels else 0
    sheet = Image.new("RGB", (columns * tile, header + len(rows) * tile), "white")
    draw = ImageDraw.Draw(sheet)
    for c, label in enumerate(labels):
        draw.text((c * tile + 4, 2), label, fill="black")
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            if image is not None:
                cell = tensor_to_output(image[None].float(), "pil")[0].resize((tile, tile), Image.Resampling.LANCZOS)
                sheet.paste(cell, (c * tile, header + r * tile))
    return sheet


def save_contact_sheets(folder: str, pipe: TCPPipeline, material: dict) -> List[Path]:
    """Reconstructions, a grid of swaps (pipeline defaults) and region edits, as JPEG files in ``folder``."""
    out = Path(folder).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    images, photos, n = material["images"], material["photos"], len(material["images"])
    sheets = {}

    picks = _spread(8, n)
    sheets["reconstructions.jpg"] = contact_sheet(
        [[images[k], material["down_up"][k], material["rec"][k]] for k in picks],
        ["photo", f"{DOWN_UP_FACTOR}x down-up", "model G(E(x))"])

    picks = _spread(5, n)
    grid = [[None] + [images[s] for s in picks]]
    for c in tqdm(picks, desc="Swap grid"):
        grid.append([images[c]] + [pipeline_swap(pipe, photos[c], photos[s], images.shape[-1])[0] for s in picks])
    sheets["swaps.jpg"] = contact_sheet(grid, ["content \\ style"])

    picks = _spread(5, n)
    pairs, masks, edits = material["edit_pairs"], material["masks"], material["edits"]
    sheets["region_edits.jpg"] = contact_sheet(
        [[images[pairs[k, 0]], images[pairs[k, 1]], masks[k].expand(3, -1, -1) * 2 - 1, edits[k]] for k in picks],
        ["photo", "reference", "mask", "edit"])

    paths = []
    for name, sheet in sheets.items():
        sheet.save(out / name, quality=FIGURE_QUALITY, optimize=True)
        paths.append(out / name)
    return paths


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        if args.resolution % 16:
            raise InputError(f"--resolution must be a multiple of 16, got {args.resolution}")
        files = photo_files(args.images, args.list, args.max_images)
        images = load_crops(files, args.resolution)
        pipe = load_pipeline(args.model, dtype=torch.float32)
        results, material = evaluate(pipe, images, args.max_pairs, args.batch_size, args.device, args.seed)
        figures = save_contact_sheets(args.figures, pipe, material) if args.figures else []
    except (InputError, ModuleNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    root = Path(args.images).expanduser()
    results = {"model": str(args.model), "device": str(args.device),
               "photos": [f.relative_to(root).as_posix() for f in files], **results,
               "wall_seconds": round(time.perf_counter() - start, 1)}
    print(table(results))
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.json}" + "".join(f", {p}" for p in figures) + f" in {results['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
