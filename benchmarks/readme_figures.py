"""The README's editing figure, made by a model through `TCPPipeline` with the examples of `examples/`.

    python benchmarks/readme_figures.py --model tcp-scenes -o docs/editing.jpg

Row 1, a region edit: photo, painted region (red), reference, the generator's raw rendering
(``keep_unedited=False, detail=0``) and the pipeline's default output (photo kept outside the paint,
the photo's fine detail added back). Row 2, a global swap: photo, reference, raw, default.
"""

import argparse

import numpy as np
from PIL import Image, ImageDraw

from tcp_hub.image_io import open_image_file
from tcp_hub.masks import load_mask
from tcp_hub.pipeline import load_pipeline

EXAMPLES = "examples"
TILE = 256


def _tile(image: Image.Image) -> Image.Image:
    return image.convert("RGB").resize((TILE, TILE * image.height // image.width), Image.Resampling.LANCZOS)


def _with_region(photo: Image.Image, mask: np.ndarray) -> Image.Image:
    red = Image.new("RGB", photo.size, (230, 40, 40))
    alpha = Image.fromarray((mask * 140).astype(np.uint8)).resize(photo.size)
    return Image.composite(red, photo.convert("RGB"), alpha)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="tcp-scenes")
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args(argv)
    pipe = load_pipeline(args.model)
    photo = open_image_file(f"{EXAMPLES}/valley.jpg")
    reference = open_image_file(f"{EXAMPLES}/ref_sunset.jpg")
    mask = load_mask(f"{EXAMPLES}/valley_region1.png").numpy()
    raw = dict(keep_unedited=False, detail=0.0)
    rows = [
        [photo, _with_region(photo, mask), reference,
         pipe(photo, [reference], mask=[mask], feather=4, **raw).images[0],
         pipe(photo, [reference], mask=[mask], feather=4).images[0]],
        [photo, reference, pipe(photo, reference, **raw).images[0], pipe(photo, reference).images[0]],
    ]
    tiles = [[_tile(im) for im in row] for row in rows]
    height = max(t.height for row in tiles for t in row)
    sheet = Image.new("RGB", (TILE * 5, 2 * (height + 18)), "white")
    labels = [["photo", "painted region", "reference", "generator output", "pipeline default"],
              ["photo", "reference", "generator output", "pipeline default"]]
    draw = ImageDraw.Draw(sheet)
    for r, (row, names) in enumerate(zip(tiles, labels)):
        for c, (tile, name) in enumerate(zip(row, names)):
            top = r * (height + 18)
            draw.text((c * TILE + 4, top + 2), name, fill="black")
            sheet.paste(tile, (c * TILE, top + 18))
    sheet.save(args.output, quality=85)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
