"""Draw the app's example photos and their pre-painted region layers (procedural scenes, no data needed).

Run from the repository root: ``python examples/make_examples.py``. Writes, beside this file:
``valley.jpg`` / ``room.jpg`` (content photos), ``<scene>_region<k>.png`` (RGBA layers: the alpha is
the painted region, as the ImageEditor saves a brush stroke), ``<scene>_composite.png``, and the style references
``ref_sunset.jpg``, ``ref_snow.jpg``, ``ref_forest.jpg``.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).parent
W, H = 256, 192
REGION_COLORS = [(230, 57, 70), (42, 157, 143), (69, 123, 229)]  # as tcp_hub.app_logic.REGION_COLORS
BRUSH_OPACITY = 0.5  # as tcp_hub.app_logic.BRUSH_OPACITY: layers look like the app's brush strokes


def gradient(top, bottom, h=H, w=W):
    t = np.linspace(0, 1, h)[:, None, None]
    return np.broadcast_to((1 - t) * np.array(top) + t * np.array(bottom), (h, w, 3)).copy()


def grain(img, rng, amount=6.0):
    return np.clip(img + rng.normal(0, amount, img.shape), 0, 255).astype(np.uint8)


def region_masks(shapes):
    """[(polygon or ellipse box, kind)] -> soft masks as a brush would paint them (anti-aliased edge)."""
    masks = []
    for kind, geometry in shapes:
        m = Image.new("L", (W, H), 0)
        draw = ImageDraw.Draw(m)
        (draw.polygon if kind == "polygon" else draw.ellipse)(geometry, fill=255)
        masks.append(m.filter(ImageFilter.GaussianBlur(1.2)))
    return masks


def save_scene(name, photo, masks):
    background = Image.fromarray(photo).convert("RGBA")
    background.convert("RGB").save(HERE / f"{name}.jpg", quality=90)
    comp = background
    for i, mask in enumerate(masks):
        layer = Image.new("RGBA", (W, H), REGION_COLORS[i] + (0,))
        layer.putalpha(mask.point(lambda a: round(a * BRUSH_OPACITY)))
        layer.save(HERE / f"{name}_region{i + 1}.png", optimize=True)
        comp = Image.alpha_composite(comp, layer)
    comp.convert("RGB").save(HERE / f"{name}_composite.png", optimize=True)


def valley(rng):
    img = gradient((120, 170, 230), (200, 220, 240))
    pil = Image.fromarray(grain(img, rng, 2))
    draw = ImageDraw.Draw(pil)
    mountains = [(0, 110), (50, 60), (95, 95), (140, 45), (200, 100), (256, 70), (256, 130), (0, 130)]
    draw.polygon(mountains, fill=(110, 105, 120))
    draw.polygon([(125, 58), (140, 45), (155, 60), (140, 62)], fill=(235, 235, 240))
    draw.rectangle([0, 125, 256, 192], fill=(90, 150, 70))
    draw.ellipse([60, 145, 200, 180], fill=(70, 120, 180))
    photo = grain(np.asarray(pil.filter(ImageFilter.GaussianBlur(0.8)), np.float32), rng, 5)
    sky = [(0, 0), (256, 0), (256, 62), (200, 95), (140, 40), (95, 90), (50, 55), (0, 105)]
    ridge = [(0, 115), (50, 66), (95, 100), (140, 52), (200, 105), (256, 76), (256, 124), (0, 124)]
    meadow = [(0, 132), (256, 132), (256, 192), (0, 192)]
    masks = region_masks([("polygon", sky), ("polygon", ridge), ("polygon", meadow)])
    save_scene("valley", photo, masks)


def room(rng):
    pil = Image.fromarray(grain(gradient((225, 215, 190), (200, 190, 165)), rng, 2))
    draw = ImageDraw.Draw(pil)
    draw.polygon([(0, 140), (256, 140), (256, 192), (0, 192)], fill=(150, 100, 60))
    for xs in range(0, 256, 32):
        draw.line([(xs, 140), (xs - 20, 192)], fill=(120, 80, 45), width=2)
    draw.rectangle([150, 30, 230, 100], fill=(170, 210, 240), outline=(250, 250, 250), width=4)
    draw.rectangle([30, 105, 130, 150], fill=(60, 80, 120))
    draw.rectangle([30, 90, 130, 112], fill=(70, 95, 140))
    photo = grain(np.asarray(pil.filter(ImageFilter.GaussianBlur(0.8)), np.float32), rng, 5)
    wall = [(0, 0), (256, 0), (256, 136), (134, 136), (134, 86), (26, 86), (26, 136), (0, 136)]
    floor = [(0, 154), (256, 144), (256, 192), (0, 192)]
    masks = region_masks([("polygon", wall), ("polygon", floor)])
    save_scene("room", photo, masks)


def references(rng):
    sunset = Image.fromarray(gradient((70, 40, 110), (250, 150, 60)).astype(np.uint8))
    draw = ImageDraw.Draw(sunset)
    draw.ellipse([150, 100, 200, 150], fill=(255, 220, 120))
    draw.rectangle([0, 150, 256, 192], fill=(40, 25, 35))
    snow = Image.fromarray(gradient((200, 215, 235), (245, 248, 252)).astype(np.uint8))
    draw = ImageDraw.Draw(snow)
    draw.polygon([(0, 120), (80, 60), (170, 110), (256, 70), (256, 192), (0, 192)], fill=(235, 240, 250))
    forest = Image.fromarray(gradient((60, 110, 60), (30, 60, 30)).astype(np.uint8))
    draw = ImageDraw.Draw(forest)
    for _ in range(40):
        x, y = rng.integers(0, W), rng.integers(0, H)
        leaf = tuple(int(v) for v in rng.integers([20, 80, 20], [70, 150, 60]))
        draw.ellipse([x - 18, y - 14, x + 18, y + 14], fill=leaf)
    for x in range(10, 256, 37):
        draw.rectangle([x, 120, x + 6, 192], fill=(80, 55, 35))
    for name, img in (("sunset", sunset), ("snow", snow), ("forest", forest)):
        arr = grain(np.asarray(img.filter(ImageFilter.GaussianBlur(1.0)), np.float32), rng, 6)
        Image.fromarray(arr).save(HERE / f"ref_{name}.jpg", quality=88)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    valley(rng)
    room(rng)
    references(rng)
