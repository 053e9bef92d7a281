"""Procedural scenes whose content and style factors are known, so every swap has an exact answer.

A scene's **content** is its layout: a horizon splitting sky from ground, and 2-5 shapes
(ellipses, rectangles, triangles) with positions, sizes, orientations and a depth order. It
defines a per-pixel **part map** with one label per part type (``PART_NAMES``).

A scene's **style** is its look: a colour and a texture (flat, stripes, checks or noise, with a
frequency, angle and contrast) per part type, and a global lighting gradient (direction,
strength).

Rendering is pixel-local in the style: a pixel's colour depends only on its position, its part
label and the style. Hence, exactly:

- ``render(content_a, style_b)`` is "A's content in B's style";
- ``render_region_edit(c, s_out, s_in, M) == M * render(c, s_in) + (1 - M) * render(c, s_out)``
  is "B's style only inside the mask M".

Coordinates are fractions of the image side (x to the right, y down), so a scene renders at any
resolution. Images are drawn at twice the resolution and averaged down (anti-aliasing).
"""

from dataclasses import dataclass
from typing import Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

PART_NAMES = ("sky", "ground", "ellipse", "rectangle", "triangle")
SHAPE_KINDS = PART_NAMES[2:]
TEXTURE_KINDS = ("flat", "stripes", "checks", "noise")
NUM_PARTS = len(PART_NAMES)


@dataclass(frozen=True)
class Shape:
    """One shape of the layout. ``center`` (x, y) and ``half_size`` (along its own axes) are fractions
    of the image side; ``angle`` (radians) rotates it about its centre."""

    kind: str
    center: Tuple[float, float]
    half_size: Tuple[float, float]
    angle: float


@dataclass(frozen=True)
class Content:
    """Layout: the ground lies below ``y = horizon + tilt * (x - 0.5)``; ``shapes`` go back to front."""

    horizon: float
    tilt: float
    shapes: Tuple[Shape, ...]


@dataclass(frozen=True)
class Texture:
    """A brightness pattern ``1 + contrast * pattern(x, y)``; ``frequency`` in cycles per image side."""

    kind: str
    frequency: float
    angle: float
    contrast: float
    phases: Tuple[float, float, float]


@dataclass(frozen=True)
class Style:
    """Look: an RGB colour in [0, 1] and a texture per part (indexed like ``PART_NAMES``), and a lighting
    gradient whose brightness factor runs from ``1 - light_strength`` to ``1 + light_strength`` along
    the direction ``light_angle``."""

    colors: Tuple[Tuple[float, float, float], ...]
    textures: Tuple[Texture, ...]
    light_angle: float
    light_strength: float


def sample_content(rng: np.random.Generator) -> Content:
    """A random layout: horizon at 30-70 % of the height, 2-5 shapes of 8-25 % half-size."""
    shapes = []
    for _ in range(int(rng.integers(2, 6))):
        kind = SHAPE_KINDS[int(rng.integers(len(SHAPE_KINDS)))]
        shapes.append(Shape(kind=kind,
                            center=(float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.1, 0.9))),
                            half_size=(float(rng.uniform(0.08, 0.25)), float(rng.uniform(0.08, 0.25))),
                            angle=float(rng.uniform(0.0, 2 * np.pi))))
    return Content(horizon=float(rng.uniform(0.3, 0.7)), tilt=float(rng.uniform(-0.3, 0.3)),
                   shapes=tuple(shapes))


def sample_style(rng: np.random.Generator) -> Style:
    """A random look: one colour (random hue) and texture per part, and a lighting gradient."""
    hsv = np.stack([rng.uniform(0, 1, NUM_PARTS), rng.uniform(0.3, 0.9, NUM_PARTS),
                    rng.uniform(0.35, 0.85, NUM_PARTS)], axis=1)
    colors = tuple(tuple(float(c) for c in _hsv_to_rgb(h, s, v)) for h, s, v in hsv)
    textures = tuple(Texture(kind=TEXTURE_KINDS[int(rng.integers(len(TEXTURE_KINDS)))],
                             frequency=float(rng.uniform(3.0, 12.0)), angle=float(rng.uniform(0, np.pi)),
                             contrast=float(rng.uniform(0.15, 0.45)),
                             phases=tuple(float(p) for p in rng.uniform(0, 2 * np.pi, 3)))
                     for _ in range(NUM_PARTS))
    return Style(colors=colors, textures=textures, light_angle=float(rng.uniform(0, 2 * np.pi)),
                 light_strength=float(rng.uniform(0.0, 0.35)))


def _hsv_to_rgb(h: float, s: float, v: float) -> Tuple[float, float, float]:
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return tuple(v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))


def _grid(size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``x, y``: float32 ``[size, size]`` in (0, 1)."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(t, t, indexing="xy")


def _inside(shape: Shape, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    dx, dy = x - shape.center[0], y - shape.center[1]
    cos, sin = np.cos(shape.angle), np.sin(shape.angle)
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos  # the shape's own axes
    a, b = shape.half_size
    if shape.kind == "ellipse":
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    if shape.kind == "rectangle":
        return (np.abs(u) <= a) & (np.abs(v) <= b)
    if shape.kind == "triangle":  # apex at (0, -b), base from (-a, b) to (a, b)
        return (np.abs(v) <= b) & (np.abs(u) <= a * (v + b) / (2 * b))
    raise ValueError(f"unknown shape kind {shape.kind!r}; choose one of {SHAPE_KINDS}")


def _part_map(content: Content, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    labels = (y > content.horizon + content.tilt * (x - 0.5)).astype(np.int64)  # 0 sky, 1 ground
    for shape in content.shapes:
        labels[_inside(shape, x, y)] = PART_NAMES.index(shape.kind)
    return labels


def _check_resolution(resolution: int) -> int:
    if int(resolution) != resolution or resolution < 1:
        raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
    return int(resolution)


def part_map(content: Content, resolution: int = 64) -> torch.Tensor:
    """Part label of every pixel (sampled at pixel centres): int64 ``[R, R]``, values index ``PART_NAMES``."""
    x, y = _grid(_check_resolution(resolution))
    return torch.from_numpy(_part_map(content, x, y))


def _waves(texture: Texture):
    """A texture as <= 3 plane waves: (frequencies [3, 2], phases [3], weights [3]) and a sharpening gain.

    ``pattern = tanh(gain * sum_k w_k sin(2 pi f_k . (x, y) + phase_k)) / tanh(gain)`` lies in [-1, 1].
    """
    f, a, p = texture.frequency, texture.angle, texture.phases
    along = np.array([np.cos(a), np.sin(a)])
    across = np.array([-np.sin(a), np.cos(a)])
    freqs, weights, phases, gain = np.zeros((3, 2)), np.zeros(3), np.zeros(3), 1.0
    if texture.kind == "stripes":
        freqs[0], weights[0], phases[0], gain = f * along, 1.0, p[0], 2.5
    elif texture.kind == "checks":  # sin(u) sin(v) = (cos(u - v) - cos(u + v)) / 2
        freqs[:2] = f * (along - across), f * (along + across)
        phases[:2] = p[0] - p[1] + np.pi / 2, p[0] + p[1] + np.pi / 2
        weights[:2], gain = (0.5, -0.5), 4.0
    elif texture.kind == "noise":
        for k, (turn, scale) in enumerate(((0.0, 1.0), (2.4, 1.37), (4.8, 1.83))):
            freqs[k] = f * scale * np.array([np.cos(a + turn), np.sin(a + turn)])
        phases[:], weights[:], gain = p, 1.0 / 3.0, 1.5
    elif texture.kind != "flat":
        raise ValueError(f"unknown texture kind {texture.kind!r}; choose one of {TEXTURE_KINDS}")
    return freqs, phases, weights, gain


def _pattern(texture: Texture, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A texture's pattern in [-1, 1] on the whole grid: float32 ``[S, S]``.

    Each wave ``sin(a(x) + b(y))`` is expanded to ``sin a cos b + cos a sin b`` so that only
    1-D sines are evaluated.
    """
    freqs, phases, weights, gain = _waves(texture)
    total = np.zeros_like(x)
    cols, rows = x[0], y[:, 0]
    for (fx, fy), phase, weight in zip(freqs, phases, weights):
        if weight == 0.0:
            continue
        a = (2 * np.pi * fx) * cols
        b = (2 * np.pi * fy) * rows + phase
        total += weight * (np.outer(np.cos(b), np.sin(a)) + np.outer(np.sin(b), np.cos(a))).astype(np.float32)
    return np.tanh(gain * total) / np.float32(np.tanh(gain))


def _shade(labels: np.ndarray, style: Style, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """RGB float32 ``[3, S, S]`` in [0, 1] of a part map: colour * texture * lighting, pixel by pixel."""
    if len(style.colors) != NUM_PARTS or len(style.textures) != NUM_PARTS:
        raise ValueError(f"a style needs {NUM_PARTS} colours and textures (one per part {PART_NAMES})")
    brightness = np.ones_like(x)
    for part in np.flatnonzero(np.bincount(labels.ravel(), minlength=NUM_PARTS)):
        texture = style.textures[part]
        if texture.kind != "flat":
            where = labels == part
            brightness[where] = 1.0 + texture.contrast * _pattern(texture, x, y)[where]
    toward = (x - 0.5) * np.cos(style.light_angle) + (y - 0.5) * np.sin(style.light_angle)
    brightness *= 1.0 + style.light_strength * np.sqrt(2.0) * toward  # in [1 - strength, 1 + strength]
    palette = np.asarray(style.colors, dtype=np.float32)  # [P, 3]
    rgb = np.stack([palette[:, c][labels] * brightness for c in range(3)])
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def render(content: Content, style: Style, resolution: int = 64, antialias: bool = True) -> torch.Tensor:
    """The image of a (content, style) pair: float32 ``[3, R, R]`` in [-1, 1].

    With ``antialias`` the scene is drawn at 2R and 2x2-averaged, so part edges are blended.
    """
    r = _check_resolution(resolution)
    factor = 2 if antialias else 1
    x, y = _grid(r * factor)
    rgb = _shade(_part_map(content, x, y), style, x, y)
    if factor > 1:
        rgb = (rgb[:, 0::2, 0::2] + rgb[:, 0::2, 1::2] + rgb[:, 1::2, 0::2] + rgb[:, 1::2, 1::2]) * 0.25
    return torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)) * 2.0 - 1.0


def render_region_edit(content: Content, style_outside: Style, style_inside: Style, mask: torch.Tensor,
                       antialias: bool = True) -> torch.Tensor:
    """Exact answer of a region edit: ``style_inside`` where ``mask`` is 1, ``style_outside`` where it is 0.

    Args:
        mask: float ``[R, R]`` or ``[1, R, R]`` in [0, 1] (soft values blend the two renders).
    Returns:
        float32 ``[3, R, R]`` in [-1, 1].
    """
    mask = torch.as_tensor(mask, dtype=torch.float32)
    if mask.dim() == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.dim() != 2 or mask.shape[0] != mask.shape[1]:
        raise ValueError(f"mask must be a square [R, R] or [1, R, R] tensor, got shape {tuple(mask.shape)}")
    r = mask.shape[-1]
    inside = render(content, style_inside, r, antialias)
    outside = render(content, style_outside, r, antialias)
    return mask * inside + (1.0 - mask) * outside


class SyntheticScenes(Dataset):
    """A fixed, endless-looking set of procedural scenes; item i is ``render(*factors(i))``.

    Args:
        resolution: R; items are float32 ``[3, R, R]`` in [-1, 1].
        length: number of items.
        seed: selects the set; item i depends only on (seed, train, i).
        train: the training set, or a disjoint-by-construction held-out set when False.
        antialias: draw at 2R and average down.
    """

    def __init__(self, resolution: int = 64, length: int = 10000, seed: int = 0, train: bool = True,
                 antialias: bool = True):
        if int(length) != length or length < 1:
            raise ValueError(f"length must be a positive integer, got {length!r}")
        self.resolution = _check_resolution(resolution)
        self.length = int(length)
        self.seed = int(seed)
        self.train = train
        self.antialias = antialias

    def __len__(self) -> int:
        return self.length

    def _index(self, index: int) -> int:
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} is out of range for {self.length} synthetic scenes")
        return index % self.length

    def factors(self, index: int) -> Tuple[Content, Style]:
        """The (content, style) of item ``index``, drawn from independent random streams."""
        key = [self.seed, 0 if self.train else 1, self._index(index)]
        return (sample_content(np.random.default_rng(key + [0])),
                sample_style(np.random.default_rng(key + [1])))

    def __getitem__(self, index: int) -> torch.Tensor:
        return render(*self.factors(index), self.resolution, self.antialias)

    def parts(self, index: int) -> torch.Tensor:
        """Part map of item ``index``: int64 ``[R, R]``."""
        return part_map(self.factors(index)[0], self.resolution)

    def swap(self, content_index: int, style_index: int) -> torch.Tensor:
        """Exact "content of one item in the style of another": float32 ``[3, R, R]`` in [-1, 1]."""
        return render(self.factors(content_index)[0], self.factors(style_index)[1], self.resolution,
                      self.antialias)

    def __repr__(self) -> str:
        return (f"SyntheticScenes(resolution={self.resolution}, length={self.length}, seed={self.seed}, "
                f"train={self.train})")
