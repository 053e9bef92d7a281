"""How much of a swap should be the generator's own rendering (``texture``), and how the edit is smoothed.

    python benchmarks/edit_texture.py --model tcp-scenes --images ../shared/data --list configs/scenes256-holdout.txt

The held-out photos, centre crops and swap pairs of `benchmarks/scenes_quality.py` (26 photos, 130 ordered
pairs, the first 26 with offset 1). For each pair the pipeline gives, with its other defaults (no noise,
48-px rendering margin): the generator's rendering ``G`` (``texture=1, detail=0``), the photo in its own style
``R`` (the same call with the photo as its own reference), the rendering with the photo's detail
(``texture=1``, the default before) and the default output. The variants are composed from these with
`tcp_hub.photo_edit`: ``photo + guided_filter(G - R)`` for several radii and regularisers (a Gaussian blur for
comparison), and mixes with the rendering (``texture`` 0.5). The script checks that its default variant equals
the pipeline's output. Per variant: colour-transfer gain and edge agreement with the content (medians),
sharpness over the content photo's, and FID against the 26 real crops (26 and 130 swaps; the blurred real
crops' FID beside them). Prints a Markdown table; ``--json`` writes the numbers.
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from tcp_hub.evaluation import colour_transfer_gain, edge_agreement, laplacian_variance
from tcp_hub.evaluation.fid import features_frechet_distance, inception_features
from tcp_hub.image_io import gaussian_blur, tensor_to_output
from tcp_hub.photo_edit import EDIT_EPS, EDIT_RADIUS, guided_filter
from tcp_hub.pipeline import load_pipeline

HERE = Path(__file__).parent
GUIDED = ((8, 0.01), (16, 0.01), (16, 0.001), (32, 0.01))  # (radius px, eps)
GAUSSIAN_SIGMAS = (8,)


def scenes_quality():
    spec = importlib.util.spec_from_file_location("scenes_quality", HERE / "scenes_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="tcp-scenes", help="bundled name, pipeline folder or Hub repo id")
    p.add_argument("--images", required=True, help="folder of held-out photos (the paths of --list are relative)")
    p.add_argument("--list", help="text file of photo paths relative to --images")
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--max_images", type=int, default=50)
    p.add_argument("--max_pairs", type=int, default=130)
    p.add_argument("--json", help="where to write the numbers")
    return p.parse_args(argv)


@torch.no_grad()
def renderings(pipe, images: torch.Tensor, pairs: torch.Tensor) -> dict:
    """The pipeline's outputs the variants are made of, ``[P, 3, R, R]`` in [-1, 1] (``R`` per photo)."""
    photos, resolution = tensor_to_output(images, "pil"), images.shape[-1]

    def call(a, b, **kwargs):
        out = pipe(photos[a], photos[b], resolution=resolution, output_type="pt", **kwargs).images
        return out.float().cpu() * 2 - 1

    own = torch.cat([call(a, a, texture=1.0, detail=0.0) for a in tqdm(range(len(images)), desc="Own style")])
    out = {"G": [], "rendered": [], "default": []}
    for a, b in tqdm(pairs.tolist(), desc="Swaps"):
        out["G"].append(call(a, b, texture=1.0, detail=0.0))
        out["rendered"].append(call(a, b, texture=1.0))
        out["default"].append(call(a, b))
    return {"R": own, **{k: torch.cat(v) for k, v in out.items()}}


def variants(images: torch.Tensor, pairs: torch.Tensor, r: dict) -> dict:
    """Name -> ``[P, 3, R, R]`` swaps; asserts the default variant is the pipeline's default output."""
    photo = images[pairs[:, 0]]
    change = r["G"] - r["R"][pairs[:, 0]]
    out = {"generator only (texture 1, detail 0)": r["G"], "rendering + detail (texture 1, the default before)":
           r["rendered"]}
    for radius, eps in GUIDED:
        out[f"texture 0, guided filter r {radius}, eps {eps:g}"] = photo + guided_filter(change, photo, radius, eps)
    for sigma in GAUSSIAN_SIGMAS:
        out[f"texture 0, Gaussian sigma {sigma}"] = photo + gaussian_blur(change, sigma)
    default = f"texture 0, guided filter r {EDIT_RADIUS}, eps {EDIT_EPS:g}"
    out[f"texture 0.5 (r {EDIT_RADIUS})"] = torch.lerp(out[default].clamp(-1, 1), r["rendered"], 0.5)
    out = {k: v.clamp(-1, 1) for k, v in out.items()}
    gap = (out[default] - r["default"]).abs().max().item()
    assert gap < 2e-3, f"the default variant differs from the pipeline's output by {gap}"
    out[default + " (default)"] = out.pop(default)
    return out


def score(images: torch.Tensor, pairs: torch.Tensor, swaps: dict, real_features: torch.Tensor) -> dict:
    n = len(images)
    i, j = pairs.unbind(1)
    sharpness = laplacian_variance(images)
    rows = {}
    for name, out in swaps.items():
        features = inception_features(out, 16, "cpu")
        rows[name] = {"colour_gain": colour_transfer_gain(out, images[i], images[j]).median().item(),
                      "edges": edge_agreement(out, images[i]).median().item(),
                      "sharpness": (laplacian_variance(out) / sharpness[i]).median().item(),
                      "fid_equal_n": features_frechet_distance(features[:n], real_features),
                      "fid": features_frechet_distance(features, real_features)}
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    sq = scenes_quality()
    images = sq.load_crops(sq.photo_files(args.images, args.list, args.max_images), args.resolution)
    pairs = sq.sample_pairs(len(images), args.max_pairs)
    pipe = load_pipeline(args.model)
    swaps = variants(images, pairs, renderings(pipe, images, pairs))
    real = inception_features(images, 16, "cpu")
    blurred = features_frechet_distance(inception_features(gaussian_blur(images, sq.BLUR_SIGMA), 16, "cpu"), real)
    rows = score(images, pairs, swaps, real)
    n, p = len(images), len(pairs)
    print(f"{n} photos, {p} swaps; FID against the {n} real crops (blurred real crops, sigma {sq.BLUR_SIGMA}: "
          f"{blurred:.1f})\n")
    print(f"| variant | colour gain | edges | sharpness / photo's | FID ({n}) | FID ({p}) |\n|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['colour_gain']:.3f} | {r['edges']:.3f} | {r['sharpness']:.3f} | "
              f"{r['fid_equal_n']:.1f} | {r['fid']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"photos": n, "pairs": p, "blurred_real_fid": blurred, "rows": rows},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
