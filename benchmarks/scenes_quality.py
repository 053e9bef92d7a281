"""Quality of a trained model on held-out photos (issue 5): reconstruction, swaps and region edits.

    python benchmarks/scenes_quality.py --model tcp-scenes --images /data/scenes-holdout --json quality.json

Every photo is centre-cropped and resized to ``--resolution`` (256). With N photos:

- reconstruction PSNR of ``G(E(x))`` (mean over the N photos);
- swap FID: the swaps of all N (N - 1) ordered pairs ``G(c_i, s_j)`` against the N real crops,
  with Reinhard colour transfer's FID on the same pairs as a reference (FID is biased upward for
  small sets: compare numbers only at equal N);
- colour-transfer gain (``tcp_hub.evaluation.colour_transfer_gain``: how far the output moved the
  content's Lab colour statistics toward the reference's) of the swap and of Reinhard's transfer,
  medians over all ordered pairs;
- edge agreement of the swap (and of Reinhard's) with its content input (correlation of Sobel
  magnitudes; 1 = the same edges), medians over all ordered pairs;
- region edits ``G(c_i, [s_i, s_j], [1 - M, M])`` with a random hard mask M per pair: mean change
  against the unedited reconstruction inside M, outside M beyond a band of 1/32 of the side, and
  in the band.

The generator's per-pixel noise is off, so the numbers are deterministic. Prints a table and writes
the numbers as JSON.
"""

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

from tcp_hub.data.folder import find_images
from tcp_hub.data.transforms import make_transform
from tcp_hub.errors import InputError
from tcp_hub.evaluation import (colour_transfer_gain, edge_agreement, evaluation_masks, psnr, region_differences,
                                reinhard_transfer)
from tcp_hub.evaluation.fid import features_frechet_distance, inception_features
from tcp_hub.image_io import open_image_file
from tcp_hub.pipeline import load_pipeline


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, help="TCPPipeline folder, Hub repo id or bundled name (tcp-scenes), "
                                               "or a folder with encoder/ and generator/ (a training checkpoint)")
    p.add_argument("--images", required=True, help="folder of held-out photos (searched recursively)")
    p.add_argument("--resolution", type=int, default=256, help="side of the centre crops (a multiple of 16)")
    p.add_argument("--max_images", type=int, default=50,
                   help="use the first N photos (sorted by path); the pairs grow as N^2")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0, help="seed of the region-edit masks")
    p.add_argument("--json", default="scenes_quality.json", help="where to write the numbers")
    return p.parse_args(argv)


def load_crops(folder: str, resolution: int, max_images: int) -> torch.Tensor:
    """The first ``max_images`` photos under ``folder``, centre-cropped to ``[N, 3, R, R]`` in [-1, 1]."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError(f"held-out photo folder {str(root)!r} does not exist or is not a folder")
    files = find_images(root)[:max_images]
    if len(files) < 2:
        raise InputError(f"{str(root)!r} holds {len(files)} photo(s); swaps and FID need at least 2")
    transform = make_transform("resize_crop", resolution, train=False)
    return torch.stack([transform(open_image_file(f, "held-out photo")) for f in files])


def load_models(model: str):
    """(encoder, generator) of a pipeline (folder, Hub id, bundled name) or of a training checkpoint."""
    pipe = load_pipeline(model)
    return pipe.encoder, pipe.generator


def _median(values: torch.Tensor) -> float:
    return statistics.median(v for v in values.tolist() if not math.isnan(v))


@torch.no_grad()
def evaluate(encoder, generator, images: torch.Tensor, batch_size: int, device: str, seed: int) -> dict:
    """All the numbers of the module docstring for ``images [N, 3, R, R]`` in [-1, 1]."""
    encoder, generator = encoder.to(device).eval(), generator.to(device).eval()

    def render(content, style, masks=None):
        return generator(content, style, masks, noise_mode="none").float().cpu().clamp(-1, 1)

    codes = [encoder(b.to(device)) for b in images.split(batch_size)]
    content, style = torch.cat([c for c, _ in codes]), torch.cat([s for _, s in codes])
    rec = torch.cat([render(c, s) for c, s in zip(content.split(batch_size), style.split(batch_size))])
    n = len(images)
    pairs = torch.tensor([(i, j) for i in range(n) for j in range(n) if i != j])  # [P, 2] (content, style)
    masks = evaluation_masks(len(pairs), images.shape[-1], seed)
    real_features = inception_features(images, batch_size, device)
    swap_features, reinhard_features = [], []
    scores = {k: [] for k in ("gain_swap", "gain_reinhard", "edges_swap", "edges_reinhard", "inside", "outside",
                              "band")}
    for batch, mask in tqdm(list(zip(pairs.split(batch_size), masks.split(batch_size))), desc="Scoring pairs"):
        i, j = batch.unbind(1)
        x_content, x_style = images[i], images[j]
        c, s_own, s_ref = content[i.to(device)], style[i.to(device)], style[j.to(device)]
        swap = render(c, s_ref)
        reinhard = reinhard_transfer(x_content, x_style)
        mixed = render(c, torch.stack([s_own, s_ref], 1), torch.cat([1 - mask, mask], 1).to(device))
        changes = region_differences(mixed, rec[i], mask)
        scores["gain_swap"].append(colour_transfer_gain(swap, x_content, x_style))
        scores["gain_reinhard"].append(colour_transfer_gain(reinhard, x_content, x_style))
        scores["edges_swap"].append(edge_agreement(swap, x_content))
        scores["edges_reinhard"].append(edge_agreement(reinhard, x_content))
        for k in ("inside", "outside", "band"):
            scores[k].append(changes[k])
        swap_features.append(inception_features(swap, batch_size, device))
        reinhard_features.append(inception_features(reinhard, batch_size, device))

    scores = {k: torch.cat(v) for k, v in scores.items()}
    return {
        "images": n, "ordered_pairs": len(pairs), "resolution": images.shape[-1],
        "reconstruction_psnr": float(psnr(rec, images).mean()),
        "swap_fid": features_frechet_distance(torch.cat(swap_features), real_features),
        "reinhard_fid": features_frechet_distance(torch.cat(reinhard_features), real_features),
        "fid_real_images": n, "fid_generated_images": len(pairs),
        "colour_gain_swap_median": _median(scores["gain_swap"]),
        "colour_gain_reinhard_median": _median(scores["gain_reinhard"]),
        "edge_agreement_swap_median": _median(scores["edges_swap"]),
        "edge_agreement_reinhard_median": _median(scores["edges_reinhard"]),
        "edit_inside_change": float(scores["inside"].nanmean()),
        "edit_outside_change": float(scores["outside"].nanmean()),
        "edit_band_change": float(scores["band"].nanmean()),
    }


def table(r: dict) -> str:
    rows = [
        ("reconstruction PSNR (dB) ↑", f"{r['reconstruction_psnr']:.2f}", ""),
        (f"FID vs {r['fid_real_images']} real crops ({r['fid_generated_images']} images) ↓",
         f"{r['swap_fid']:.2f}", f"{r['reinhard_fid']:.2f}"),
        ("colour-transfer gain, median ↑", f"{r['colour_gain_swap_median']:.3f}",
         f"{r['colour_gain_reinhard_median']:.3f}"),
        ("edge agreement with content, median ↑", f"{r['edge_agreement_swap_median']:.3f}",
         f"{r['edge_agreement_reinhard_median']:.3f}"),
        ("region edit: change inside mask", f"{r['edit_inside_change']:.4f}", ""),
        ("region edit: change outside mask (beyond band) ↓", f"{r['edit_outside_change']:.4f}", ""),
        ("region edit: change in the band", f"{r['edit_band_change']:.4f}", ""),
    ]
    lines = [f"{r['images']} held-out photos, {r['ordered_pairs']} ordered pairs, {r['resolution']} px centre crops",
             "", "| metric | model swap | Reinhard transfer |", "|---|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} | {c} |" for a, b, c in rows])


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.resolution % 16:
            raise InputError(f"--resolution must be a multiple of 16, got {args.resolution}")
        images = load_crops(args.images, args.resolution, args.max_images)
        encoder, generator = load_models(args.model)
        results = {"model": str(args.model),
                   **evaluate(encoder, generator, images, args.batch_size, args.device, args.seed)}
    except (InputError, ModuleNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table(results))
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
