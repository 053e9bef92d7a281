"""The training losses of the Swapping Autoencoder and TCP as plain functions.

Every function takes tensors and returns a scalar loss (or the tensors a loss needs); none knows
about optimisers or schedules, which live in ``tcp_hub.training``.
"""

from typing import Optional, Tuple

import torch
import torch.nn.functional as F


def swap_partner(batch_size: int) -> torch.Tensor:
    """Index of each image's swap partner: the batch rolled by B/2, so ``p(p(i)) = i`` and ``p(i) != i``.

    Raises a ValueError for an odd batch size (a partner must exist for every image).
    """
    if batch_size < 2 or batch_size % 2:
        raise ValueError(f"the training batch has {batch_size} images; swapping pairs images, so the per-process "
                         "batch (train_batch_size) must be even and >= 2")
    return torch.arange(batch_size).roll(batch_size // 2)


def reconstruction_loss(reconstruction: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Mean absolute error ``L1(G(c, s), x)`` over all pixels and channels."""
    return F.l1_loss(reconstruction.float(), image.float())


def generator_gan_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN loss for the generator: ``mean softplus(-D(fake))``."""
    return F.softplus(-fake_logits.float()).mean()


def discriminator_real_loss(real_logits: torch.Tensor) -> torch.Tensor:
    """Logistic loss of the discriminator on real samples: ``mean softplus(-D(real))``."""
    return F.softplus(-real_logits.float()).mean()


def discriminator_fake_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic loss of the discriminator on fake samples: ``mean softplus(D(fake))``."""
    return F.softplus(fake_logits.float()).mean()


def r1_penalty(outputs: torch.Tensor, inputs: torch.Tensor, grad_scale: float = 1.0) -> torch.Tensor:
    """R1 penalty ``E[ ||d sum(outputs) / d inputs||^2 ]`` (squared norm per sample, mean over samples).

    ``inputs [B, ...]`` must require grad and ``outputs`` be computed from it. The graph is kept
    (``create_graph=True``) so the penalty can be added to the discriminator's loss and share its
    backward. Mixed-precision safe: the outputs are multiplied by ``grad_scale`` (the fp16 grad
    scaler's current scale, 1 otherwise) before differentiating so that small gradients do not
    underflow in fp16, divided back afterwards, and squared and summed in fp32.
    """
    scaled = outputs.float().sum() * grad_scale
    (grad,) = torch.autograd.grad(scaled, inputs, create_graph=True)
    grad = grad.float() / grad_scale
    return grad.square().flatten(1).sum(1).mean()


def random_crops(
    images: torch.Tensor,
    patch_size: int,
    num_crops: int = 8,
    size_range: Tuple[float, float] = (1 / 8, 1 / 4),
    flip: bool = True,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Random square crops for the patch co-occurrence discriminator.

    Args:
        images: ``[B, 3, H, W]`` images.
        patch_size: side P of the returned patches (the crops are resampled to it bilinearly).
        num_crops: crops T per image.
        size_range: the crop side as a fraction of the image side, drawn uniformly in this range.
        flip: mirror each crop horizontally with probability 1/2.
        generator: source of randomness (on ``images``' device); the global RNG when ``None``.

    Returns:
        ``[B, T, 3, P, P]`` patches, differentiable with respect to ``images``.
    """
    b, c, h, w = images.shape
    n = b * num_crops
    lo, hi = size_range
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"crop size_range must satisfy 0 < low <= high <= 1, got {size_range}")
    u = torch.rand(n, 4, device=images.device, generator=generator)
    side = lo + (hi - lo) * u[:, 0]  # fraction of the image side; half-width in [-1, 1] coordinates
    centre_x = (2 * u[:, 1] - 1) * (1 - side)
    centre_y = (2 * u[:, 2] - 1) * (1 - side)
    mirror = torch.where(u[:, 3] < 0.5, -1.0, 1.0) if flip else torch.ones_like(side)
    theta = torch.zeros(n, 2, 3, device=images.device)
    theta[:, 0, 0] = side * mirror
    theta[:, 0, 2] = centre_x
    theta[:, 1, 1] = side
    theta[:, 1, 2] = centre_y
    grid = F.affine_grid(theta, (n, c, patch_size, patch_size), align_corners=False)
    source = images.repeat_interleave(num_crops, dim=0)
    patches = F.grid_sample(source, grid.to(source.dtype), mode="bilinear", padding_mode="border",
                            align_corners=False)
    return patches.view(b, num_crops, c, patch_size, patch_size)


def code_consistency_loss(
    regenerated_content: torch.Tensor,
    regenerated_style: torch.Tensor,
    content: torch.Tensor,
    style: torch.Tensor,
    style_weight: float = 1.0,
) -> torch.Tensor:
    """TCP's code consistency: ``L1(cg, c) + style_weight * L1(sg, s')`` with the targets detached.

    Args:
        regenerated_content, regenerated_style: ``cg [B, C, h, w]``, ``sg [B, D]`` = E(G(c, s')).
        content, style: the codes the swapped image was made from, ``c`` and ``s'``.
    """
    content_term = F.l1_loss(regenerated_content.float(), content.detach().float())
    style_term = F.l1_loss(regenerated_style.float(), style.detach().float())
    return content_term + style_weight * style_term


def alignment_band(resolution: int, fraction: float = 1 / 32) -> int:
    """Width in pixels of the band around a mask edge that content alignment ignores (>= 1)."""
    return max(1, round(resolution * fraction))


def shrink_regions(mask: torch.Tensor, band: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Outside and inside of a mask, each eroded by ``band`` pixels away from the mask's edge.

    The mask is binarised at 0.5 first. Erosion is a max-pool of the complementary region, so a
    pixel survives only if no pixel of the other region lies within ``band`` pixels (Chebyshev
    distance); the image border does not erode anything.

    Args:
        mask: ``[B, 1, H, W]`` soft or binary mask M.
        band: erosion width in pixels (0 keeps the binarised regions).

    Returns:
        ``(outside, inside)``, float ``[B, 1, H, W]`` tensors of 0s and 1s that never overlap.
    """
    inside = (mask > 0.5).float()
    outside = 1.0 - inside
    if band <= 0:
        return outside, inside
    k = 2 * band + 1
    near_inside = F.max_pool2d(inside, k, stride=1, padding=band)
    near_outside = F.max_pool2d(outside, k, stride=1, padding=band)
    return 1.0 - near_inside, 1.0 - near_outside


def content_alignment_loss(
    mixed: torch.Tensor,
    outside_target: torch.Tensor,
    inside_target: torch.Tensor,
    outside: torch.Tensor,
    inside: torch.Tensor,
) -> torch.Tensor:
    """TCP's content alignment: ``L1(O * (y - G(c, s))) + L1(I * (y - G(c, s')))``, targets detached.

    Args:
        mixed: ``y [B, 3, H, W]`` = G(c, styles=[s, s'], masks=[1 - M, M]).
        outside_target: ``G(c, s) [B, 3, H, W]``, what y must equal outside the mask.
        inside_target: ``G(c, s') [B, 3, H, W]``, what y must equal inside it.
        outside, inside: ``[B, 1, H, W]`` shrunk regions from `shrink_regions`.

    Each L1 is a mean over all B x 3 x H x W elements (zeros where the region is 0).
    """
    y = mixed.float()
    out_term = (outside * (y - outside_target.detach().float())).abs().mean()
    in_term = (inside * (y - inside_target.detach().float())).abs().mean()
    return out_term + in_term
