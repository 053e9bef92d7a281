"""The README's figures, made by a model through `TCPPipeline` with the examples of `examples/`.

    python benchmarks/readme_figures.py --model tcp-scenes -o docs

- ``editing.jpg``, on real content photos the bundled model never saw in training. Row 1, a region edit: photo,
  painted region (red), reference, the generator's raw rendering (``keep_unedited=False, detail=0, texture=1``) and the
  pipeline's default output (the photo recoloured by the edit's smooth part, kept as is outside the paint). Row 2, a
  global swap: photo, reference, raw, default.
- ``style_mask.jpg``: a region's style from the whole of a two-part reference, then from its painted
  half only (``style_mask``).
- ``paste.jpg``: content copied elsewhere (``paste_content``): the photo with the painted content, the
  copy placed to its left, and the same with ``keep_unedited=False`` (the whole photo as rendered).
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tcp_hub.app_logic import editor_masks
from tcp_hub.image_io import open_image_file
from tcp_hub.pipeline import load_pipeline

EXAMPLES = "examples"
TILE = 256


def _painted(layer: str) -> np.ndarray:
    """A region layer of `examples/` as the app reads it: a brush stroke (alpha at the brush's opacity) is a
    full edit."""
    image = np.asarray(Image.open(layer).convert("RGBA"))
    return editor_masks({"layers": [image]}, image.shape[:2])[0]


def _tile(image: Image.Image) -> Image.Image:
    return image.convert("RGB").resize((TILE, TILE * image.height // image.width), Image.Resampling.LANCZOS)


def _with_region(photo: Image.Image, mask: np.ndarray) -> Image.Image:
    red = Image.new("RGB", photo.size, (230, 40, 40))
    alpha = Image.fromarray((mask * 140).astype(np.uint8)).resize(photo.size)
    return Image.composite(red, photo.convert("RGB"), alpha)


def _sheet(rows, labels) -> Image.Image:
    tiles = [[_tile(im) for im in row] for row in rows]
    height = max(t.height for row in tiles for t in row)
    sheet = Image.new("RGB", (TILE * max(map(len, rows)), len(rows) * (height + 18)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (row, names) in enumerate(zip(tiles, labels)):
        for c, (tile, name) in enumerate(zip(row, names)):
            top = r * (height + 18)
            draw.text((c * TILE + 4, top + 2), name, fill="black")
            sheet.paste(tile, (c * TILE, top + 18))
    return sheet


def editing(pipe) -> Image.Image:
    photo = open_image_file(f"{EXAMPLES}/pig.jpg")
    reference = open_image_file(f"{EXAMPLES}/ref_petra.jpg")
    mask = _painted(f"{EXAMPLES}/pig_region1.png")
    swap_photo = open_image_file(f"{EXAMPLES}/baths.jpg")
    swap_reference = open_image_file(f"{EXAMPLES}/ref_petra.jpg")
    raw = dict(keep_unedited=False, detail=0.0, texture=1.0)
    rows = [
        [photo, _with_region(photo, mask), reference,
         pipe(photo, [reference], mask=[mask], feather=4, **raw).images[0],
         pipe(photo, [reference], mask=[mask], feather=4).images[0]],
        [swap_photo, swap_reference, pipe(swap_photo, swap_reference, **raw).images[0],
         pipe(swap_photo, swap_reference).images[0]],
    ]
    return _sheet(rows, [["photo", "painted region", "reference", "generator output", "pipeline default"],
                         ["photo", "reference", "generator output", "pipeline default"]])


def style_mask(pipe) -> Image.Image:
    photo = open_image_file(f"{EXAMPLES}/room.jpg")
    mask = _painted(f"{EXAMPLES}/room_region1.png")
    halves = [open_image_file(f"{EXAMPLES}/ref_{name}.jpg").convert("RGB").resize((128, 192)) for name in
              ("sunset", "forest")]
    reference = Image.new("RGB", (256, 192))
    reference.paste(halves[0], (0, 0))
    reference.paste(halves[1], (128, 0))
    right = np.zeros((192, 256), np.float32)
    right[:, 128:] = 1
    rows = [[_with_region(photo, mask), reference, pipe(photo, [reference], mask=[mask], feather=4).images[0],
             _with_region(reference, right), pipe(photo, [reference], mask=[mask], feather=4,
                                                   style_mask=[right]).images[0]]]
    return _sheet(rows, [["painted region", "reference", "style of all of it", "style_mask", "style of the mask"]])


def paste(pipe) -> Image.Image:
    photo = open_image_file(f"{EXAMPLES}/valley.jpg")
    mask = np.zeros((192, 256), np.float32)
    mask[40:80, 110:170] = 1  # the snowy peak
    rows = [[_with_region(photo, mask), pipe.paste_content(photo, mask, offset=(-90, 0)).images[0],
             pipe.paste_content(photo, mask, offset=(-90, 0), keep_unedited=False).images[0]]]
    return _sheet(rows, [["painted content", "copied 90 px left", "keep_unedited=False"]])


FIGURES = {"editing.jpg": editing, "style_mask.jpg": style_mask, "paste.jpg": paste}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="tcp-scenes")
    p.add_argument("-o", "--output", required=True, help="folder for the figures")
    args = p.parse_args(argv)
    pipe = load_pipeline(args.model)
    pipe.set_progress_bar_config(disable=True)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for name, make in FIGURES.items():
        make(pipe).save(out / name, quality=85)
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
