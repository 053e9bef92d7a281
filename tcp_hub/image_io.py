"""Image loading and pre/post-processing shared by the pipeline, the CLI and the app.

Anything a user may hand us (a path, a PIL image of any mode, a numpy array, a torch tensor) becomes
an RGB PIL image; the model sees ``[1, 3, H, W]`` tensors in [-1, 1] whose sides are multiples of 16.
"""

import math
import os
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageTooLarge, InputError

ImageInput = Union[str, os.PathLike, Image.Image, np.ndarray, torch.Tensor]

# Longest input side accepted by default: when the work happens at the image's own size (memory grows with it),
# and when it happens at a set working size (the model's training size by default: only the final blends and
# resizes touch the full-size image, so a 12-megapixel phone photo fits; figures in benchmarks/RESULTS.md).
DEFAULT_MAX_SIDE = 1024
DEFAULT_MAX_SIDE_RESIZED = 4096


def open_image_file(path: Union[str, os.PathLike], what: str = "image", max_side: Optional[int] = None) -> Image.Image:
    """Open and fully decode an image file, with a clear error for missing, non-image, corrupt or too large files.

    The size in the file's header is checked before decoding, so a small file that claims a huge image
    (a decompression bomb) costs no memory: the longest side may be at most ``max_side`` px (``None``: no
    limit but Pillow's pixel count, ``Image.MAX_IMAGE_PIXELS``).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file '{path}' does not exist")
    try:
        img = Image.open(path)
        width, height = img.size
        if max_side is not None and max(width, height) > max_side:
            img.close()
            raise ImageTooLarge(f"{what} file '{path}'", width, height, max_side)
        if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
            img.close()
            raise InputError(f"{what} file '{path}' is {width}x{height}, over the limit of "
                             f"{Image.MAX_IMAGE_PIXELS:,} pixels (it may be a decompression bomb); resize it")
        img.load()
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{what} file '{path}' is not an image Pillow can read (PNG, JPEG, WebP, ...)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        limit = f"; the longest side may be at most {max_side} px" if max_side is not None else ""
        raise InputError(f"{what} file '{path}' is too large to decode ({err}){limit}. Resize it") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError(f"{what} file '{path}' is truncated or corrupt ({err})") from None
    return img


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image -> 8-bit RGB, upright according to its EXIF orientation.

    Transparent pixels are composited over white (the colour stored under them is arbitrary);
    16-bit and 32-bit greyscale images are scaled to 8 bits by their value range rather than
    clipped.
    """
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = _to_8bit_grey(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def _to_8bit_grey(image: Image.Image) -> Image.Image:
    """16/32-bit integer or float greyscale -> mode "L", scaled by the range the values use."""
    values = np.asarray(image, dtype=np.float64)
    peak = float(values.max()) if values.size else 0.0
    if image.mode == "F" and peak <= 1.0:
        top = 1.0
    elif image.mode.startswith("I;16") or peak > 255:
        top = 65535.0
    else:
        top = 255.0
    return Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


def _array_to_uint8(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return (arr.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InputError(f"{what} array contains NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise InputError(f"float {what} arrays must hold values in [0, 1]; got values in [{lo:.3g}, {hi:.3g}]. "
                             "Divide uint8 data by 255, or pass it as uint8")
        return (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
    raise InputError(f"{what} array has unsupported dtype {arr.dtype}; use uint8, uint16, bool or float in [0, 1]")


def load_image(source: ImageInput, what: str = "image", max_side: Optional[int] = None) -> Image.Image:
    """Turn any supported input into an RGB PIL image.

    Accepts a file path, a PIL image of any mode (alpha is composited on white, 16-bit is scaled,
    EXIF orientation is applied), a numpy array ``[H, W]`` / ``[H, W, 1|3|4]`` (uint8, uint16, bool or
    float in [0, 1]) or a torch tensor ``[3, H, W]`` / ``[1, 3, H, W]`` (float in [0, 1] or uint8).
    A file whose longest side exceeds ``max_side`` is refused before it is decoded (see `open_image_file`).
    """
    if isinstance(source, (str, os.PathLike)):
        source = open_image_file(source, what, max_side)
    if isinstance(source, torch.Tensor):
        t = source.detach().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
            raise InputError(f"{what} tensor must be [3, H, W] or [1, 3, H, W]; got shape {tuple(source.shape)}")
        arr = t.permute(1, 2, 0).numpy()
        source = arr if t.dtype == torch.uint8 else arr.astype(np.float32)
    if isinstance(source, np.ndarray):
        arr = source
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
            raise InputError(f"{what} array must be [H, W] or [H, W, 3|4]; got shape {source.shape}")
        arr = _array_to_uint8(arr, what)
        if arr.size == 0:
            raise InputError(f"{what} is empty (shape {source.shape})")
        source = Image.fromarray(np.ascontiguousarray(arr))
    if not isinstance(source, Image.Image):
        raise InputError(f"{what} must be a file path, PIL image, numpy array or torch tensor; "
                         f"got {type(source).__name__}")
    if source.width == 0 or source.height == 0:
        raise InputError(f"{what} is empty ({source.width}x{source.height})")
    return to_rgb(source)


def check_size(img: Image.Image, max_side: int, what: str = "image") -> None:
    """`ImageTooLarge` if the longest side of ``img`` (or of a ``(width, height)`` pair) is over ``max_side``."""
    width, height = img if isinstance(img, tuple) else img.size
    if max(width, height) > max_side:
        raise ImageTooLarge(what, width, height, max_side)


def resize_longest_side(img: Image.Image, side: int) -> Image.Image:
    """Scale so the longest side is ``side`` px, keeping the aspect ratio."""
    scale = side / max(img.size)
    if scale == 1:
        return img
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> ``[1, 3, H, W]`` float32 in [-1, 1]."""
    arr = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad right and bottom by mirroring so both sides are multiples of ``multiple`` (no distortion)."""
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def tensor_to_output(images: torch.Tensor, output_type: str = "pil"
                     ) -> Union[List[Image.Image], np.ndarray, torch.Tensor]:
    """``[B, 3, H, W]`` in [-1, 1] -> PIL list, numpy ``[B, H, W, 3]`` or torch ``[B, 3, H, W]`` in [0, 1]."""
    x = (images.detach().float().clamp(-1, 1) + 1) / 2
    if output_type == "pt":
        return x
    arr = x.permute(0, 2, 3, 1).cpu().numpy()
    if output_type == "np":
        return arr
    if output_type == "pil":
        return [Image.fromarray((a * 255 + 0.5).astype(np.uint8)) for a in arr]
    raise InputError(f"output_type must be 'pil', 'np' or 'pt'; got {output_type!r}")


def resize_tensor(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Resample ``[B, C, H, W]`` to ``size`` (H, W): area when shrinking, bicubic when enlarging."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if x.shape[-2] >= size[0] and x.shape[-1] >= size[1]:
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur ``[..., H, W]`` with a Gaussian of standard deviation ``sigma`` px (cut at 3 sigma, borders replicated)."""
    if sigma <= 0:
        return x
    half = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-half, half + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).to(x)
    shape = x.shape
    y = x.reshape(-1, 1, *shape[-2:])
    y = F.pad(y, (half, half, half, half), mode="replicate")
    y = F.conv2d(y, k.view(1, 1, 1, -1))
    y = F.conv2d(y, k.view(1, 1, -1, 1))
    return y.reshape(shape)
