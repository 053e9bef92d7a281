"""TCPPipeline: global and region-wise style swaps with a trained encoder + generator."""

import math
import numbers
import os
import warnings
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline, ModelMixin  # noqa: F401  (pipeline loading needs ModelMixin here)
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from PIL import Image

from .content_paste import coverage_on_grid, offset_in_cells, paste_codes, shift_cells
from .errors import InputError
from .image_io import (DEFAULT_MAX_SIDE, DEFAULT_MAX_SIDE_RESIZED, ImageInput, check_size, gaussian_blur, load_image,
                       pad_to_multiple, pil_to_tensor, resize_longest_side, resize_tensor, tensor_to_output)
from .masks import (MaskInput, connected_to, feather as feather_mask, fit_mask, generator_weights, grow, load_mask,
                    prepare_style_mask, resample_mask)
from .models import TCPEncoder, TCPGenerator
from .photo_edit import smooth_edit

BUNDLED_DIR = Path(__file__).parent / "weights"
BUNDLED_MODELS = {"tcp-scenes": BUNDLED_DIR / "tcp-scenes"}
DEFAULT_MODEL = "tcp-scenes"  # what the command line and the app load when no model is named

# Region edits with ``keep_unedited``: the generator's output fades into the photo over this many px
# (at the working size) past the feathered mask: wide enough that the blend leaves no step sharper
# than the photo's own edges (benchmarks/detail_transfer.py, seams), narrow enough that the photo
# stays untouched close to the paint.
KEEP_MARGIN = 8.0
# ``detail``: how much of the photo's own fine detail goes back into an edit by default, and the
# scale (px at the working size) below which detail counts as "fine"; chosen by measurement, see
# benchmarks/detail_transfer.py.
DEFAULT_DETAIL = 1.0
DETAIL_SIGMA = 2.0
# ``texture``: how much of the generator's own rendering an edit takes; the rest is the photo itself with the
# edit's smooth part (`tcp_hub.photo_edit`). 0 by default: on held-out photos it keeps the content's edges and
# looks real (swap FID 128.0 -> 50.3) at about the same colour moved (benchmarks/edit_texture.py).
DEFAULT_TEXTURE = 0.0
# `__call__` renders the photo with this much mirrored border (px at the working size, a multiple of the content
# code's stride), cropped away after: at the picture's edge the encoder's and generator's zero padding otherwise
# draw a frame of the photo's own colour around a swap; 32 px left a faint one with the bundled model, 48 px none
# (benchmarks/render_margin.py --frames).
RENDER_MARGIN = 48
MAX_RENDER_MARGIN = 256
# Allowed ranges of numeric options: a feather's blur kernel grows with it (64 px already softens a mask
# over a quarter of a 256-px working size); below 16 px the content code is a single cell.
MAX_FEATHER = 64.0
MIN_RESOLUTION = 16


def resolve_model_path(name_or_path: Union[str, os.PathLike]) -> Union[str, os.PathLike]:
    """Map a bundled model's short name (``"tcp-scenes"``) to its folder; anything else passes through."""
    if isinstance(name_or_path, str) and name_or_path in BUNDLED_MODELS and not os.path.isdir(name_or_path):
        return str(BUNDLED_MODELS[name_or_path])
    return name_or_path


def _check_number(name: str, value, low: float, high: float, meaning: str = "") -> float:
    """``value`` as a float, or an `InputError` giving the allowed range when it is not a finite number in it."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not low <= number <= high:  # NaN fails every comparison
        raise InputError(f"{name} is {value!r}; it must be a number between {low:g} and {high:g}{meaning}")
    return number


def check_resolution(resolution, max_side: int, default: Optional[int] = None) -> Optional[int]:
    """The working size: an int from `MIN_RESOLUTION` to ``max_side``, or ``None`` for the image's own size.

    ``resolution`` ``None`` gives ``default`` (the model's training size, where it records one); 0 the
    image's own size; anything else must be a whole number in range, else an `InputError`.
    """
    if resolution is None:
        return None if default is None else min(int(default), max_side)
    whole = isinstance(resolution, numbers.Integral) or isinstance(resolution, float) and resolution.is_integer()
    if isinstance(resolution, bool) or not whole or not (resolution == 0 or MIN_RESOLUTION <= resolution <= max_side):
        raise InputError(f"resolution is {resolution!r}; the working size must be a whole number of pixels from "
                         f"{MIN_RESOLUTION} to {max_side} (the limit max_side / --max_side), 0 for the image's own "
                         "size, or None for the model's training size")
    return int(resolution) or None


def _check_finite(name: str, x: torch.Tensor) -> None:
    if x.is_floating_point() and not torch.isfinite(x).all():
        raise InputError(f"{name} contains NaN or infinite values; it must hold finite numbers")


def _as_list(x) -> Optional[list]:
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def photo_detail(photo: torch.Tensor, working_photo: torch.Tensor, reconstruction: torch.Tensor,
                 sigma: Optional[float] = DETAIL_SIGMA) -> torch.Tensor:
    """What of the photo the generator does not draw, to add back onto an edit.

    The residual ``photo - reconstruction``, high-passed by subtracting its Gaussian blur of ``sigma`` px
    (``None`` or 0: the whole residual). The low-pass is taken at the working size and upsampled, so
    when the photo is larger than the working size its finer detail is all included.

    Args:
        photo: ``[B, 3, H, W]`` in [-1, 1], at the size of the output.
        working_photo: ``[B, 3, h, w]`` the photo at the working size (``photo`` itself when ``h, w == H, W``).
        reconstruction: ``[B, 3, h, w]`` the model's rendering of the photo with its own style code.

    Returns:
        ``[B, 3, H, W]`` to add (times an amount) to the edit.
    """
    smooth = reconstruction.float()
    if sigma:
        smooth = smooth + gaussian_blur(working_photo.float() - smooth, sigma)
    return photo.float() - resize_tensor(smooth, tuple(photo.shape[-2:]))


def keep_photo_outside(images: torch.Tensor, photo: torch.Tensor, edited: torch.Tensor) -> torch.Tensor:
    """``images [B, 3, H, W]`` with the ``photo`` (same shape) put back wherever ``edited [1, 1, h, w]`` (at the
    working size) is 0 and `KEEP_MARGIN` px past it, fading from the edit into the photo across that margin."""
    photo = photo.to(images.device)
    keep_weight = resample_mask(grow(edited, KEEP_MARGIN), tuple(images.shape[-2:])).to(images.device)
    return images.sub_(photo).mul_(keep_weight).add_(photo)  # exactly the photo where the weight is 0


def _output(images: torch.Tensor, output_type: str, return_dict: bool):
    images = tensor_to_output(images, output_type)
    return ImagePipelineOutput(images=images) if return_dict else (images,)


def interpolate_style(source: torch.Tensor, target: torch.Tensor, strength: float) -> torch.Tensor:
    """Move a style code ``strength`` of the way to ``target`` (0 = source, 1 = target), re-normalised."""
    return F.normalize(torch.lerp(source.float(), target.float(), strength), dim=-1).to(source.dtype)


class TCPPipeline(DiffusionPipeline):
    r"""Give one photo the look of others, everywhere or only inside painted regions.

    Args:
        encoder: [`TCPEncoder`] that splits images into content and style codes.
        generator: [`TCPGenerator`] that renders a content code with one or several styles.

    Example:
        >>> pipe = TCPPipeline.from_pretrained("tcp-scenes")
        >>> out = pipe("house.jpg", style="sunset.jpg").images[0]
        >>> out = pipe("house.jpg", style=["sunset.jpg", "snow.jpg"], mask=["sky.png", "roof.png"],
        ...            strength=[1.0, 0.6]).images[0]
    """

    model_cpu_offload_seq = "encoder->generator"

    def __init__(self, encoder: TCPEncoder, generator: TCPGenerator):
        super().__init__()
        self.register_modules(encoder=encoder, generator=generator)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """Load from a folder, a Hub repo id, or a bundled short name (``"tcp-scenes"``).

        Only safetensors weights are loaded; a checkpoint that has only pickle files is refused.
        """
        if kwargs.get("use_safetensors") is False:
            raise InputError("TCPPipeline loads safetensors weights only; pickle checkpoints are refused")
        kwargs["use_safetensors"] = True
        return super().from_pretrained(resolve_model_path(pretrained_model_name_or_path), **kwargs)

    @classmethod
    def from_checkpoint(cls, folder: Union[str, os.PathLike], use_ema: bool = True) -> "TCPPipeline":
        """A pipeline from a training ``checkpoint-<step>`` folder (or any folder with ``encoder/`` and
        ``generator/``); the EMA weights (``ema_encoder/``, ``ema_generator/``) when present and ``use_ema``."""
        folder = Path(folder)

        def pick(name: str) -> Path:
            for sub in ([f"ema_{name}"] if use_ema else []) + [name]:
                if (folder / sub).is_dir():
                    return folder / sub
            raise InputError(f"'{folder}' has no {name}/ subfolder: pass a TCPPipeline folder "
                             "(with model_index.json) or a training checkpoint-<step> folder")

        encoder = TCPEncoder.from_pretrained(pick("encoder"), use_safetensors=True)
        generator = TCPGenerator.from_pretrained(pick("generator"), use_safetensors=True)
        return cls(encoder=encoder.eval(), generator=generator.eval())

    # ---- codes ---------------------------------------------------------------------------------
    def _sizes(self, resolution, max_side: Optional[int]) -> Tuple[Optional[int], int]:
        """The working size (``None``: the image's own) and the longest input side accepted.

        ``resolution`` as in `__call__` (``None``: the model's ``sample_size``). ``max_side`` ``None`` accepts
        `DEFAULT_MAX_SIDE_RESIZED` (4096) px when the work happens at a set size, `DEFAULT_MAX_SIDE` (1024) at
        the image's own size; a set working size may be at most ``max_side``, or 1024 when it is ``None``.
        """
        working = check_resolution(resolution, max_side or DEFAULT_MAX_SIDE, self.encoder.config.get("sample_size"))
        if max_side is None:
            max_side = DEFAULT_MAX_SIDE if working is None else DEFAULT_MAX_SIDE_RESIZED
        return working, max_side

    @property
    def _multiple(self) -> int:
        return self.encoder.downsample_factor

    def _model_input(self, image: ImageInput, what: str, resolution: Optional[int], max_side: int,
                     full_size: bool = False):
        """Any image input -> (padded ``[B, 3, h', w']`` in [-1, 1] on device, working (h, w), original (H, W),
        with ``full_size`` the image at its original size ``[B, 3, H, W]`` in [-1, 1] on the CPU, else None)."""
        if isinstance(image, torch.Tensor) and image.ndim == 4 and image.shape[0] > 1:
            x = image.float()
            _check_finite(f"{what} tensor", x)
            if x.min() < -1e-3 or x.max() > 1 + 1e-3:
                raise InputError(f"{what} tensor values must be in [0, 1]; got [{x.min():.3g}, {x.max():.3g}]")
            x = x * 2 - 1
            photo = x
            original = tuple(x.shape[-2:])
            check_size((original[1], original[0]), max_side, what)
            if resolution:
                scale = resolution / max(original)
                x = resize_tensor(x, (max(1, round(original[0] * scale)), max(1, round(original[1] * scale))))
        else:
            img = load_image(image, what, max_side)
            check_size(img, max_side, what)
            original = (img.height, img.width)
            photo = pil_to_tensor(img) if full_size or not resolution else None
            x = pil_to_tensor(resize_longest_side(img, resolution)) if resolution else photo
        working = tuple(x.shape[-2:])
        x = pad_to_multiple(x, self._multiple)
        return x.to(self.device, self.encoder.dtype), working, original, photo if full_size else None

    def _style_weights(self, style_mask: Optional[MaskInput], index: int, working: Tuple[int, int],
                       original: Tuple[int, int], resize_mask: bool, max_side: int) -> Optional[torch.Tensor]:
        """A style reference's mask -> ``[1, 1, h', w']`` on device, padded like the reference; ``None`` for
        the whole reference (no mask, or nothing painted)."""
        if style_mask is None:
            return None
        m = prepare_style_mask(style_mask, original, index, resize_mask, max_side)
        if m is None:
            return None
        m = pad_to_multiple(resample_mask(m[None, None], working), self._multiple)  # mirrored like the image
        return m.to(self.device, self.encoder.dtype)

    @torch.no_grad()
    def encode(self, image: ImageInput, resolution: Optional[int] = None, max_side: Optional[int] = None,
               style_mask: Optional[MaskInput] = None, resize_mask: bool = True
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Image -> ``(content [B, C, h/16, w/16], style [B, D])``, ``h, w`` the working size (by default the
        model's training size, e.g. 256 px on the longest side; ``resolution=0``: the image's own).

        The content code covers the image padded to multiples of 16 on the right and bottom.
        ``resolution``, ``max_side`` and ``resize_mask`` mean what they do in `__call__`; ``style_mask``
        pools the style code over the painted part of the image only (see ``style_mask`` in `__call__`).
        """
        resolution, max_side = self._sizes(resolution, max_side)
        x, working, original, _ = self._model_input(image, "image", resolution, max_side)
        codes = self.encoder(x, self._style_weights(style_mask, 0, working, original, resize_mask, max_side))
        return codes.content, codes.style

    @torch.no_grad()
    def decode(self, content: torch.Tensor, style: torch.Tensor, masks: Optional[torch.Tensor] = None,
               seed: Optional[int] = None, output_type: str = "pt"):
        """Codes -> images. ``style [B, D]``, or ``[B, K, D]`` with ``masks [B, K, H, W]`` summing to 1 per pixel.

        ``seed`` fixes the generator's per-pixel noise (same seed, same output); ``None`` turns noise off.
        Codes must be finite (NaN or infinite values are refused).
        """
        _check_finite("content code", content)
        _check_finite("style code", style)
        if masks is not None:
            _check_finite("masks", masks)
        images = self._generate(content.to(self.device, self.generator.dtype),
                                style.to(self.device, self.generator.dtype),
                                None if masks is None else masks.to(self.device, self.generator.dtype), seed)
        return tensor_to_output(images, output_type)

    def _render_margin(self, x: torch.Tensor, wanted: float) -> int:
        """``wanted`` px of margin for the padded model input ``x``, on the content code's grid and narrower than
        ``x`` (a mirrored border must be)."""
        margin = min(int(wanted), min(x.shape[-2:]) - 1)
        return margin - margin % self._multiple

    def _render(self, content, style, masks, seed, margin: int):
        """`_generate` from a content code with ``margin`` px of border (``masks`` at the picture's size get the
        same border, their edge values repeated), cropped back to the picture."""
        if not margin:
            return self._generate(content, style, masks, seed)
        if masks is not None:
            masks = F.pad(masks, (margin,) * 4, mode="replicate")
        return self._generate(content, style, masks, seed)[..., margin:-margin, margin:-margin]

    def _generate(self, content, style, masks, seed):
        if seed is None:
            return self.generator(content, style, masks, noise_mode="none")
        gen = torch.Generator(device=self.device).manual_seed(int(seed))
        return self.generator(content, style, masks, noise_mode="random", generator=gen)

    # ---- editing -------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        content: ImageInput,
        style: Union[ImageInput, Sequence[ImageInput]],
        mask: Optional[Union[MaskInput, Sequence[MaskInput]]] = None,
        strength: Union[float, Sequence[float]] = 1.0,
        feather: float = 0.0,
        resize_mask: bool = True,
        resolution: Optional[int] = None,
        max_side: Optional[int] = None,
        seed: Optional[int] = None,
        keep_unedited: bool = True,
        detail: float = DEFAULT_DETAIL,
        texture: float = DEFAULT_TEXTURE,
        style_mask: Optional[Union[MaskInput, Sequence[Optional[MaskInput]]]] = None,
        render_margin: int = RENDER_MARGIN,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        r"""Restyle ``content`` with ``style``, everywhere or inside painted masks.

        Args:
            content: the photo to edit: a path, PIL image, numpy array or tensor ([0, 1] floats);
                a tensor ``[B, 3, H, W]`` edits a batch with the same styles and masks.
            style: one reference image, or a list (one per mask).
            mask: ``None`` for a global swap, or one mask per style: paths/images/arrays, binary or soft
                (0..1); with transparency the alpha is the mask. Masks are resized to the image
                (with a warning) unless ``resize_mask=False``.
            strength: 0..1 per style: how far each region's style code moves to its reference.
            feather: Gaussian blur (px, at the working size, 0 to `MAX_FEATHER` = 64) softening mask edges.
            resolution: work at this longest side (an int from `MIN_RESOLUTION` = 16 to ``max_side``) and
                scale the result back to the input's size. ``None`` (default): the model's training size
                (``encoder.config.sample_size``, 256 px for tcp-scenes; the input's own size for a model that
                does not record it); 0: the input's own size. On whole photos the training size keeps more
                of the content's edges and detail than working at 1024 px, 25x faster, while moving less
                colour (benchmarks/working_size.py, figures in benchmarks/RESULTS.md).
            max_side: refuse inputs (images and mask files) whose longest side exceeds this many pixels;
                files are checked before they are decoded. ``None`` (default): 4096 when working at a set
                size (the default; a 12-megapixel phone photo fits), 1024 at the image's own size.
            seed: ``None`` (default): no per-pixel noise (measured: noise adds speckle and loses edges,
                benchmarks/RESULTS.md); an integer adds the generator's noise drawn from that seed, so equal
                inputs and seed give equal outputs. The output is deterministic either way.
            keep_unedited: region edits only: keep the input photo, pixel for pixel at its own size, wherever
                nothing was painted. The generator's output is used where the feathered masks reach and
                fades into the photo over `KEEP_MARGIN` (8) px at the working size past them (scaled to the
                input's size, plus a pixel of resampling when ``resolution`` rescales); beyond that the
                output is the photo. Partly painted (soft) pixels mix the edit with the photo.
                ``False``: the edit applies to the whole photo (with ``texture=1``: the whole photo as the
                generator renders it).
            detail: 0..1, how much of the photo's own fine detail (what the generator cannot draw,
                `photo_detail`) to add back onto the generator's rendering, inside the edited regions or
                everywhere in a global swap. Acts on the rendered share of the output (``texture``).
            texture: 0..1, how much of the output is the generator's own rendering, which paints the
                reference's textures too (a dog in a flower field's style turns into foliage). 0 (default): the
                photo itself, recoloured and relit by the smooth part of the edit (`tcp_hub.photo_edit`): all
                of the photo's edges and textures stay. 1: the rendering plus ``detail``, as earlier versions
                did. ``texture`` below 1 or ``detail`` above 0 costs a second generator pass (the photo in its
                own style).
            style_mask: take each style from part of its reference only: ``None`` (the whole references),
                or one mask per style (a list in the multi-region form, ``None`` entries for whole
                references), in any form ``mask`` accepts, resized to its reference by the same rules. The
                style code is then pooled over the painted part of the reference only ("this wall should look
                like *that* wall"); a mask with nothing painted uses the whole reference, with a warning.
            render_margin: px (at the working size; 0 to `MAX_RENDER_MARGIN` = 256) of the photo mirrored around
                it, encoded and rendered with it and cropped away after, so that a swap has no frame of the
                photo's own colour along the picture's edge (default `RENDER_MARGIN` = 48; measured in
                benchmarks/RESULTS.md). Rounded down to the content code's grid and to less than the picture's
                side. 0: the content code of the picture alone, as `encode` gives it, rendered as `decode` does.
            output_type: ``"pil"``, ``"np"`` (``[B, H, W, 3]`` in [0, 1]) or ``"pt"`` (``[B, 3, H, W]`` in [0, 1]).

        Returns:
            [`ImagePipelineOutput`] with ``images`` at the content's original size.
        """
        styles = _as_list(style)
        masks = _as_list(mask)
        strengths = _as_list(strength)
        style_masks = _as_list(style_mask)
        if not styles:
            raise InputError("give at least one style reference image")
        if masks is None and len(styles) > 1:
            raise InputError(f"{len(styles)} style references were given without masks; give one mask per "
                             "style to say where each applies, or a single style for a global swap")
        if masks is not None and len(masks) != len(styles):
            raise InputError(f"{len(masks)} masks but {len(styles)} style references: give exactly one "
                             "style reference per mask")
        if style_masks is not None and len(style_masks) != len(styles):
            raise InputError(f"{len(style_masks)} style masks but {len(styles)} style references: give one style "
                             "mask per style reference (None where the whole reference should be used)")
        if len(strengths) == 1:
            strengths = strengths * len(styles)
        if len(strengths) != len(styles):
            raise InputError(f"{len(strengths)} strengths for {len(styles)} styles: give one strength, or one per "
                             "style")
        strengths = [_check_number(f"strength {i + 1}", s, 0.0, 1.0, " (0: unchanged, 1: the full reference)")
                     for i, s in enumerate(strengths)]
        feather = _check_number("feather", feather, 0.0, MAX_FEATHER, " px")
        detail = _check_number("detail", detail, 0.0, 1.0, " (0: the generator's output, 1: all of the photo's "
                                                             "fine detail)")
        texture = _check_number("texture", texture, 0.0, 1.0, " (0: the photo recoloured by the edit, 1: the "
                                                               "generator's rendering)")
        render_margin = _check_number("render_margin", render_margin, 0, MAX_RENDER_MARGIN, " px")
        resolution, max_side = self._sizes(resolution, max_side)

        x, (h, w), original, photo = self._model_input(content, "content image", resolution, max_side,
                                                          full_size=True)
        codes = self.encoder(x)
        content_code, own_style = codes.content, codes.style
        margin = self._render_margin(x, render_margin)
        if margin:  # the content code of the photo in a mirrored border; the style stays the photo's own
            content_code = self.encoder(F.pad(x, (margin,) * 4, mode="reflect")).content
        ref_styles = []
        for i, (ref, ref_mask) in enumerate(zip(styles, style_masks or [None] * len(styles))):
            ref_x, ref_working, ref_original, _ = self._model_input(ref, f"style image {i + 1}", resolution, max_side)
            weights = self._style_weights(ref_mask, i, ref_working, ref_original, resize_mask, max_side)
            ref_styles.append(self.encoder(ref_x, weights).style)
        batch = content_code.shape[0]
        new_styles = [interpolate_style(own_style, ref.expand(batch, -1), float(a))
                      for ref, a in zip(ref_styles, strengths)]

        edited = None  # [1, 1, h, w]: how much of each pixel the masks edit; None for a global swap
        if masks is None:
            images = self._render(content_code, new_styles[0], None, seed, margin)
        else:
            weights, edited = generator_weights(masks, original, (h, w), self._multiple, feather, resize_mask,
                                                max_side)
            weights = weights.to(self.device, content_code.dtype).expand(batch, -1, -1, -1)
            all_styles = torch.stack([own_style] + new_styles, dim=1)
            images = self._render(content_code, all_styles, weights, seed, margin)

        working_edit = images[..., :h, :w].float().clamp(-1, 1)
        images = resize_tensor(working_edit, original).clamp(-1, 1)
        if detail > 0 or texture < 1:
            reconstruction = self._render(content_code, own_style, None, seed, margin)[..., :h, :w].clamp(-1, 1)
        if texture > 0 and detail > 0:
            added = photo_detail(photo.to(images.device), x[..., :h, :w], reconstruction).mul_(float(detail))
            if edited is not None:
                added.mul_(resample_mask(edited, original).to(images.device))
            images.add_(added).clamp_(-1, 1)
            del added  # full-size tensors: free before the next
        if texture < 1:
            regions = None if edited is None else weights[:1, 1:, :h, :w]
            smooth = smooth_edit(photo.to(images.device), x[..., :h, :w], working_edit, reconstruction,
                                 region=regions).clamp_(-1, 1)
            images = torch.lerp(smooth, images, float(texture)) if texture > 0 else smooth
        if edited is not None and keep_unedited:
            images = keep_photo_outside(images, photo, edited)
        return _output(images, output_type, return_dict)

    # ---- region suggestion and content moves -----------------------------------------------------
    @torch.no_grad()
    def suggest_region(self, image: ImageInput, point: Tuple[float, float], threshold: float = 0.8,
                       connected: bool = True, resolution: Optional[int] = None, max_side: Optional[int] = None,
                       output_type: str = "pil"):
        """Propose the region of ``image`` whose content resembles the pixel ``point = (x, y)``.

        The content code (one L2-normalised vector per cell of 16 x 16 px at the working size; 8 x 8 for the
        bundled model) is compared with the clicked cell's code by cosine similarity; the similarity map is
        upsampled to the image, cut at ``threshold`` (-1..1) and, with ``connected``, kept to the part
        touching the point. Use the result as a ``mask`` of `__call__` (or refine it first).

        Returns:
            the mask at the image's size: a PIL ``"L"`` image (255 inside) for ``output_type="pil"``, or
            ``[H, W]`` uint8 (0 / 255) for ``"np"``.
        """
        threshold = _check_number("threshold", threshold, -1.0, 1.0, " (cosine similarity of content codes)")
        resolution, max_side = self._sizes(resolution, max_side)
        x, (h, w), (height, width), _ = self._model_input(image, "image", resolution, max_side)
        if x.shape[0] != 1:
            raise InputError("suggest_region takes one image, not a batch")
        px, py = _check_point(point, width, height)
        content = self.encoder(x).content[0].float()  # [C, h', w']
        stride = self._multiple
        row, col = min(int(py * h / height), h - 1), min(int(px * w / width), w - 1)
        similarity = torch.einsum("chw,c->hw", content, content[:, row // stride, col // stride])
        similarity = F.interpolate(similarity[None, None], scale_factor=stride, mode="bilinear",
                                   align_corners=False)[0, 0, :h, :w]
        mask = similarity >= threshold
        mask[row, col] = True  # the clicked code always resembles itself
        if connected:
            mask = connected_to(mask, (row, col))
        full = F.interpolate(mask.float()[None, None], size=(height, width), mode="bilinear", align_corners=False)
        full = (full[0, 0] >= 0.5).cpu()
        full[int(py), int(px)] = True
        array = full.numpy().astype(np.uint8) * 255
        if output_type == "np":
            return array
        if output_type != "pil":
            raise InputError(f"output_type must be 'pil' or 'np'; got {output_type!r}")
        return Image.fromarray(array, mode="L")

    @torch.no_grad()
    def paste_content(
        self,
        image: ImageInput,
        mask: MaskInput,
        offset: Tuple[float, float] = (0, 0),
        source: Optional[ImageInput] = None,
        feather: float = 0.0,
        resize_mask: bool = True,
        resolution: Optional[int] = None,
        max_side: Optional[int] = None,
        seed: Optional[int] = None,
        keep_unedited: bool = True,
        detail: float = DEFAULT_DETAIL,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        r"""Copy content: the content code under ``mask`` is placed ``offset`` pixels away and rendered with the
        image's own style, so the copy takes on the image's look (the region under ``mask`` stays too).

        Args:
            image: the photo to edit (one image), in any form `__call__` accepts.
            mask: where the content to copy is, in the source's pixels (resized to the image like the
                masks of `__call__`).
            offset: ``(dx, dy)`` in pixels of the input, right and down positive. The content code has
                one vector per cell of 16 x 16 px at the working size (8 x 8 for the bundled model), so the
                offset is rounded to whole cells (16 or 8 px at ``resolution=256`` times the image's size over
                256); what falls past the image's border is dropped, with a warning.
            source: take the content from this photo instead (resized to the image's size); ``None``: from
                the image itself.
            feather, resize_mask, resolution, max_side, seed, output_type, return_dict: as in `__call__`.
            keep_unedited: keep the photo, pixel for pixel, outside the pasted region (the paint moved by
                the offset, feathered) and `KEEP_MARGIN` px past it; ``False``: the whole image as the
                generator renders it.
            detail: 0..1, how much of the source's own fine detail (`photo_detail` at the working size)
                to carry along with the pasted content.

        Returns:
            [`ImagePipelineOutput`] with ``images`` at the image's size. With ``offset`` rounding to
            (0, 0) and no ``source`` nothing moves: the image's reconstruction (``keep_unedited=False``)
            or the photo kept outside the mask.
        """
        dx, dy = _check_offset(offset)
        feather = _check_number("feather", feather, 0.0, MAX_FEATHER, " px")
        detail = _check_number("detail", detail, 0.0, 1.0, " (0: the generator's output, 1: all of the source's "
                                                             "fine detail)")
        resolution, max_side = self._sizes(resolution, max_side)
        x, (h, w), original, photo = self._model_input(image, "image", resolution, max_side, full_size=True)
        if x.shape[0] != 1:
            raise InputError("paste_content takes one image, not a batch")
        painted = fit_mask(load_mask(mask, max_side=max_side, name="mask"), original, resize_mask=resize_mask,
                           name="mask")
        if not (painted > 0).any():
            warnings.warn("the mask has no painted pixel: nothing to paste; the image is returned unchanged",
                          stacklevel=2)
            return _output(photo, output_type, return_dict)
        codes = self.encoder(x)
        content, style = codes.content, codes.style
        src_x = x if source is None else self._source_input(source, original, (h, w), max_side)
        src = codes if source is None else self.encoder(src_x)
        src_content, src_style = src.content, src.style

        stride = self._multiple
        cells = offset_in_cells((dx, dy), h / original[0], stride)
        region = feather_mask(resample_mask(painted[None, None], (h, w)), feather)  # [1, 1, h, w]
        if source is None and cells == (0, 0):
            pasted = content  # nothing moves
        else:
            coverage = coverage_on_grid(region, tuple(content.shape[-2:]), stride)
            pasted, _, clipped = paste_codes(content, src_content, coverage.to(content), cells)
            if clipped:
                warnings.warn(f"the offset ({dx:g}, {dy:g}) moves part of the region past the image's border; "
                              "that part is cut off", stacklevel=2)
        shift = (cells[0] * stride, cells[1] * stride)  # px at the working size
        edited = shift_cells(region, shift)  # the paint at its new place

        images = self._generate(pasted, style, None, seed)[..., :h, :w]
        if detail > 0:
            src_reconstruction = self._generate(src_content, src_style, None, seed)[..., :h, :w]
            carried = photo_detail(src_x[..., :h, :w], src_x[..., :h, :w], src_reconstruction.clamp(-1, 1))
            images = images.float() + detail * shift_cells(carried, shift) * edited.to(images.device)
        images = resize_tensor(images.float(), original).clamp(-1, 1)
        if keep_unedited:
            images = keep_photo_outside(images, photo, edited.cpu())
        return _output(images, output_type, return_dict)

    def _source_input(self, source: ImageInput, original: Tuple[int, int], working: Tuple[int, int],
                      max_side: int) -> torch.Tensor:
        """`paste_content`'s source photo at the image's working size, padded -> ``[1, 3, h', w']`` on device."""
        img = load_image(source, "source image", max_side)
        check_size(img, max_side, "source image")
        if abs(img.width / img.height - original[1] / original[0]) > 0.01:
            warnings.warn(f"the source image is {img.width}x{img.height} but the image is {original[1]}x"
                          f"{original[0]}: the source is stretched to the image's shape", stacklevel=3)
        x = pil_to_tensor(img.resize((working[1], working[0]), Image.Resampling.BICUBIC))
        return pad_to_multiple(x, self._multiple).to(self.device, self.encoder.dtype)


def _check_point(point, width: int, height: int) -> Tuple[float, float]:
    try:
        px, py = (float(v) for v in point)
    except (TypeError, ValueError):
        raise InputError(f"point must be two numbers (x, y) in pixels; got {point!r}") from None
    if not (0 <= px < width and 0 <= py < height):  # NaN fails too
        raise InputError(f"the point ({point[0]}, {point[1]}) is outside the image: x must be in 0..{width - 1} "
                         f"and y in 0..{height - 1}")
    return px, py


def _check_offset(offset) -> Tuple[float, float]:
    try:
        dx, dy = (float(v) for v in offset)
    except (TypeError, ValueError):
        raise InputError(f"offset must be two numbers (dx, dy) in pixels; got {offset!r}") from None
    if not (math.isfinite(dx) and math.isfinite(dy)):
        raise InputError(f"offset must be finite numbers of pixels; got {offset!r}")
    return dx, dy


def load_pipeline(model: Union[str, os.PathLike], dtype: Optional[torch.dtype] = None) -> TCPPipeline:
    """A pipeline from a bundled name, a Hub repo id, a saved pipeline folder or a training checkpoint.

    Any failure is reported as one `InputError` naming the model and the reason.
    """
    path = Path(model).expanduser()
    try:
        if path.is_dir() and not (path / "model_index.json").exists():
            pipe = TCPPipeline.from_checkpoint(path)
            return pipe if dtype is None else pipe.to(dtype=dtype)
        return TCPPipeline.from_pretrained(model, **({} if dtype is None else {"dtype": dtype}))
    except Exception as err:  # diffusers and the Hub client raise many types; the user needs one line
        reason = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise InputError(f"could not load the model '{model}': it must be a bundled name "
                         f"({', '.join(BUNDLED_MODELS)}), a folder saved with save_pretrained, a training "
                         f"checkpoint folder, or a Hub repo id. Reason: {reason}") from None
