"""What the Gradio app does, as plain functions: read the editor's painted regions, restyle them,
suggest a region from a click, load and cache models, and turn user mistakes into messages.

``app.py`` only lays out the page and wires these handlers to it. Handlers take what Gradio hands
over (numpy images, the ImageEditor's ``{"background", "layers", "composite"}`` dict, numbers) and
raise ``gr.Error`` with a message for the user; the functions they call raise `InputError`.
"""

import functools
import hashlib
import inspect
import io
import json
import logging
import math
import os
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import gradio as gr
import numpy as np
import torch
from huggingface_hub import snapshot_download
from huggingface_hub.utils import HFValidationError, validate_repo_id
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .errors import ImageTooLarge, InputError
from .image_io import check_size, load_image
from .masks import outline
from .models import build_models
from .pipeline import BUNDLED_MODELS, DEFAULT_DETAIL, DEFAULT_MODEL, DEFAULT_TEXTURE, TCPPipeline
from .pipeline import load_pipeline as load_any

logger = logging.getLogger(__name__)

WORKING_SIZE = 256  # photos are edited at this longest side, then scaled back, for models that record no training size
MAX_SIDE = 8000  # longest photo side accepted (after the upload size limit)
NO_NOISE = -1  # the seed box's default: no per-pixel noise (an empty number box sends 0, a valid seed)
MAX_FILE_SIZE = "20mb"  # per upload; passed to `demo.launch(max_file_size=...)`
CONCURRENCY_LIMIT = 2  # edits running at once; the rest wait in the queue
# Gradio's cache (uploads and results) is swept every CACHE_CLEANUP[0] s of files older than CACHE_CLEANUP[1] s
# (passed to `gr.Blocks(delete_cache=...)`), so a public Space does not fill its disk.
CACHE_CLEANUP = (3600, 3 * 3600)

FALLBACK_PRESET = "small"
MODEL_CACHE_SIZE = 3  # pipelines kept in memory, least recently used dropped first
# Set to 1 (or start the app with --allow-local-models) to let the Model box load folders on the server.
ALLOW_LOCAL_MODELS_ENV = "TCP_HUB_ALLOW_LOCAL_MODELS"
# The one answer to a model that is refused or fails to load while local folders are off: it says
# nothing about the server's files (no path, no difference between a missing and an existing folder).
MODEL_REFUSED = (f"could not load the model: enter a bundled model name ({DEFAULT_MODEL}) or the id of a tcp-hub "
                 "pipeline on the Hugging Face Hub (owner/name)")
NUM_REGIONS = 3
REGION_NAMES = [f"region {i + 1}" for i in range(NUM_REGIONS)]
REGION_COLORS = [(230, 57, 70), (42, 157, 143), (69, 123, 229)]  # brush, outline and suggestion colours
# The brush paints at this opacity so the photo shows through; a layer's alpha at or above it
# (255 * BRUSH_OPACITY) is a fully painted pixel, lower alpha a partly painted one.
BRUSH_OPACITY = 0.5
LUMA = (0.299, 0.587, 0.114)  # brightness of an RGB mask layer (ITU-R 601, as PIL's "L")
MODE_REGIONS, MODE_WHOLE = "painted regions", "whole image"
UNREADABLE_PHOTO = "the content photo could not be read as an image: upload a PNG, JPEG or WebP photo"
# Run in the page (`demo.launch(js=...)`). A file that is not an image, dropped or chosen on the editor, never
# reaches the server (the editor's own code fails to load it and shows nothing), so the page says why itself.
# And the editor names the layers it loads from a value (an example, an added suggestion) "Layer N" (Gradio
# 6.31 has no option for it): the page shows them as "region N", the names the rest of the page uses.
PAGE_JS = """() => {
  const message = %s;
  const isImage = (f) => f.type ? f.type.startsWith("image/") : /\\.(png|jpe?g|webp|gif|bmp|tiff?)$/i.test(f.name);
  const show = (text) => {
    const box = document.querySelector("#editor-message");
    if (box) { box.textContent = text; box.style.color = "#c0392b"; box.style.display = text ? "block" : "none"; }
  };
  const check = (target, files) => {
    if (target && target.closest && target.closest("#editor") && files && files.length)
      show([...files].every(isImage) ? "" : message);
  };
  document.addEventListener("change", (e) => check(e.target, e.target.files), true);
  document.addEventListener("drop", (e) => check(e.target, e.dataTransfer && e.dataTransfer.files), true);
  const rename = (node) => {
    const found = /^Layer ([0-9]+)$/.exec(node.data.trim());
    if (found && node.parentElement && node.parentElement.closest("#editor")) node.data = `region ${found[1]}`;
  };
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.type === "characterData") rename(change.target);
      for (const added of change.addedNodes || []) {
        if (added.nodeType === Node.TEXT_NODE) rename(added);
        else if (added.nodeType === Node.ELEMENT_NODE) {
          const walker = document.createTreeWalker(added, NodeFilter.SHOW_TEXT);
          while (walker.nextNode()) rename(walker.currentNode);
        }
      }
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}""" % json.dumps(UNREADABLE_PHOTO[0].upper() + UNREADABLE_PHOTO[1:] + ".")
MODES = [MODE_REGIONS, MODE_WHOLE]


def rgb_css(color: Sequence[int]) -> str:
    return f"rgb({color[0]}, {color[1]}, {color[2]})"


# ---- models --------------------------------------------------------------------------------------
def bundled_model_available() -> bool:
    return BUNDLED_MODELS[DEFAULT_MODEL].is_dir()


def model_notice() -> str:
    """Markdown telling the user which default model they get (empty when the trained one is bundled)."""
    if bundled_model_available():
        return ""
    return (f"**Note:** the bundled `{DEFAULT_MODEL}` weights are not installed, so the default model is a "
            f"randomly initialised `{FALLBACK_PRESET}` model: results show how the app works, not what a "
            "trained model does. Enter a trained model's Hub repo id under *Model*.")


def local_models_allowed() -> bool:
    """Whether the Model box may load folders on the server: only when whoever runs the app says so
    (``python app.py --allow-local-models`` sets `ALLOW_LOCAL_MODELS_ENV` to 1)."""
    return os.environ.get(ALLOW_LOCAL_MODELS_ENV, "").strip() == "1"


def is_hub_repo_id(name: str) -> bool:
    """``owner/name`` as the Hugging Face Hub spells repo ids (no ``~``, ``..``, leading ``/``)."""
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return name.count("/") == 1


def download_from_hub(repo_id: str) -> str:
    """The local copy of a Hub repo's pipeline files (config and safetensors only) -> its folder."""
    return snapshot_download(repo_id, allow_patterns=["model_index.json", "*/config.json", "*/*.safetensors"])


def load_pipeline(name: str) -> TCPPipeline:
    """Load a model by bundled short name or Hub repo id (or, if `local_models_allowed`, any folder).

    Without the allowance every failure gives the same `MODEL_REFUSED` message, so a visitor learns
    nothing about the server's files; a repo id is always fetched from the Hub, never read from a
    folder of the same name.
    """
    if name == DEFAULT_MODEL and not bundled_model_available():
        logger.warning("bundled model folder %s not found; using a randomly initialised '%s' model instead "
                       "(outputs are not meaningful until trained weights are added)",
                       BUNDLED_MODELS[DEFAULT_MODEL], FALLBACK_PRESET)
        encoder, generator, _, _ = build_models(FALLBACK_PRESET, WORKING_SIZE)
        return TCPPipeline(encoder.eval(), generator.eval())
    try:
        if local_models_allowed():
            return load_any(name)
        if name in BUNDLED_MODELS:
            return load_any(BUNDLED_MODELS[name])
        if not is_hub_repo_id(name):
            raise InputError(f"{name!r} is neither a bundled name nor a Hub repo id")
        return load_any(download_from_hub(name))
    except Exception as err:  # the Hub client and diffusers raise many types; the visitor gets one line
        # the reason is for whoever runs the app (the refusal is logged once more, as a warning, by the handler)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        logger.info("could not load model %r: %s", name, reason)
        if local_models_allowed() and isinstance(err, InputError):
            raise
        raise InputError(MODEL_REFUSED) from None


class ModelCache:
    """The most recently used pipelines by name (at most ``size``), each loaded once and shared by all
    requests (inference only reads them); the least recently used one goes when another is loaded."""

    def __init__(self, size: int = MODEL_CACHE_SIZE):
        self.size = size
        self._pipes: "OrderedDict[str, TCPPipeline]" = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(name: Optional[str]) -> str:
        return (name or "").strip() or DEFAULT_MODEL

    def _store(self, key: str, pipe: TCPPipeline) -> None:
        self._pipes[key] = pipe
        self._pipes.move_to_end(key)
        while len(self._pipes) > self.size:
            self._pipes.popitem(last=False)

    def put(self, name: str, pipe: TCPPipeline) -> None:
        with self._lock:
            self._store(self.key(name), pipe)

    def get(self, name: Optional[str]) -> TCPPipeline:
        key = self.key(name)
        with self._lock:  # one load per name even when several requests ask for it at once
            if key in self._pipes:
                self._pipes.move_to_end(key)
            else:
                self._store(key, load_pipeline(key))
            return self._pipes[key]

    def names(self) -> List[str]:
        """The cached names, least recently used first."""
        with self._lock:
            return list(self._pipes)

    def clear(self) -> None:
        with self._lock:
            self._pipes.clear()


MODEL_CACHE = ModelCache()


# ---- editor values -------------------------------------------------------------------------------
def editor_background(editor: Optional[dict]) -> np.ndarray:
    """The photo under the painting: ``[H, W, 3|4]`` uint8. `InputError` if none was uploaded."""
    background = None if editor is None else editor.get("background")
    if background is None or np.asarray(background).size == 0:
        raise InputError("upload a content photo first (drop it on the editor)")
    background = np.asarray(background)
    if background.ndim == 3 and background.shape[2] == 4 and background[..., 3].max() == 0:
        raise InputError("the content photo is fully transparent: upload a photo to edit")
    check_size((background.shape[1], background.shape[0]), MAX_SIDE, "the content photo")
    return background


def editor_masks(editor: dict, size: Tuple[int, int]) -> List[np.ndarray]:
    """The painted regions: one soft mask ``[H, W]`` float32 in [0, 1] per region.

    A layer with alpha (``[H, W, 4]``, as the editor paints) gives its alpha relative to the brush's:
    ``alpha / (255 * BRUSH_OPACITY)``, clipped to 1, so a brush stroke is a full edit and fainter paint
    a partial one. A layer without alpha (``[H, W]`` grey levels or ``[H, W, 3]`` RGB, as API clients
    send masks) gives its brightness: white is a full edit, black nothing.

    Missing layers are empty; layers of another size are resized to ``size`` (H, W).
    """
    layers = list(editor.get("layers") or [])[:NUM_REGIONS]
    masks = []
    for layer in layers + [None] * (NUM_REGIONS - len(layers)):
        if layer is None:
            masks.append(np.zeros(size, np.float32))
            continue
        layer = np.asarray(layer)
        full = 255.0 if layer.dtype == np.uint8 else 1.0
        if layer.ndim == 3 and layer.shape[2] == 4:
            mask = layer[..., 3].astype(np.float32) / (full * BRUSH_OPACITY)
        elif layer.ndim == 3 and layer.shape[2] == 3:
            mask = layer.astype(np.float32) @ np.asarray(LUMA, np.float32) / full
        else:
            mask = layer.reshape(layer.shape[:2]).astype(np.float32) / full
        if mask.shape != tuple(size):
            mask = np.asarray(Image.fromarray(mask).resize((size[1], size[0]), Image.Resampling.BILINEAR))
        masks.append(np.clip(mask, 0, 1))
    return masks


def paint_of(image: np.ndarray) -> np.ndarray:
    """What a mask image paints, ``[H, W]`` float32 in [0, 1]: its alpha where it has transparency (a
    painted layer), its brightness otherwise (white: painted)."""
    image = np.asarray(image)
    full = 255.0 if image.dtype == np.uint8 else 1.0
    if image.ndim == 3 and image.shape[2] == 4 and image[..., 3].min() < full:
        return image[..., 3].astype(np.float32) / full
    if image.ndim == 3:
        return image[..., :3].astype(np.float32) @ np.asarray(LUMA, np.float32) / full
    return image.astype(np.float32) / full


def composite(background: np.ndarray, layers: Sequence[np.ndarray]) -> np.ndarray:
    """What the editor shows: the RGBA layers drawn over the background -> ``[H, W, 4]`` uint8."""
    out = Image.fromarray(np.ascontiguousarray(background)).convert("RGBA")
    for layer in layers:
        out = Image.alpha_composite(out, Image.fromarray(np.ascontiguousarray(layer)).convert("RGBA"))
    return np.asarray(out)


# ---- editing -------------------------------------------------------------------------------------
def draw_outlines(image: np.ndarray, masks: Sequence[Tuple[int, np.ndarray]]) -> np.ndarray:
    """Draw each ``(region index, mask [H, W])`` outline in its region colour on ``image [H, W, 3]`` uint8."""
    out = image.copy()
    width = max(1, round(max(image.shape[:2]) / 200))
    for index, mask in masks:
        edge = outline(torch.from_numpy(mask), width).numpy()
        out[edge] = REGION_COLORS[index]
    return out


def stylize(pipe: TCPPipeline, content: np.ndarray, masks: Sequence[np.ndarray],
            references: Sequence[Optional[np.ndarray]], strengths: Sequence[float], whole_image: bool = False,
            feather: float = 0.0, seed: Optional[int] = None, show_outlines: bool = False,
            detail: float = DEFAULT_DETAIL, keep_unedited: bool = True,
            style_masks: Sequence[Optional[np.ndarray]] = (None,) * NUM_REGIONS, texture: float = DEFAULT_TEXTURE,
            warn=gr.Warning) -> np.ndarray:
    """Restyle ``content [H, W, 3|4]`` uint8 -> ``[H, W, 3]`` uint8 at the content's size.

    Args:
        masks, references, strengths: per region (``NUM_REGIONS`` each); a region is edited when it is
            painted and has a reference. ``whole_image`` instead swaps the look everywhere with reference 1.
        feather: softening of region edges, px at the working size.
        seed: ``NO_NOISE`` (-1, the page's default) or ``None``: no per-pixel noise; 0 or more adds the
            generator's noise drawn from that seed (equal inputs and seed, equal output).
        detail: 0..1, how much of the photo's own fine detail goes back onto the model's rendering.
        texture: 0..1, how much of the result is the model's own rendering (with the reference's textures);
            0: the photo itself, recoloured and relit by the edit (`TCPPipeline.__call__`).
        keep_unedited: keep the photo itself outside the painted regions (a few px past them the edit
            fades into it); otherwise the edit reaches the whole photo (with ``texture=1``, the model
            re-renders all of it).
        style_masks: per region, ``None`` or a mask ``[h, w]`` in [0, 1] on its reference: the style is taken
            from the painted part of the reference only (nothing painted: the whole reference).
        warn: called with a message for problems that do not stop the edit (an empty region).
    """
    if seed is not None and (float(seed) != int(seed) or not NO_NOISE <= int(seed) < 2 ** 32):
        raise InputError(f"the seed must be a whole number from 0 to {2 ** 32 - 1}, or {NO_NOISE} for no noise; "
                         f"got {seed}")
    if seed is not None and int(seed) == NO_NOISE:
        seed = None
    for strength, name in zip(strengths, REGION_NAMES):
        if strength is None or not 0.0 <= float(strength) <= 1.0:
            raise InputError(f"the strength of {name} is {strength}; it must be between 0 (unchanged) and 1")
    content = load_image(content, "content photo")
    references = [None if r is None else load_image(r, f"the style reference for {name}")
                  for r, name in zip(references, REGION_NAMES)]
    for reference, name in zip(references, REGION_NAMES):
        if reference is not None:
            check_size(reference, MAX_SIDE, f"the style reference for {name}")
    common = dict(feather=float(feather or 0), resolution=working_size(pipe), max_side=MAX_SIDE,
                  seed=None if seed is None else int(seed),
                  detail=float(detail), texture=float(texture), output_type="np")
    if whole_image:
        if references[0] is None:
            raise InputError("upload a style reference for the whole-image swap (reference 1)")
        result = pipe(content, style=references[0], strength=float(strengths[0]), style_mask=style_masks[0],
                      **common).images[0]
        return to_uint8(result)

    used = []
    for i, (mask, reference) in enumerate(zip(masks, references)):
        painted = bool((mask > 0).any())
        if painted and reference is None:
            raise InputError(f"{REGION_NAMES[i]} is painted but has no style reference: upload a reference photo "
                             f"for {REGION_NAMES[i]}, or erase its painting")
        if reference is not None and not painted:
            warn(f"{REGION_NAMES[i]} has a style reference but nothing is painted in it; it is left unedited")
        if painted:
            used.append(i)
    if not used and all(r is None for r in references):
        raise InputError("nothing to restyle: paint a region on the photo and give it a style reference, or "
                         f"choose '{MODE_WHOLE}'")
    if not used:  # references only for empty regions: the photo, or the photo as the model renders it
        if keep_unedited:
            return np.asarray(content)
        return to_uint8(pipe(content, style=content, strength=0.0, **common).images[0])
    result = pipe(content, style=[references[i] for i in used], mask=[masks[i] for i in used],
                  strength=[float(strengths[i]) for i in used], keep_unedited=bool(keep_unedited),
                  style_mask=[style_masks[i] for i in used], **common).images[0]
    result = to_uint8(result)
    if show_outlines:
        result = draw_outlines(result, [(i, masks[i]) for i in used])
    return result


def working_size(pipe: TCPPipeline) -> int:
    """The longest side the app edits at: the model's training size (``encoder.config.sample_size``, as
    the pipeline's default) or, for a model that records none, `WORKING_SIZE` (never the photo's own size,
    which can be 8000 px here)."""
    return pipe.encoder.config.get("sample_size") or WORKING_SIZE


def to_uint8(image: np.ndarray) -> np.ndarray:
    """``[H, W, 3]`` float in [0, 1] -> uint8 (rounded)."""
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


# ---- region suggestion ---------------------------------------------------------------------------
def suggestion_preview(image: np.ndarray, mask: np.ndarray, region: int, point: Tuple[float, float]) -> np.ndarray:
    """The photo with the suggestion tinted in the region's colour and the click marked -> ``[H, W, 3]`` uint8."""
    rgb = np.asarray(load_image(image, "content photo")).astype(np.float32)
    inside = (mask > 127)[..., None]
    tint = np.asarray(REGION_COLORS[region], np.float32)
    out = np.where(inside, 0.5 * rgb + 0.5 * tint, rgb)
    x, y = int(point[0]), int(point[1])
    r = max(2, round(max(rgb.shape[:2]) / 100))
    out[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1] = (255, 255, 255)
    return out.astype(np.uint8)


def add_to_layer(editor: Optional[dict], mask: Optional[np.ndarray], region: int) -> dict:
    """The editor value with ``mask`` painted into ``region``'s layer (added to what is painted there).

    The suggestion is painted as the brush would: in the region's colour at ``BRUSH_OPACITY``.
    """
    background = editor_background(editor)
    if mask is None:
        raise InputError("click on the photo first to get a suggested region")
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 3] if mask.shape[2] == 4 else mask[..., 0]
    height, width = background.shape[:2]
    if mask.shape != (height, width):
        raise InputError(f"the suggestion is {mask.shape[1]}x{mask.shape[0]} but the photo is {width}x{height}: "
                         "click on the photo again to suggest a region for this photo")
    layers = [np.asarray(layer).copy() for layer in (editor.get("layers") or [])][:NUM_REGIONS]
    layers = [layer if layer.shape[:2] == (height, width) and layer.ndim == 3 and layer.shape[2] == 4
              else np.zeros((height, width, 4), np.uint8) for layer in layers]
    layers += [np.zeros((height, width, 4), np.uint8) for _ in range(NUM_REGIONS - len(layers))]
    layer = layers[region]
    inside = mask > 0
    layer[inside, :3] = REGION_COLORS[region]
    painted = np.round(mask.astype(np.float32) * BRUSH_OPACITY).astype(np.uint8)
    layer[..., 3] = np.maximum(layer[..., 3], painted)
    return {"background": background, "layers": layers, "composite": composite(background, layers)}


# ---- Gradio handlers -----------------------------------------------------------------------------
def refuse(message: str, where: str) -> gr.Error:
    """A user mistake: one line in the server's log, and the message for the page (no traceback)."""
    logger.warning("%s refused: %s", where, message)
    return gr.Error(message, print_exception=False)


def for_the_page(err: InputError) -> str:
    """The message of ``err`` worded for a visitor of the page (what to do there, not in Python)."""
    if isinstance(err, ImageTooLarge):
        return (f"{err.what} is {err.width}x{err.height}; photos may be at most {err.limit} px on their longest "
                "side. Resize it and upload it again")
    return str(err)


def user_errors(fn):
    """Show `InputError` to the user as a ``gr.Error`` message, logged as one line (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as err:
            raise refuse(for_the_page(err), fn.__name__) from None

    return wrapper


def region_index(region) -> int:
    if isinstance(region, str) and region in REGION_NAMES:
        return REGION_NAMES.index(region)
    if isinstance(region, (int, float)) and int(region) in range(NUM_REGIONS):
        return int(region)
    raise InputError(f"choose a region to add the suggestion to: one of {', '.join(REGION_NAMES)}")


@user_errors
def stylize_handler(editor, reference_1=None, reference_2=None, reference_3=None, strength_1=1.0, strength_2=1.0,
                    strength_3=1.0, mode=MODE_REGIONS, feather=4.0, seed=NO_NOISE, show_outlines=False, model="",
                    detail=DEFAULT_DETAIL, keep_unedited=True, style_mask_1=None, style_mask_2=None,
                    style_mask_3=None, texture=DEFAULT_TEXTURE):
    """The "Run" button and the ``/stylize`` endpoint -> result ``[H, W, 3]`` uint8.

    The defaults are the page's (app.py sets its controls from them, `STYLIZE_DEFAULTS`), so an API call
    may leave out everything but ``editor`` and a reference. ``style_mask_1..3`` (white, or painted alpha,
    where the style of reference N is taken from) are optional.
    """
    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}; got {mode!r}")
    content = editor_background(editor)
    masks = editor_masks(editor, content.shape[:2])
    pipe = MODEL_CACHE.get(model)
    return stylize(pipe, content, masks, [reference_1, reference_2, reference_3],
                   [strength_1, strength_2, strength_3], whole_image=mode == MODE_WHOLE, feather=feather,
                   seed=seed, show_outlines=bool(show_outlines), detail=DEFAULT_DETAIL if detail is None else detail,
                   keep_unedited=True if keep_unedited is None else bool(keep_unedited),
                   style_masks=[None if m is None else paint_of(m) for m in (style_mask_1, style_mask_2, style_mask_3)],
                   texture=DEFAULT_TEXTURE if texture is None else texture)


# The /stylize endpoint's parameters in order (public API: new ones go at the end, with defaults). app.py wires
# the page's components to the handler by these names.
STYLIZE_INPUTS = tuple(inspect.signature(stylize_handler).parameters)
STYLIZE_DEFAULTS = {name: p.default for name, p in inspect.signature(stylize_handler).parameters.items()
                    if p.default is not inspect.Parameter.empty}


@user_errors
def suggest_handler(editor, x, y, threshold, connected, region, model):
    """Click (or the ``/suggest_region`` endpoint) -> (preview ``[H, W, 3]``, mask ``[H, W]`` uint8)."""
    content = editor_background(editor)
    pipe = MODEL_CACHE.get(model)
    mask = pipe.suggest_region(load_image(content, "content photo"), (x, y), threshold, bool(connected),
                               resolution=working_size(pipe), max_side=MAX_SIDE, output_type="np")
    return suggestion_preview(content, mask, region_index(region), (x, y)), mask


@user_errors
def accept_handler(editor, mask, region):
    """"Add to region" (the ``/accept_region`` endpoint) -> the editor value with the region painted."""
    return add_to_layer(editor, mask, region_index(region))


def painted_centre(mask: np.ndarray) -> Tuple[float, float]:
    """The centre ``(x, y)`` of a soft mask ``[H, W]`` (its paint-weighted mean pixel)."""
    weight = mask.astype(np.float64)
    ys, xs = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
    return float((xs * weight).sum() / weight.sum()), float((ys * weight).sum() / weight.sum())


@user_errors
def move_handler(editor, x, y, feather, model, detail=DEFAULT_DETAIL):
    """"Copy here" (the ``/move_content`` endpoint): copy what region 1's layer paints so that its centre lands
    on the clicked point ``(x, y)`` -> result ``[H, W, 3]`` uint8. The copy is rendered in the photo's own look
    (`TCPPipeline.paste_content`, offsets on the model's 16-px grid at the working size)."""
    content = editor_background(editor)
    source = editor_masks(editor, content.shape[:2])[0]
    if not (source > 0).any():
        raise InputError(f"paint what to copy on the layer of {REGION_NAMES[0]}, then click where it should go")
    if x is None or y is None:
        raise InputError("click on the photo where the painted content should go")
    cx, cy = painted_centre(source)
    pipe = MODEL_CACHE.get(model)
    result = pipe.paste_content(load_image(content, "content photo"), source, offset=(float(x) - cx, float(y) - cy),
                                feather=float(feather or 0), resolution=working_size(pipe), max_side=MAX_SIDE,
                                detail=DEFAULT_DETAIL if detail is None else detail, output_type="np").images[0]
    return to_uint8(result)


def before_after(editor, result):
    """The photo and the result for the before/after slider (nothing until both exist)."""
    background = None if editor is None else editor.get("background")
    if background is None or result is None:
        return None
    return np.asarray(load_image(background)), result


def click_point(evt: gr.SelectData):
    """A click on the suggestion image -> its pixel (x, y)."""
    return evt.index[0], evt.index[1]


@user_errors
def photo_for_clicking(editor):
    """The editor's photo, shown where the user clicks for suggestions (None before an upload)."""
    background = None if editor is None else editor.get("background")
    return None if background is None else np.asarray(load_image(background))


# ---- components that report unreadable uploads -------------------------------------------------
_UNREADABLE = (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError)


class CheckedImage(gr.Image):
    """``gr.Image`` whose unreadable uploads (not an image, corrupt, too many pixels) become a message."""

    is_template = True  # rendered by the frontend as a plain Image

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except _UNREADABLE:
            raise refuse(f"'{self.label}' could not be read as an image: upload a PNG, JPEG or WebP photo",
                         "upload") from None


class CheckedImageEditor(gr.ImageEditor):
    """``gr.ImageEditor`` (``type="numpy"``) that reads uploads as the app needs them.

    - Unreadable uploads become a message.
    - The photo is turned upright by its EXIF orientation (phones store it sideways with a tag), as the
      browser shows it in the editor, so the paint lines up with the photo that is edited.
    - Mask layers without alpha (grey-level or RGB files, as API clients send them) keep their
      brightness as the paint: Gradio would make them RGBA with an opaque alpha, fully painted even
      when black. They are passed on as ``[H, W]`` or ``[H, W, 3]`` arrays, which `editor_masks` reads.
    """

    is_template = True  # rendered by the frontend as a plain ImageEditor

    def preprocess(self, payload):
        if payload is not None:
            check_editor_files(payload)
        try:
            return super().preprocess(payload)
        except _UNREADABLE:
            raise refuse(UNREADABLE_PHOTO, "upload") from None

    def convert_and_format_image(self, file, flatten_on_white=False):
        if file is None:
            return None
        image = open_upload(file)
        if flatten_on_white:  # the photo (or the composite, which has no EXIF)
            if exif_orientation(file) != 1:
                return np.asarray(ImageOps.exif_transpose(image).convert(self.image_mode))
        elif "A" not in image.getbands() and "transparency" not in image.info:  # a layer without alpha
            return np.asarray(image if image.mode in ("L", "RGB") else image.convert("RGB"))
        return super().convert_and_format_image(file, flatten_on_white)


def check_editor_files(payload) -> None:
    """Name the editor's file that cannot be used (the photo, a region's painting or the composite) and say
    what to do, reading only each file's header: unreadable files and files over `MAX_SIDE` px (or over
    Pillow's pixel limit) are refused before anything is decoded."""
    files = [("the content photo", payload.background, "upload a PNG, JPEG or WebP photo")]
    for i, layer in enumerate(payload.layers or []):
        name = REGION_NAMES[i] if i < NUM_REGIONS else f"layer {i + 1}"
        files.append((f"the painting of {name}", layer,
                      "erase it and paint again (API clients: send the mask as a PNG of the photo's size)"))
    files.append(("the editor's composite image", payload.composite, "upload the photo again"))
    for what, file, advice in files:
        if file is None:
            continue
        try:
            with open_upload(file) as image:
                width, height = image.size
        except Image.DecompressionBombError:
            raise refuse(f"{what} is too large to read (over {Image.MAX_IMAGE_PIXELS:,} pixels): {advice}",
                         "upload") from None
        except _UNREADABLE:
            raise refuse(f"{what} could not be read as an image: {advice}", "upload") from None
        if max(width, height) > MAX_SIDE or width * height > (Image.MAX_IMAGE_PIXELS or math.inf):
            raise refuse(f"{what} is {width}x{height}; images may be at most {MAX_SIDE} px on their longest side "
                         f"and {Image.MAX_IMAGE_PIXELS:,} pixels: {advice}", "upload")


def open_upload(file) -> Image.Image:
    """An uploaded file (``gr.FileData`` or the editor's cached bytes), opened lazily."""
    return Image.open(file.path if isinstance(file, gr.FileData) else io.BytesIO(file))


def exif_orientation(file) -> int:
    """The EXIF orientation of an upload: 1 is upright (also when there is no EXIF, or it is unreadable)."""
    try:
        return open_upload(file).getexif().get(ExifTags.Base.Orientation, 1)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):  # a broken EXIF block: take it as upright
        return 1


class ResultImage(gr.Image):
    """``gr.Image`` output whose numpy results are written to Gradio's cache atomically.

    Gradio 6.31 saves an output array by rewriting ``<cache>/<hash of its bytes>/image.png`` in
    place, so two requests that produce the same result at the same time (two users clicking the
    same example) can be served a half-written file. Writing under a temporary name and renaming
    it into place avoids that.
    """

    is_template = True  # rendered by the frontend as a plain Image

    def postprocess(self, value):
        if isinstance(value, np.ndarray):
            value = save_png_atomically(value, self.GRADIO_CACHE)
            self.temp_files.add(value)  # so the cache cleanup (`CACHE_CLEANUP`) removes it when old
        return super().postprocess(value)


def save_png_atomically(image: np.ndarray, folder: str) -> str:
    """Write ``image`` as ``<folder>/<sha256 of the PNG>/result.png`` (never half-written) -> its path."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    data = buffer.getvalue()
    path = Path(folder) / hashlib.sha256(data).hexdigest() / "result.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{uuid.uuid4().hex}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)
    return str(path)
