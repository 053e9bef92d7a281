"""Copy the app's real-photo examples, and paint their region layers, from the project's photo collection.

Run from the repository root: ``python examples/make_photo_examples.py PHOTOS`` where PHOTOS holds
``photos_more/`` and its ``MANIFEST.csv`` (sources and licenses). Writes, beside this file: each photo
resized to at most ``SIZE`` px (``<name>.jpg``), ``<name>_region<k>.png`` (RGBA layers painted as the app's brush
paints them), ``<name>_composite.png``, and ``PHOTO_CREDITS.md`` (source and license of each photo, from the
manifest). Only public-domain and CC0 photos are used. The content photos (``pig``, ``baths``) are among
the photos held out from training the bundled model (``configs/scenes256-holdout.txt``).
"""

import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from tcp_hub.app_logic import BRUSH_OPACITY, REGION_COLORS

HERE = Path(__file__).parent
PAINT_SIZE = 512  # the regions' polygons are drawn at this size (the long side)
SIZE = 256  # what is saved (the long side), as the drawn examples: at 384 px Gradio's editor drew a
# loaded example's layer a second time, offset, in Chromium
PERMISSIVE = ("public-domain", "CC0-1.0")
PHOTOS = {  # name here -> file under photos_more/
    "pig": "animals/gcompris__animals_pig.jpg",
    "baths": "building_street/gcompris__germany_trierImperialBaths.jpg",
    "ref_petra": "building_street/gcompris__wonders_petra.jpg",
    "ref_polar_bear": "animals/gcompris__animals_polar_bear.jpg",
}
# Regions as polygons at PAINT_SIZE; "except" paints everything but what of the polygon is not
# green (an animal on grass, cut out more closely than a polygon could).
PIG = [(80, 150), (100, 130), (160, 110), (240, 88), (290, 100), (300, 150), (310, 240), (280, 250), (265, 210),
       (230, 230), (210, 300), (190, 300), (185, 240), (150, 250), (135, 315), (115, 305), (120, 250), (80, 260)]
REGIONS = {
    "pig": [("except", PIG)],  # the grass around the pig
    "baths": [("polygon", [(0, 205), (512, 200), (512, 285), (150, 285), (90, 255), (0, 250)]),  # the lawn
              ("polygon", [(0, 0), (512, 0), (500, 40), (470, 50), (450, 110), (425, 95), (270, 88),
                           (130, 78), (60, 85), (0, 75)])],  # the sky
}


def paint(photo: Image.Image, kind: str, polygon) -> Image.Image:
    """A soft mask as a brush would paint it (anti-aliased edge)."""
    mask = Image.new("L", photo.size, 0)
    ImageDraw.Draw(mask).polygon(polygon, fill=255)
    if kind == "except":
        r, g, b = (np.asarray(c, np.int16) for c in photo.filter(ImageFilter.MedianFilter(5)).split())
        not_green = Image.fromarray(((g < r + 12) | (g < b + 12)).astype(np.uint8) * 255)
        cut_out = ImageChops.multiply(mask, not_green).filter(ImageFilter.MedianFilter(7))
        mask = ImageChops.invert(cut_out.filter(ImageFilter.MaxFilter(3)))
    return mask.filter(ImageFilter.GaussianBlur(1.5))


def save_layers(name: str, photo: Image.Image, masks) -> None:
    composite = photo.convert("RGBA")
    for i, mask in enumerate(masks):
        layer = Image.new("RGBA", photo.size, REGION_COLORS[i] + (0,))
        layer.putalpha(mask.point(lambda a: round(a * BRUSH_OPACITY)))
        layer.save(HERE / f"{name}_region{i + 1}.png", optimize=True)
        composite = Image.alpha_composite(composite, layer)
    composite.convert("RGB").save(HERE / f"{name}_composite.png", optimize=True)


def main(source: Path) -> None:
    manifest = {row["file"]: row for row in csv.DictReader(open(source / "photos_more" / "MANIFEST.csv"))}
    credits = ["# Credits of the real-photo examples", "",
               "Written by `examples/make_photo_examples.py` from the photo collection's manifest.", "",
               "| file | source | license |", "|---|---|---|"]
    for name, file in PHOTOS.items():
        row = manifest[file]
        if not row["license"].startswith(PERMISSIVE):
            raise SystemExit(f"{file}: license {row['license']!r} is not one of {PERMISSIVE}")
        photo = Image.open(source / "photos_more" / file).convert("RGB")
        photo.thumbnail((PAINT_SIZE, PAINT_SIZE), Image.Resampling.LANCZOS)
        masks = [paint(photo, kind, poly) for kind, poly in REGIONS.get(name, [])]
        photo.thumbnail((SIZE, SIZE), Image.Resampling.LANCZOS)
        photo.save(HERE / f"{name}.jpg", quality=90)
        if masks:
            save_layers(name, photo, [m.resize(photo.size, Image.Resampling.LANCZOS) for m in masks])
        package, path = row["source"].removeprefix("deb:").split(" ", 1)
        credits.append(f"| `{name}.jpg` | Debian package `{package}`: `{path}` | {row['license']} |")
    (HERE / "PHOTO_CREDITS.md").write_text("\n".join(credits) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
