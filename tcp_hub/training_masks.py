"""Random region masks for TCP's content-alignment loss (training only; user masks are in `masks.py`).

A mask is a union of free-form brush strokes, ellipses and rectangles drawn until it covers a
target fraction of the image, the target being drawn uniformly from ``coverage``; with
probability ``soft_prob`` its edge is then blurred (std 1-4 % of the short side), as
users' feathered masks are. The exact TCP mask generator is unpublished; this one follows the
free-form masks of inpainting work (DeepFill v2, LaMa).

Every random draw comes from the ``generator`` (torch's global RNG when None), so
``torch.manual_seed`` or a seeded ``torch.Generator`` reproduces a batch of masks exactly.
"""

import math
from typing import Optional, Tuple

import numpy as np
import torch

# Shape kinds and how often each is drawn.
SHAPE_KINDS = ("stroke", "ellipse", "rectangle")
SHAPE_PROBS = (0.5, 0.25, 0.25)

# Stop once the coverage is within this much below the target (the rest would need tiny shapes).
_TARGET_SLACK = 0.01
_MAX_SHAPES = 200


def _check(height: int, width: int, coverage: Tuple[float, float], soft_prob: float) -> None:
    if int(height) != height or int(width) != width or height < 1 or width < 1:
        raise ValueError(f"mask size must be positive integers, got {height!r} x {width!r}")
    low, high = coverage
    if not 0.0 < low <= high < 1.0:
        raise ValueError(f"coverage must be a range (low, high) with 0 < low <= high < 1, got {coverage!r}")
    if not 0.0 <= soft_prob <= 1.0:
        raise ValueError(f"soft_prob must be a probability in [0, 1], got {soft_prob!r}")


def _pixel_centres(y0: int, y1: int, x0: int, x1: int) -> Tuple[np.ndarray, np.ndarray]:
    """Coordinates of the pixel centres of rows y0:y1 and columns x0:x1, as ``[h, 1]`` and ``[1, w]``."""
    return (np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5,
            np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5)


def _box(cy: float, cx: float, radius: float, height: int, width: int) -> Tuple[int, int, int, int]:
    return (max(0, int(cy - radius)), min(height, int(math.ceil(cy + radius)) + 1),
            max(0, int(cx - radius)), min(width, int(math.ceil(cx + radius)) + 1))


def _ellipse_or_rectangle(rng: np.random.Generator, height: int, width: int, area: float, kind: str):
    """A rotated ellipse or rectangle of about ``area`` pixels (before clipping at the border)."""
    aspect = math.exp(rng.uniform(math.log(0.4), math.log(2.5)))
    unit_area = math.pi if kind == "ellipse" else 4.0  # area of the shape with half-axes 1 x 1
    a = min(math.sqrt(area / (unit_area * aspect)), 0.75 * width)
    b = min(a * aspect, 0.75 * height)
    cy, cx = rng.uniform(0, height), rng.uniform(0, width)
    angle = rng.uniform(0, math.pi) if kind == "ellipse" or rng.uniform() < 0.5 else 0.0
    y0, y1, x0, x1 = _box(cy, cx, math.hypot(a, b), height, width)
    y, x = _pixel_centres(y0, y1, x0, x1)
    cos, sin = math.cos(angle), math.sin(angle)
    u = (x - cx) * cos + (y - cy) * sin
    v = -(x - cx) * sin + (y - cy) * cos
    if kind == "ellipse":
        inside = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    else:
        inside = (np.abs(u) <= a) & (np.abs(v) <= b)
    return inside, (y0, y1, x0, x1)


def _stroke(rng: np.random.Generator, height: int, width: int, area: float):
    """A free-form brush stroke (a thick polyline of 1-5 segments) of about ``area`` pixels."""
    side = min(height, width)
    thickness = min(rng.uniform(0.03, 0.12) * side, math.sqrt(area))
    segments = int(rng.integers(1, 6))
    # The round caps add about thickness^2; a step of at most one side bounces at most once.
    step = min(max(area / thickness - thickness, 1.0) / segments, side)
    limits = np.array([height, width], dtype=float)
    points = [rng.uniform(0, 1, 2) * limits]
    heading = rng.uniform(0, 2 * math.pi)
    for _ in range(segments):
        heading += rng.normal(0.0, 0.9)
        nxt = np.abs(points[-1] + step * np.array([math.sin(heading), math.cos(heading)]))
        nxt = np.where(nxt > limits, 2 * limits - nxt, nxt)  # bounce off the borders
        heading = math.atan2(*(nxt - points[-1]))
        points.append(nxt)
    pts = np.stack(points)
    r = thickness / 2
    y0, y1 = max(0, int(pts[:, 0].min() - r)), min(height, int(math.ceil(pts[:, 0].max() + r)) + 1)
    x0, x1 = max(0, int(pts[:, 1].min() - r)), min(width, int(math.ceil(pts[:, 1].max() + r)) + 1)
    y, x = _pixel_centres(y0, y1, x0, x1)
    inside = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for (ay, ax), (by, bx) in zip(pts[:-1], pts[1:]):
        dy, dx = by - ay, bx - ax
        t = np.clip(((y - ay) * dy + (x - ax) * dx) / max(dy * dy + dx * dx, 1e-12), 0.0, 1.0)
        inside |= (y - ay - t * dy) ** 2 + (x - ax - t * dx) ** 2 <= r * r
    return inside, (y0, y1, x0, x1)


def _box_blur(values: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Mean over a window of 2 * radius + 1 along ``axis``, borders reflected (running sums: O(1) a pixel)."""
    pad = [(0, 0), (0, 0)]
    pad[axis] = (radius + 1, radius)
    sums = np.cumsum(np.pad(values, pad, mode="reflect"), axis=axis)
    width = 2 * radius + 1
    if axis == 0:
        return (sums[width:] - sums[:-width]) / width
    return (sums[:, width:] - sums[:, :-width]) / width


def _blur(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-like blur of std ``sigma`` pixels (three box blurs), borders reflected so the mean barely moves."""
    radius = max(1, round((math.sqrt(4 * sigma * sigma + 1) - 1) / 2))  # 3 boxes of this width: std sigma
    out = mask.astype(np.float64)
    for axis in (0, 1):
        if out.shape[axis] > 1:
            for _ in range(3):
                out = _box_blur(out, radius, axis)
    return np.clip(out, 0.0, 1.0)


def random_mask(height: int, width: int, generator: Optional[torch.Generator] = None,
                coverage: Tuple[float, float] = (0.1, 0.6), soft_prob: float = 0.25) -> torch.Tensor:
    """One random region mask: float32 ``[H, W]`` in [0, 1] (1 = inside the region).

    Args:
        height, width: mask size in pixels.
        generator: source of randomness; torch's global RNG when None.
        coverage: (low, high): the mask's mean is drawn uniformly in this range; binary masks land
            inside it exactly, soft masks within about 0.01 (blurring moves a little mass).
        soft_prob: probability of a blurred (feathered) edge; otherwise the mask is exactly {0, 1}.
    """
    _check(height, width, coverage, soft_prob)
    rng = np.random.default_rng(int(torch.randint(0, 2 ** 62, (), generator=generator)))
    low, high = coverage
    total = height * width
    target = rng.uniform(low, high)
    enough = max(low, target - _TARGET_SLACK) * total
    canvas = np.zeros((height, width), dtype=bool)
    covered, shrink = 0, 1.0
    for _ in range(_MAX_SHAPES):
        if covered >= enough:
            break
        area = max((target * total - covered) * rng.uniform(0.5, 1.2) * shrink, 4.0)
        kind = SHAPE_KINDS[rng.choice(len(SHAPE_KINDS), p=SHAPE_PROBS)]
        if kind == "stroke":
            inside, (y0, y1, x0, x1) = _stroke(rng, height, width, area)
        else:
            inside, (y0, y1, x0, x1) = _ellipse_or_rectangle(rng, height, width, area, kind)
        region = canvas[y0:y1, x0:x1]
        added = int(np.count_nonzero(inside & ~region))
        if covered + added > high * total:
            shrink *= 0.6  # too big for the range: retry smaller
            continue
        region |= inside
        covered += added
    if covered < enough:  # rare: top up with a run of free pixels in reading order
        need = int(math.ceil(enough)) - covered
        free = np.flatnonzero(~canvas.reshape(-1))
        start = int(rng.integers(0, len(free) - need + 1))
        canvas.reshape(-1)[free[start:start + need]] = True
    if rng.uniform() < soft_prob:
        return torch.from_numpy(_blur(canvas, rng.uniform(0.01, 0.04) * min(height, width)).astype(np.float32))
    return torch.from_numpy(canvas.astype(np.float32))


def random_masks(batch: int, height: int, width: int, generator: Optional[torch.Generator] = None,
                 coverage: Tuple[float, float] = (0.1, 0.6), soft_prob: float = 0.25) -> torch.Tensor:
    """A batch of independent ``random_mask``s: float32 ``[B, 1, H, W]`` in [0, 1]."""
    if int(batch) != batch or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    masks = [random_mask(height, width, generator, coverage, soft_prob).numpy() for _ in range(batch)]
    return torch.from_numpy(np.stack(masks)[:, None])  # numpy: torch's threads would only add overhead here
