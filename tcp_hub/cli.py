"""Command line: ``tcp-hub swap`` (global or region-wise style swap), ``paste`` (copy content elsewhere),
``suggest`` (a region mask from a point), ``encode`` (codes to a file), ``export`` (a model folder) and
``convert-swae`` (the official Swapping Autoencoder's checkpoints as tcp-hub models)."""

import argparse
import io
import sys
import warnings
from pathlib import Path
from typing import Callable, List, Optional

from .errors import InputError
from .image_io import DEFAULT_MAX_SIDE, DEFAULT_MAX_SIDE_RESIZED
from .pipeline import DEFAULT_DETAIL, DEFAULT_MODEL, DEFAULT_TEXTURE


def _load_pipeline(model: str, device: str, dtype: str):
    import torch

    from .pipeline import load_pipeline

    torch_dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    pipe = load_pipeline(model, dtype=torch_dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def _check_image_output(path: Path) -> None:
    """Refuse, before any work, an output path Pillow cannot write an RGB image to."""
    from PIL import Image

    try:  # a 1-pixel trial also catches formats Pillow knows but cannot save RGB in (or has no plugin for)
        Image.new("RGB", (1, 1)).save(io.BytesIO(), format=Image.registered_extensions()[path.suffix.lower()])
    except (KeyError, OSError, ValueError):
        raise InputError(f"-o {path}: cannot write an image with the extension '{path.suffix}'; use .png, .jpg, "
                         ".webp, .bmp or .tif") from None


def _write(path: Path, save: Callable[[], None]) -> None:
    """Run ``save`` (which writes ``path``); on failure remove what was half-written and say which path failed."""
    from safetensors import SafetensorError

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        save()
    except (OSError, SafetensorError) as err:
        path.unlink(missing_ok=True)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise OSError(f"could not write {path} ({reason}); check that the folder is writable and the disk "
                      "is not full") from None


def _swap(args) -> None:
    if args.style_mask and len(args.style_mask) != len(args.style):
        raise InputError(f"{len(args.style_mask)} --style_mask but {len(args.style)} --style: give one --style_mask "
                         "after each --style ('none' for a reference used whole)")
    style_masks = [None if m.lower() == "none" else m for m in args.style_mask] if args.style_mask else None
    out = Path(args.output)
    _check_image_output(out)
    pipe = _load_pipeline(args.model, args.device, args.dtype)
    strengths = args.strength or [1.0]
    result = pipe(args.content, style=args.style, mask=args.mask or None, strength=strengths,
                  feather=args.feather, resolution=args.resolution, max_side=args.max_side,
                  resize_mask=not args.no_resize_mask, seed=None if args.no_noise else args.seed,
                  keep_unedited=args.keep_unedited, detail=args.detail, texture=args.texture, style_mask=style_masks)
    _write(out, lambda: result.images[0].save(out))
    print(f"wrote {out}")


def _pair(text: str, what: str):
    """``"40,0"`` -> (40.0, 0.0); an `InputError` naming ``what`` otherwise."""
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise InputError(f"{what} must be two numbers separated by a comma, e.g. 40,0; got '{text}'") from None


def _paste(args) -> None:
    out = Path(args.output)
    _check_image_output(out)
    offset = _pair(args.offset, "--offset")
    pipe = _load_pipeline(args.model, args.device, args.dtype)
    result = pipe.paste_content(args.image, args.mask, offset=offset, source=args.source, feather=args.feather,
                                resize_mask=not args.no_resize_mask, resolution=args.resolution,
                                max_side=args.max_side, keep_unedited=args.keep_unedited, detail=args.detail)
    _write(out, lambda: result.images[0].save(out))
    print(f"wrote {out}")


def _suggest(args) -> None:
    out = Path(args.output)
    _check_image_output(out)
    point = _pair(args.point, "--point")
    pipe = _load_pipeline(args.model, args.device, args.dtype)
    mask = pipe.suggest_region(args.image, point, args.threshold, connected=args.connected,
                               resolution=args.resolution, max_side=args.max_side)
    _write(out, lambda: mask.save(out))
    print(f"wrote {out}: {sum(mask.histogram()[1:]) / (mask.width * mask.height):.0%} of the image")


def _encode(args) -> None:
    from safetensors.torch import save_file

    out = Path(args.output)
    if out.suffix.lower() != ".safetensors":
        raise InputError(f"-o {out}: codes are written as safetensors; give a path ending in .safetensors")
    pipe = _load_pipeline(args.model, args.device, args.dtype)
    content, style = pipe.encode(args.image, resolution=args.resolution, max_side=args.max_side)
    codes = {"content": content.float().cpu().contiguous(), "style": style.float().cpu().contiguous()}
    _write(out, lambda: save_file(codes, str(out)))
    print(f"wrote {out}: content {tuple(content.shape)}, style {tuple(style.shape)}")


def _export(args) -> None:
    pipe = _load_pipeline(args.model, "cpu", args.dtype)
    out = Path(args.output)
    pipe.save_pretrained(out)
    size = sum(f.stat().st_size for f in out.rglob("*.safetensors"))
    print(f"wrote {out}: a TCPPipeline in {args.dtype}, {size / 1e6:.1f} MB of safetensors")


def _convert_swae(args) -> None:
    from .convert_swae import convert_swae_checkpoint

    result = convert_swae_checkpoint(args.checkpoint, args.preset, args.output, fp16=args.fp16,
                                     with_discriminators=args.with_discriminators)
    size = sum(f.stat().st_size for f in result.output_dir.rglob("*.safetensors"))
    print(f"wrote {result.output_dir}: the official {args.preset} model as a TCPPipeline"
          f"{' with its discriminators' if args.with_discriminators else ''}, {size / 1e6:.1f} MB of safetensors "
          "(weights under the Adobe Research License: noncommercial research only; see its README.md)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tcp-hub", description="Region-wise style swaps with TCP.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--model", default=DEFAULT_MODEL,
                       help=f"folder, Hub repo id or bundled name (default: {DEFAULT_MODEL})")
        p.add_argument("--resolution", type=int, default=None,
                       help="work at this longest side, result scaled back (default: the model's training size; "
                            "0: the image's own size)")
        p.add_argument("--max_side", type=int, default=None,
                       help=f"refuse images (and mask files) longer than this many px (default "
                            f"{DEFAULT_MAX_SIDE_RESIZED} at a set working size, {DEFAULT_MAX_SIDE} at the image's own)")
        p.add_argument("--device", default="cpu")
        p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])

    swap = sub.add_parser("swap", help="give the content photo the style of one or more references")
    swap.add_argument("--content", required=True, help="photo to edit")
    swap.add_argument("--style", required=True, action="append", help="style reference (repeat per region)")
    swap.add_argument("--mask", action="append", help="region mask image, one per --style (omit: global swap)")
    swap.add_argument("--style_mask", action="append",
                      help="take the style only from the painted part of a reference (a mask image like "
                           "--mask, of the reference's size); if given, one per --style, the Nth for the Nth "
                           "--style (put each after its --style); 'none' uses that reference whole")
    swap.add_argument("--strength", type=float, action="append",
                      help="0..1 per --style (default 1; one value applies to all)")
    swap.add_argument("--feather", type=float, default=0.0, help="soften mask edges (px, 0..64)")
    swap.add_argument("--no_resize_mask", action="store_true",
                      help="refuse a mask whose size differs from the content photo's, or a --style_mask whose size "
                           "differs from its reference's (default: resize it, warning)")
    swap.add_argument("--seed", type=int, default=None,
                      help="add the generator's per-pixel noise, drawn from this seed (default: no noise)")
    swap.add_argument("--no-noise", action="store_true", help="no noise even with --seed")
    swap.add_argument("--keep_unedited", action=argparse.BooleanOptionalAction, default=True,
                      help="with --mask: keep the photo pixel for pixel outside the painted regions (a few px "
                           "past them the edit fades into it); --no-keep_unedited lets the edit reach the whole photo "
                           "(with --texture 1, re-renders all of it)")
    swap.add_argument("--detail", type=float, default=DEFAULT_DETAIL,
                      help=f"0..1: how much of the photo's own fine detail to add back onto the model's rendering "
                           f"(default {DEFAULT_DETAIL:g})")
    swap.add_argument("--texture", type=float, default=DEFAULT_TEXTURE,
                      help=f"0..1: how much of the result is the model's own rendering, reference textures included; "
                           f"0: the photo itself recoloured and relit by the edit (default {DEFAULT_TEXTURE:g})")
    swap.add_argument("-o", "--output", required=True, help="output image path (.png, .jpg, ...)")
    common(swap)
    swap.set_defaults(func=_swap)

    paste = sub.add_parser("paste", help="copy the content under a mask to another place (rendered in the photo's "
                                          "own style)")
    paste.add_argument("--image", required=True, help="photo to edit")
    paste.add_argument("--mask", required=True, help="where the content to copy is (a mask image)")
    paste.add_argument("--offset", required=True,
                       help="dx,dy in pixels of the photo (right and down positive), e.g. 40,0; rounded to the "
                            "model's 16-px grid at the working size")
    paste.add_argument("--source", default=None, help="copy from this photo instead (resized to the image)")
    paste.add_argument("--feather", type=float, default=0.0, help="soften the pasted region's edge (px, 0..64)")
    paste.add_argument("--no_resize_mask", action="store_true",
                       help="refuse a mask whose size differs from the photo's (default: resize it, warning)")
    paste.add_argument("--keep_unedited", action=argparse.BooleanOptionalAction, default=True,
                       help="keep the photo pixel for pixel outside the pasted region (default)")
    paste.add_argument("--detail", type=float, default=DEFAULT_DETAIL,
                       help=f"0..1: how much of the source's fine detail to carry along (default {DEFAULT_DETAIL:g})")
    paste.add_argument("-o", "--output", required=True, help="output image path (.png, .jpg, ...)")
    common(paste)
    paste.set_defaults(func=_paste)

    suggest = sub.add_parser("suggest", help="write a mask of the area whose content resembles a point")
    suggest.add_argument("--image", required=True)
    suggest.add_argument("--point", required=True, help="x,y in pixels of the image, e.g. 120,40")
    suggest.add_argument("--threshold", type=float, default=0.8,
                         help="-1..1: how alike the area must be (cosine similarity of content codes; default 0.8)")
    suggest.add_argument("--connected", action=argparse.BooleanOptionalAction, default=True,
                         help="keep only the part touching the point (default); --no-connected: everywhere alike")
    suggest.add_argument("-o", "--output", required=True, help="output mask image (.png)")
    common(suggest)
    suggest.set_defaults(func=_suggest)

    enc = sub.add_parser("encode", help="write an image's content and style codes to a safetensors file")
    enc.add_argument("--image", required=True)
    enc.add_argument("-o", "--output", required=True, help="output .safetensors path")
    common(enc)
    enc.set_defaults(func=_encode)

    exp = sub.add_parser("export", help="save a model (e.g. a training checkpoint's EMA weights) as a "
                                        "TCPPipeline folder, optionally in float16 to ship it small")
    exp.add_argument("--model", required=True, help="training checkpoint-<step> folder, pipeline folder or repo id")
    exp.add_argument("-o", "--output", required=True, help="output folder")
    exp.add_argument("--dtype", default="float16", choices=["float32", "float16", "bfloat16"])
    exp.set_defaults(func=_export, resolution=None)

    from .convert_swae import SWAE_PRESETS

    conv = sub.add_parser("convert-swae", help="convert an official Swapping Autoencoder checkpoint (the official "
                                               "repository's README links them) into a TCPPipeline folder")
    conv.add_argument("checkpoint", help="the official latest_checkpoint.pth or <N>k_checkpoint.pth")
    conv.add_argument("--preset", required=True, choices=list(SWAE_PRESETS), help="the official model it belongs to")
    conv.add_argument("-o", "--output", required=True, help="output folder")
    conv.add_argument("--fp16", action="store_true", help="store the weights in float16 (half the size)")
    conv.add_argument("--with_discriminators", action="store_true",
                      help="also convert both discriminators (into discriminators/, where train_accelerate.py "
                           "--init_from finds them)")
    conv.set_defaults(func=_convert_swae, resolution=None)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.showwarning = lambda msg, *a, **k: print(f"warning: {msg}", file=sys.stderr)
            args.func(args)
    except (InputError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
