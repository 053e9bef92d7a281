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

``--alternatives`` adds other ways of applying the change to the photo, none of them the pipeline's: the change
scaled down (0.6, 0.8), a colour guided filter (the photo's three channels as the guide, He et al.'s colour
version), a gain in linear light (``photo * (G + d) / (R + d)``, both smoothed; brightening as an exposure
rather than an offset), and the edit taken as a global affine colour map from ``R`` to ``G`` applied to the photo.
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
from tcp_hub.evaluation.metrics import linear_to_srgb, srgb_to_linear
from tcp_hub.image_io import gaussian_blur, tensor_to_output
from tcp_hub.photo_edit import EDIT_EPS, EDIT_RADIUS, box_mean, guided_filter
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
    p.add_argument("--alternatives", action="store_true", help="also score other ways of applying the change")
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


def colour_guided_filter(src: torch.Tensor, guide: torch.Tensor, radius: int = EDIT_RADIUS,
                         eps: float = EDIT_EPS) -> torch.Tensor:
    """He et al.'s colour guided filter: ``src [B, C, H, W]`` fitted in each window as ``a . guide + b``
    (``guide [B, 3, H, W]``, a 3 x 3 covariance with ridge ``eps``); the fits averaged."""
    src, guide = src.float(), guide.float()
    mean_i, mean_s = box_mean(guide, radius), box_mean(src, radius)
    cov = torch.stack([box_mean(guide * src[:, c:c + 1], radius) - mean_i * mean_s[:, c:c + 1]
                       for c in range(src.shape[1])], 1)  # [B, C, 3, H, W]
    var = torch.stack([torch.stack([box_mean(guide[:, i:i + 1] * guide[:, j:j + 1], radius)[:, 0]
                                    - mean_i[:, i] * mean_i[:, j] for j in range(3)], -1) for i in range(3)], -2)
    a = torch.linalg.solve(var + eps * torch.eye(3), cov.permute(0, 3, 4, 2, 1)).permute(0, 4, 3, 1, 2)
    b = mean_s - (a * mean_i[:, None]).sum(2)
    mean_a = torch.stack([box_mean(a[:, c], radius) for c in range(src.shape[1])], 1)
    return (mean_a * guide[:, None]).sum(2) + box_mean(b, radius)


def _linear(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> linear light in [0, 1]."""
    return srgb_to_linear(((x + 1) / 2).clamp(0, 1))


def _srgb(x: torch.Tensor) -> torch.Tensor:
    """Linear light -> images in [-1, 1]."""
    return linear_to_srgb(x.clamp(0, 1)) * 2 - 1


def global_affine(src: torch.Tensor, dst: torch.Tensor):
    """The per-image least-squares colour map ``dst ~ M src + t`` (3 x 4), as a function of an image."""
    def homogeneous(x):
        return torch.cat([x.flatten(2), torch.ones_like(x[:, :1]).flatten(2)], 1)
    x = homogeneous(src)
    m = torch.linalg.solve(x @ x.transpose(1, 2) + 1e-3 * torch.eye(4), x @ dst.flatten(2).transpose(1, 2))
    return lambda image: (m.transpose(1, 2) @ homogeneous(image)).view_as(image)


def alternatives(photo: torch.Tensor, edited: torch.Tensor, own: torch.Tensor) -> dict:
    """Other ways of applying the change ``edited - own`` to ``photo`` (``--alternatives``)."""
    change = guided_filter(edited - own, photo)
    out = {f"texture 0, the change x {scale:g}": photo + scale * change for scale in (0.6, 0.8)}
    out["colour guided filter r 16, eps 0.01"] = photo + colour_guided_filter(edited - own, photo)
    smooth_edited, smooth_own = guided_filter(_linear(edited), photo), guided_filter(_linear(own), photo)
    for d in (0.01, 0.02, 0.1):
        gain = ((smooth_edited + d) / (smooth_own + d)).clamp(0.1, 10)
        out[f"gain in linear light, d {d:g}"] = _srgb(_linear(photo) * gain)
    out["global affine colour map R -> G"] = global_affine(own, edited)(photo)
    return out


def variants(images: torch.Tensor, pairs: torch.Tensor, r: dict, extra: bool = False) -> dict:
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
    if extra:
        out.update(alternatives(photo, r["G"], r["R"][pairs[:, 0]]))
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
    swaps = variants(images, pairs, renderings(pipe, images, pairs), args.alternatives)
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
