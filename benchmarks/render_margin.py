"""Does the generator draw a frame along the image border, and does a rendering margin remove it?

    python benchmarks/render_margin.py --model tcp-scenes --images ../shared/data \\
        --list configs/scenes256-holdout.txt --margin 32

Swaps of flat photos (a sky) can keep the photo's own colour in a band along the border. Each variant is
scored with `benchmarks/scenes_quality.py`'s evaluation (the same photos, pairs and pipeline defaults):

- ``pipeline``: as `TCPPipeline` renders today;
- ``encode``: the content code of the photo mirrored by ``--margin`` px on every side, rendered in full and
  the output cropped back (the encoder's and the generator's zero padding both fall outside the picture);
- ``code``: the usual content code mirrored by ``--margin / stride`` cells in code space, rendered and cropped
  (the generator's padding only; no second encoder pass).

    python benchmarks/render_margin.py --model tcp-scenes --frames 0,32,40,48,56,64

``--frames``: the frame itself, through `TCPPipeline`'s own ``render_margin`` at each margin: flat noisy photos (a
blue sky, a white wall) swapped with references of `examples/`; per swap, how far the mean colour of the outer
6 px is from that of the middle (0-255; no frame: about 0).

The variants patch the networks of a loaded pipeline (nothing in the package changes). Prints one row per
variant: colour-transfer gain and edge agreement of the swaps (medians), swap FIDs, reconstruction PSNR /
SSIM and the region edits' change inside / outside the mask; ``--figures DIR`` saves each variant's contact
sheets in ``DIR/<variant>/``.
"""

import argparse
import importlib.util
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tcp_hub.models.encoder import EncoderOutput
from tcp_hub.pipeline import load_pipeline

HERE = Path(__file__).parent
EXAMPLES = HERE.parent / "examples"
VARIANTS = ("pipeline", "encode", "code")
COLUMNS = (("colour gain", "colour_gain_swap_median", "{:.3f}"), ("edges", "edge_agreement_swap_median", "{:.3f}"),
           ("FID (26)", "swap_fid_equal_n", "{:.1f}"), ("FID (130)", "swap_fid", "{:.1f}"),
           ("PSNR", "reconstruction_psnr_median", "{:.2f}"), ("SSIM", "reconstruction_ssim_median", "{:.3f}"),
           ("edit in", "edit_inside_change", "{:.4f}"), ("edit out", "edit_outside_change", "{:.4f}"))


def scenes_quality():
    spec = importlib.util.spec_from_file_location("scenes_quality", HERE / "scenes_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pad_masks(masks, content, cells):
    """Masks (any resolution) mirrored like a content code padded by ``cells``: edge values repeated."""
    if masks is None:
        return None
    ph, pw = (round(cells * m / c) for m, c in zip(masks.shape[-2:], content.shape[-2:]))
    return F.pad(masks, (pw, pw, ph, ph), mode="replicate")


def with_margin(pipe, variant: str, margin: int):
    """Patch ``pipe``'s encoder and generator (instances only) to render with a ``margin``-px mirrored border."""
    if variant == "pipeline":
        return pipe
    encoder, generator = pipe.encoder, pipe.generator
    stride = encoder.downsample_factor
    if margin % stride:
        raise SystemExit(f"--margin must be a multiple of the content code's stride, {stride}")
    cells = margin // stride
    encode, render = encoder.forward, generator.forward

    def padded_encode(self, image, style_mask=None, return_dict=True):
        style = encode(image, style_mask).style  # the style code as before: pooled over the picture only
        content = encode(F.pad(image, (margin,) * 4, mode="reflect")).content
        return EncoderOutput(content=content, style=style) if return_dict else (content, style)

    def cropped_render(self, content, style, masks=None, *args, **kwargs):
        if variant == "code":
            masks = _pad_masks(masks, content, cells)
            content = F.pad(content, (cells,) * 4, mode="reflect")
        else:  # the code already has its margin: only the masks (drawn for the picture) need one
            masks = _pad_masks(masks, content[..., cells:-cells, cells:-cells], cells)
        return render(content, style, masks, *args, **kwargs)[..., margin:-margin, margin:-margin]

    if variant == "encode":
        encoder.forward = types.MethodType(padded_encode, encoder)
    generator.forward = types.MethodType(cropped_render, generator)
    return pipe


FLAT_PHOTOS = {"sky": (40, 90, 170), "wall": (220, 210, 190)}  # mean RGB, with noise of std 4
FRAME_SWAPS = (("sky", "ref_sunset"), ("sky", "ref_petra"), ("wall", "ref_forest"), ("wall", "ref_polar_bear"))


def frame_strength(output) -> float:
    """How far the mean colour of the outer 6 px of ``output`` (``[H, W, 3]``) is from the middle's, 0..255."""
    out = np.asarray(output, np.float32)
    border = np.concatenate([out[:6].reshape(-1, 3), out[-6:].reshape(-1, 3), out[:, :6].reshape(-1, 3),
                             out[:, -6:].reshape(-1, 3)])
    return float(np.abs(border.mean(0) - out[40:-40, 40:-40].reshape(-1, 3).mean(0)).mean())


def frames(model: str, margins) -> None:
    pipe = load_pipeline(model, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    rng = np.random.default_rng(0)
    flat = {name: np.clip(rng.normal(rgb, 4, (256, 256, 3)), 0, 255).astype(np.uint8)
            for name, rgb in FLAT_PHOTOS.items()}
    print("| margin (px) | " + " | ".join(f"{photo} / {ref}" for photo, ref in FRAME_SWAPS) + " |")
    print("|---" * (len(FRAME_SWAPS) + 1) + "|")
    for margin in margins:
        values = [frame_strength(pipe(flat[photo], str(EXAMPLES / f"{ref}.jpg"), render_margin=margin).images[0])
                  for photo, ref in FRAME_SWAPS]
        print(f"| {margin} | " + " | ".join(f"{v:.2f}" for v in values) + " |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="tcp-scenes")
    p.add_argument("--images", help="folder the paths of --list are relative to")
    p.add_argument("--list", help="text file of photo paths (configs/scenes256-holdout.txt)")
    p.add_argument("--frames", help="comma-separated margins (px): print the frame table instead")
    p.add_argument("--margin", type=int, default=32, help="px of mirrored border at the working size")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("--max_pairs", type=int, default=130)
    p.add_argument("--figures", help="folder for each variant's contact sheets")
    args = p.parse_args(argv)
    if args.frames:
        frames(args.model, [int(m) for m in args.frames.split(",")])
        return 0
    if not (args.images and args.list):
        p.error("--images and --list are needed (or --frames)")
    sq = scenes_quality()
    images = sq.load_crops(sq.photo_files(args.images, args.list, 50), 256)
    rows = []
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            raise SystemExit(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
        start = time.perf_counter()
        pipe = with_margin(load_pipeline(args.model, dtype=torch.float32), variant, args.margin)
        results, material = sq.evaluate(pipe, images, args.max_pairs, 16, "cpu", 0)
        if args.figures:
            sq.save_contact_sheets(str(Path(args.figures) / variant), pipe, material)
        rows.append((variant, results))
        print(f"{variant}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print(f"\n{len(images)} photos, {rows[0][1]['ordered_pairs']} swaps, margin {args.margin} px\n")
    print("| variant | " + " | ".join(name for name, _, _ in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for variant, r in rows:
        print(f"| {variant} | " + " | ".join(fmt.format(r[key]) for _, key, fmt in COLUMNS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
