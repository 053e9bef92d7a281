"""Widening a trained encoder or generator without changing what it computes (Net2WiderNet-style), so that a
wider model (``build_models(..., width=...)``) can start from a narrower one's training instead of from scratch.

Every weight of these networks is stored at unit variance and scaled by ``1 / sqrt(fan_in)`` at run time
(equalized learning rate; ``layers.py``, ``modulation.py``), with dimension 0 the outputs and dimension 1 the
inputs. The narrow weights go into the leading slice, times ``sqrt(new fan_in / old fan_in)`` so that the run
time scale gives them their old values; every weight on a new *input* channel is zero, so no old output sees
the new channels; the new *output* channels keep the wide model's fresh initialisation, so they carry a signal
and their consumers' zero weights get gradients at once. StyleGAN2's demodulation sums over input channels, so
the zeros leave it unchanged too; the official SwAE's ("weight") normalises the styles over the input channels,
which new channels would change, so it is refused.
"""

import math

import torch
from torch import nn

from .presets import WIDTH_KEYS

# config entries a widened network may change: its widths, and the working size it was saved with (metadata)
_MAY_DIFFER = {key for keys in WIDTH_KEYS.values() for key in keys} | {"sample_size"}


def widened_state_dict(narrow: dict, wide: dict) -> dict:
    """``wide``'s state dict (a freshly initialised wider network's) with ``narrow``'s weights put in as above."""
    if set(narrow) != set(wide):
        raise ValueError(f"the two networks differ in more than width (first differing weight: "
                         f"{sorted(set(narrow) ^ set(wide))[0]})")
    out = {}
    for key, fresh in wide.items():
        old = narrow[key].to(device=fresh.device, dtype=fresh.dtype)
        if old.shape == fresh.shape:
            out[key] = old.clone()
            continue
        if old.dim() != fresh.dim() or any(a > b for a, b in zip(old.shape, fresh.shape)):
            raise ValueError(f"{key}: {tuple(old.shape)} does not fit in {tuple(fresh.shape)}")
        new = fresh.clone()
        if fresh.dim() >= 2:
            new[:, old.shape[1]:] = 0
            new[:old.shape[0], :old.shape[1]] = old * math.sqrt(fresh.shape[1] / old.shape[1])
        else:
            new[:old.shape[0]] = old
        out[key] = new
    return out


def _plain(value):
    """A config value as written or as read back from JSON (tuples become lists there)."""
    return tuple(value) if isinstance(value, list) else value


@torch.no_grad()
def load_widened(wide: nn.Module, narrow: nn.Module) -> None:
    """Load ``narrow``'s weights into ``wide`` (the same architecture, each width at least as large) so that
    ``wide`` computes what ``narrow`` does."""
    if type(wide) is not type(narrow):
        raise ValueError(f"cannot widen a {type(narrow).__name__} into a {type(wide).__name__}")
    others = {k for k in {**narrow.config, **wide.config} if not k.startswith("_") and k not in _MAY_DIFFER}
    differing = sorted(k for k in others if _plain(narrow.config.get(k)) != _plain(wide.config.get(k)))
    if differing:
        raise ValueError(f"the two {type(wide).__name__}s differ in more than their widths: {differing[0]} is "
                         f"{narrow.config.get(differing[0])!r}, not {wide.config.get(differing[0])!r}")
    depths = {k: (len(narrow.config[k]), len(wide.config[k])) for k in _MAY_DIFFER
              if isinstance(narrow.config.get(k), (list, tuple))}
    if any(a != b for a, b in depths.values()):
        key = next(k for k, (a, b) in depths.items() if a != b)
        raise ValueError(f"the two {type(wide).__name__}s differ in depth ({key}: {depths[key][0]} blocks, not "
                         f"{depths[key][1]}; another content_stride?), not only in width")
    if getattr(narrow.config, "demodulation", "style") == "weight":
        raise ValueError("a generator with the official SwAE's 'weight' demodulation cannot be widened exactly")
    state = {k: v.float() for k, v in narrow.state_dict().items()}
    wide.load_state_dict(widened_state_dict(state, {k: v.float() for k, v in wide.state_dict().items()}))
