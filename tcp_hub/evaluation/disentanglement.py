"""Disentanglement scores against exact ground truth on the procedural scenes.

In `tcp_hub.data.synthetic` every image is ``render(content, style)`` with known factors, so a swap
``G(c_A, s_B)`` has an exact answer ``render(content_A, style_B)`` and a region edit has one too
(``render_region_edit``). The scores:

- **swap error**: PSNR and L1 of the swap against its ground truth.
- **content leakage** (0 = none of B's layout shows, 1 = only B's layout): how much B's part map
  explains the swap's colours beyond what A's part map already explains. With ``SSE_P`` the squared
  Lab deviation of the swap's pixels from their part means under partition P, and ``AB`` the
  intersection of both partitions::

      leakage = (SSE_A - SSE_AB) / ((SSE_A - SSE_AB) + (SSE_B - SSE_AB))

  It uses only the swap's own colours, so it does not depend on which style the swap wears: A
  itself and the ground-truth swap score ~0 (textures inside parts leave a remainder of about 0.01
  at 32-64 px), B ~1 (about 0.99).
  NaN when A and B have the same layout.
- **style leakage** (0 = none of A's colours survive, 1 = all do): for each part type of A that B
  also shows, the swap's mean Lab colour over that part is projected on the segment from the
  ground truth's mean colour (0) to A's (1), clipped to [0, 1]; parts are weighted by area, and
  parts where A's and the ground truth's colours differ by under 2 ΔE are skipped. NaN if none is left.
- **region edits**: B's style inside a mask M: error against the exact edit inside M and in a
  seam band along M's edge, and change against the unedited reconstruction ``G(c_A, s_A)``
  outside M beyond the band (`tcp_hub.evaluation.metrics.region_differences`); for the
  in-generator mix ``G(c_A, [s_A, s_B], [1 - M, M])`` and for the pixel-compositing baseline
  ``M * G(c_A, s_B) + (1 - M) * G(c_A, s_A)``.
- **code consistency**: cosine distance (1 - cos) between ``E(G(c_A, s_B))`` and ``(c_A, s_B)``;
  the content code's distance is averaged over its positions.

Parts of the ground truth that B does not show (a part type absent from B's layout) cannot be
inferred by any model; they count in the swap error all the same, equally for every model.
"""

import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..data.synthetic import NUM_PARTS, SyntheticScenes, part_map, render, render_region_edit
from ..masks import two_regions
from ..training_masks import random_masks
from .metrics import l1, psnr, region_differences, rgb_to_lab

_MIN_COLOUR_GAP = 2.0  # ΔE below which A's and the target's colour of a part are indistinguishable


def swap_error(pred: torch.Tensor, gt: torch.Tensor) -> Dict[str, torch.Tensor]:
    """``{"psnr": [B] dB, "l1": [B]}`` of swaps ``[B, 3, H, W]`` against their ground truth (both in [-1, 1])."""
    return {"psnr": psnr(pred, gt), "l1": l1(pred, gt)}


def _label_sums(values: torch.Tensor, labels: torch.Tensor, num_labels: int):
    """Per-label sums ``[B, C, K]`` and pixel counts ``[B, 1, K]`` of ``values [B, C, N]`` with labels ``[B, N]``."""
    sums = values.new_zeros(values.shape[0], values.shape[1], num_labels)
    sums.scatter_add_(2, labels[:, None].expand_as(values), values)
    counts = values.new_zeros(values.shape[0], 1, num_labels)
    counts.scatter_add_(2, labels[:, None], torch.ones_like(values[:, :1]))
    return sums, counts


def _partition_sse(values: torch.Tensor, labels: torch.Tensor, num_labels: int) -> torch.Tensor:
    """Sum of squared deviations of ``values [B, C, N]`` from their per-label means -> ``[B]``."""
    sums, counts = _label_sums(values, labels, num_labels)
    return values.pow(2).sum((1, 2)) - (sums.pow(2) / counts.clamp_min(1)).sum((1, 2))


def content_leakage(swap: torch.Tensor, parts_a: torch.Tensor, parts_b: torch.Tensor) -> torch.Tensor:
    """Share of the swap's colour structure explained by B's layout rather than A's, ``[B]`` (see module doc).

    Args:
        swap: ``[B, 3, H, W]`` in [-1, 1].
        parts_a, parts_b: part maps (int64 ``[B, H, W]``, labels < `NUM_PARTS`) of the content image A
            and of the style image B.
    """
    if parts_a.shape != parts_b.shape or parts_a.shape != (swap.shape[0], *swap.shape[-2:]):
        raise ValueError(f"part maps {tuple(parts_a.shape)}, {tuple(parts_b.shape)} must be [B, H, W] matching "
                         f"the swaps {tuple(swap.shape)}")
    lab = rgb_to_lab(swap).flatten(2)
    a, b = parts_a.flatten(1).to(swap.device), parts_b.flatten(1).to(swap.device)
    sse_a = _partition_sse(lab, a, NUM_PARTS)
    sse_b = _partition_sse(lab, b, NUM_PARTS)
    sse_ab = _partition_sse(lab, a * NUM_PARTS + b, NUM_PARTS * NUM_PARTS)
    b_beyond_a, a_beyond_b = (sse_a - sse_ab).clamp_min(0), (sse_b - sse_ab).clamp_min(0)
    total = b_beyond_a + a_beyond_b
    return torch.where(total > 0, b_beyond_a / total.clamp_min(1e-12), torch.full_like(total, float("nan"))).float()


def style_leakage(swap: torch.Tensor, image_a: torch.Tensor, gt: torch.Tensor, parts_a: torch.Tensor,
                  parts_b: torch.Tensor) -> torch.Tensor:
    """How much of A's colours survive in the swap, ``[B]`` in [0, 1] (see module doc).

    Args:
        swap: ``[B, 3, H, W]`` predicted ``G(c_A, s_B)``.
        image_a: ``[B, 3, H, W]`` the content image A (A's colours).
        gt: ``[B, 3, H, W]`` the exact swap (B's colours on A's layout).
        parts_a, parts_b: int64 ``[B, H, W]`` part maps of A and B.
    """
    labels_a = parts_a.flatten(1).to(swap.device)
    means = []
    for x in (swap, image_a, gt):
        sums, counts = _label_sums(rgb_to_lab(x).flatten(2), labels_a, NUM_PARTS)
        means.append((sums / counts.clamp_min(1)).mT)  # mean Lab colour of each of A's parts: [B, P, 3]
    m_swap, m_a, m_gt = means
    direction = m_a - m_gt
    gap = direction.pow(2).sum(-1)
    t = (((m_swap - m_gt) * direction).sum(-1) / gap.clamp_min(1e-12)).clamp(0, 1)  # [B, P]
    area_a = counts[:, 0]
    shown_by_b = F.one_hot(parts_b.flatten(1).to(swap.device), NUM_PARTS).any(1)  # [B, P]
    weight = area_a * shown_by_b * (gap > _MIN_COLOUR_GAP ** 2)
    total = weight.sum(1)
    leakage = (t * weight).sum(1) / total.clamp_min(1)
    return torch.where(total > 0, leakage, torch.full_like(total, float("nan"))).float()


def region_edit_errors(edited: torch.Tensor, gt_edit: torch.Tensor, unedited: torch.Tensor, mask: torch.Tensor,
                       band_width: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Scores of region edits (all ``[B, 3, H, W]`` in [-1, 1]; ``mask [B, 1, H, W]``), each ``[B]``.

    Returns:
        ``inside_error``: mean |edited - gt_edit| inside the mask (shrunk by the band);
        ``band_error``: the same in the band along the mask's edge (seams);
        ``outside_change``: mean |edited - unedited| outside the mask beyond the band;
        ``psnr``: PSNR of the whole edit against ``gt_edit``.
    """
    against_gt = region_differences(edited, gt_edit, mask, band_width)
    against_unedited = region_differences(edited, unedited, mask, band_width)
    return {"inside_error": against_gt["inside"], "band_error": against_gt["band"],
            "outside_change": against_unedited["outside"], "psnr": psnr(edited, gt_edit)}


def composite(edited_everywhere: torch.Tensor, unedited: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Pixel-compositing baseline of a region edit: ``mask * edited_everywhere + (1 - mask) * unedited``."""
    return mask * edited_everywhere + (1 - mask) * unedited


def _cosine_distance(x: torch.Tensor, y: torch.Tensor, dim: int) -> torch.Tensor:
    return 1 - F.cosine_similarity(x.float(), y.float(), dim=dim)


@torch.no_grad()
def code_consistency(encoder, generator, content: torch.Tensor, style: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Cosine distances between ``E(G(content, style))`` and ``(content, style)``, each ``[B]``.

    Args:
        content: ``[B, C, h, w]`` content codes; style: ``[B, D]`` the (swapped) styles rendered with.

    Returns:
        ``{"content": [B] mean over positions, "style": [B]}``; 0 = the codes come back unchanged.
    """
    regenerated = encoder(_generate(generator, content, style))
    return {"content": _cosine_distance(regenerated.content, content, dim=1).flatten(1).mean(1),
            "style": _cosine_distance(regenerated.style, style, dim=1)}


def _generate(generator, content, style, masks=None):
    """G without per-pixel noise: scores are deterministic and do not depend on how pairs are batched."""
    return generator(content, style, masks, noise_mode="none")


def evaluation_masks(count: int, resolution: int, seed: int = 0) -> torch.Tensor:
    """Seeded region-edit masks: the training mask distribution (`tcp_hub.training_masks`, strokes,
    ellipses and rectangles over 10-60 % of the image) with hard edges, so that "outside the mask
    beyond the band" holds no blurred tail of the mask.

    Returns:
        float ``[count, 1, R, R]`` of 0s and 1s.
    """
    generator = torch.Generator().manual_seed(int(seed))
    return random_masks(count, resolution, resolution, generator=generator, soft_prob=0.0)


def _mean(values: torch.Tensor) -> float:
    finite = values[~torch.isnan(values)]
    return float(finite.mean()) if finite.numel() else math.nan


@torch.no_grad()
def evaluate_model(encoder, generator, dataset: Optional[SyntheticScenes] = None, n_pairs: int = 256,
                   resolution: int = 64, device="cpu", seed: int = 0, batch_size: int = 16,
                   progress: bool = False) -> Dict[str, float]:
    """Score a model's swaps, region edits and codes on held-out synthetic pairs (means over pairs).

    Pair i takes its content from held-out scene 2i and its style from scene 2i + 1; its mask is
    ``evaluation_masks(n_pairs, resolution, seed)[i]``. Scenes are rendered at ``resolution``. The
    generator's per-pixel noise is off, so the scores are deterministic and independent of batching.

    Args:
        encoder, generator: the models (moved to ``device``, used in eval mode).
        dataset: held-out `SyntheticScenes` (``train=False``); default ``SyntheticScenes(resolution,
            2 * n_pairs, seed, train=False)``, disjoint from every training set by construction.
        n_pairs: number of (A, B) pairs.
        resolution: image side (a multiple of 16).
        seed: selects the held-out scenes (when ``dataset`` is None) and the masks.

    Returns:
        ``{"n_pairs", "resolution", "reconstruction_psnr", "reconstruction_l1", "swap_psnr", "swap_l1",
        "content_leakage", "style_leakage", "content_code_distance", "style_code_distance",
        "edit_{inside_error,band_error,outside_change,psnr}" (mixing inside the generator),
        "composite_{inside_error,band_error,outside_change,psnr}" (pixel compositing)}``.
    """
    if resolution % 16:
        raise ValueError(f"resolution must be a multiple of 16 (the content code's stride), got {resolution}")
    if dataset is None:
        dataset = SyntheticScenes(resolution=resolution, length=2 * n_pairs, seed=seed, train=False)
    if dataset.train:
        raise ValueError("evaluate_model needs held-out scenes: pass SyntheticScenes(..., train=False)")
    if len(dataset) < 2 * n_pairs:
        raise ValueError(f"{n_pairs} pairs need {2 * n_pairs} scenes, the dataset has {len(dataset)}")
    encoder, generator = encoder.to(device).eval(), generator.to(device).eval()
    masks = evaluation_masks(n_pairs, resolution, seed)
    scores: Dict[str, list] = {}

    def add(prefix, values):
        for name, v in values.items():
            scores.setdefault(prefix + name, []).append(v.float().cpu())

    for start in tqdm(range(0, n_pairs, batch_size), desc="Scoring pairs", disable=not progress):
        idx = range(start, min(start + batch_size, n_pairs))
        factors_a = [dataset.factors(2 * i) for i in idx]
        factors_b = [dataset.factors(2 * i + 1) for i in idx]
        mask = masks[start:start + len(idx)]
        a = torch.stack([render(c, s, resolution) for c, s in factors_a])
        b = torch.stack([render(c, s, resolution) for c, s in factors_b])
        gt = torch.stack([render(ca, sb, resolution) for (ca, _), (_, sb) in zip(factors_a, factors_b)])
        gt_edit = torch.stack([render_region_edit(ca, sa, sb, m[0]) for (ca, sa), (_, sb), m
                               in zip(factors_a, factors_b, mask)])
        parts_a = torch.stack([part_map(c, resolution) for c, _ in factors_a])
        parts_b = torch.stack([part_map(c, resolution) for c, _ in factors_b])

        codes_a = encoder(a.to(device))
        content_a, style_a = codes_a.content, codes_a.style
        style_b = encoder(b.to(device)).style
        rec = _generate(generator, content_a, style_a).float().cpu()
        swap = _generate(generator, content_a, style_b).float().cpu()
        mixed = _generate(generator, content_a, torch.stack([style_a, style_b], 1),
                          two_regions(mask).to(device)).float().cpu()

        add("reconstruction_", swap_error(rec, a))
        add("swap_", swap_error(swap, gt))
        add("", {"content_leakage": content_leakage(swap, parts_a, parts_b),
                 "style_leakage": style_leakage(swap, a, gt, parts_a, parts_b)})
        codes = code_consistency(encoder, generator, content_a, style_b)
        add("", {"content_code_distance": codes["content"], "style_code_distance": codes["style"]})
        add("edit_", region_edit_errors(mixed, gt_edit, rec, mask))
        add("composite_", region_edit_errors(composite(swap, rec, mask), gt_edit, rec, mask))

    results: Dict[str, float] = {"n_pairs": n_pairs, "resolution": resolution}
    results.update({name: _mean(torch.cat(values)) for name, values in scores.items()})
    return results
