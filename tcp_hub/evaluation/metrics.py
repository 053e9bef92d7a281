"""Image metrics: pixel error, structure (SSIM), colour statistics in CIE Lab, edges, sharpness,
and changes around a mask; plus the simple image operations the quality baselines are made of.

Images are float tensors ``[B, 3, H, W]`` in [-1, 1] (the model's range); masks are ``[B, 1, H, W]``
in [0, 1]. Every metric returns one value per image, ``[B]`` (float32 unless noted), so callers
choose how to aggregate (mean, median, ...).
"""

import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from ..image_io import gaussian_blur  # noqa: F401  (one Gaussian blur for the package; re-exported)
from ..losses import alignment_band, shrink_regions

# sRGB (linear) -> CIE XYZ for the D65 white point (IEC 61966-2-1), and that white point.
_RGB_TO_XYZ = torch.tensor([[0.4124564, 0.3575761, 0.1804375],
                            [0.2126729, 0.7151522, 0.0721750],
                            [0.0193339, 0.1191920, 0.9503041]], dtype=torch.float64)
_D65_WHITE = _RGB_TO_XYZ.sum(dim=1)  # (0.95047, 1.0, 1.08883)
_DELTA = 6.0 / 29.0


def _check_images(x: torch.Tensor, name: str = "images") -> None:
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must be [B, 3, H, W] RGB tensors in [-1, 1], got shape {tuple(x.shape)}")


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    _check_images(a, "first images")
    _check_images(b, "second images")
    if a.shape != b.shape:
        raise ValueError(f"images to compare must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


# ---- pixel error and structure -------------------------------------------------------------------
def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per image, ``[B]``, in the images' own units ([-1, 1] range)."""
    _check_pair(a, b)
    return (a.float() - b.float()).abs().flatten(1).mean(1)


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per image in dB, ``[B]``; ``inf`` for identical images.

    ``data_range`` is the span of valid values: 2 for images in [-1, 1].
    """
    _check_pair(a, b)
    mse = (a.double() - b.double()).pow(2).flatten(1).mean(1)
    return (20 * math.log10(data_range) - 10 * torch.log10(mse)).float()


_SSIM_WINDOW = 11  # px, the window of Wang et al.


def _separable_filter(x: torch.Tensor, kernel: torch.Tensor, pad: bool) -> torch.Tensor:
    """Filter each channel of ``[B, C, H, W]`` with ``kernel [K]`` along rows, then columns.

    ``pad``: reflect-pad by K // 2 to keep the size; otherwise only the "valid" positions remain.
    """
    channels, k = x.shape[1], kernel.numel()
    if pad:
        x = F.pad(x, (k // 2,) * 4, mode="reflect")
    weight = kernel.to(x)
    x = F.conv2d(x, weight.view(1, 1, 1, k).expand(channels, 1, 1, k), groups=channels)
    return F.conv2d(x, weight.view(1, 1, k, 1).expand(channels, 1, k, 1), groups=channels)


def _gaussian_kernel(sigma: float, size: int) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) per image, ``[B]``; 1 for identical images.

    The paper's settings: an 11 x 11 Gaussian window of standard deviation 1.5 px, K1 = 0.01,
    K2 = 0.03, statistics without the sample-covariance correction, and only windows that lie inside
    the image ("valid", like the authors' MATLAB code and scikit-image's ``structural_similarity(
    gaussian_weights=True, use_sample_covariance=False)``). Each RGB channel is scored and the map is
    averaged over channels and positions. The images are first mapped to [0, 1] (data range 1), as
    for 8-bit photos: SSIM's luminance term depends on the absolute level, not only on differences,
    so it would be wrong around 0 in the [-1, 1] range.
    """
    _check_pair(a, b)
    if min(a.shape[-2:]) < _SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {_SSIM_WINDOW}x{_SSIM_WINDOW} px (its window), got "
                         f"{a.shape[-1]}x{a.shape[-2]}")
    x, y = (a.double() + 1) / 2, (b.double() + 1) / 2
    kernel = _gaussian_kernel(1.5, _SSIM_WINDOW)
    mu_x, mu_y = _separable_filter(x, kernel, False), _separable_filter(y, kernel, False)
    var_x = _separable_filter(x * x, kernel, False) - mu_x ** 2
    var_y = _separable_filter(y * y, kernel, False) - mu_y ** 2
    cov = _separable_filter(x * y, kernel, False) - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(1).float()


# ---- simple image operations (baselines) ---------------------------------------------------------
def down_up(images: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Shrink by ``factor`` (antialiased bicubic) and enlarge back (bicubic), clamped to [-1, 1].

    The "4x down-up resize" baseline: what a reconstruction that keeps only a ``factor``-times smaller
    image (1/16 of the pixels for 4) would look like.
    """
    _check_images(images)
    h, w = images.shape[-2:]
    small = F.interpolate(images.float(), size=(max(1, round(h / factor)), max(1, round(w / factor))),
                          mode="bicubic", antialias=True, align_corners=False)
    return F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False).clamp(-1, 1)


# ---- colour --------------------------------------------------------------------------------------
def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB values in [0, 1] -> linear light (IEC 61966-2-1)."""
    return torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: torch.Tensor) -> torch.Tensor:
    """Linear light in [0, 1] -> sRGB values (IEC 61966-2-1); the inverse of `srgb_to_linear`."""
    return torch.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def rgb_to_lab(images: torch.Tensor) -> torch.Tensor:
    """sRGB ``[B, 3, H, W]`` in [-1, 1] -> CIE L*a*b* (D65) ``[B, 3, H, W]`` (float64).

    Values are clamped to [-1, 1] first; L is in [0, 100], a and b roughly in [-128, 127].
    """
    _check_images(images)
    rgb = ((images.double().clamp(-1, 1) + 1) / 2)
    xyz = torch.einsum("ij,bjhw->bihw", _RGB_TO_XYZ.to(images.device), srgb_to_linear(rgb))
    t = xyz / _D65_WHITE.to(images.device)[None, :, None, None]
    f = torch.where(t > _DELTA ** 3, t.clamp_min(1e-12) ** (1 / 3), t / (3 * _DELTA ** 2) + 4 / 29)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* (D65) ``[B, 3, H, W]`` -> sRGB in [-1, 1] (float32), out-of-gamut colours clipped."""
    lab = lab.double()
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    t = torch.where(f > _DELTA, f ** 3, 3 * _DELTA ** 2 * (f - 4 / 29))
    xyz = t * _D65_WHITE.to(lab.device)[None, :, None, None]
    linear = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_RGB_TO_XYZ).to(lab.device), xyz).clamp(0, 1)
    return (linear_to_srgb(linear) * 2 - 1).clamp(-1, 1).float()


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """Fréchet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2) (batched, float64).

    ``||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``. The trace of the matrix square root is
    computed exactly from symmetric eigendecompositions: ``tr (S1 S2)^(1/2) = sum sqrt(eig(R S2 R))``
    with ``R = S1^(1/2)``, since ``S1 S2`` and ``R S2 R`` share their eigenvalues and the latter is
    symmetric PSD. Tiny negative eigenvalues from rounding are clipped to 0.

    Args:
        mu1, mu2: means ``[..., D]``.
        sigma1, sigma2: covariances ``[..., D, D]`` (symmetric PSD).

    Returns:
        ``[...]`` distances (float64 tensor).
    """
    mu1, mu2 = torch.as_tensor(mu1, dtype=torch.float64), torch.as_tensor(mu2, dtype=torch.float64)
    s1, s2 = torch.as_tensor(sigma1, dtype=torch.float64), torch.as_tensor(sigma2, dtype=torch.float64)
    evals, evecs = torch.linalg.eigh((s1 + s1.mT) / 2)
    root1 = evecs @ (evals.clamp_min(0).sqrt()[..., None] * evecs.mT)
    middle = root1 @ s2 @ root1
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.mT) / 2).clamp_min(0).sqrt().sum(-1)
    trace = lambda s: torch.diagonal(s, dim1=-2, dim2=-1).sum(-1)  # noqa: E731
    return (mu1 - mu2).pow(2).sum(-1) + trace(s1) + trace(s2) - 2 * trace_sqrt


def _lab_gaussian(images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mean ``[B, 3]`` and covariance ``[B, 3, 3]`` of the Lab colours of each image's pixels."""
    pixels = rgb_to_lab(images).flatten(2)  # [B, 3, N]
    mean = pixels.mean(2)
    centred = pixels - mean[..., None]
    return mean, centred @ centred.mT / max(pixels.shape[2] - 1, 1)


def lab_frechet_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per pair, the Fréchet distance between Gaussian fits of the Lab colours of x's and y's pixels, ``[B]``.

    Units are squared Lab units (ΔE²); x and y may differ in size.
    """
    _check_images(x, "x")
    _check_images(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same number of images, got {x.shape[0]} and {y.shape[0]}")
    return frechet_distance(*_lab_gaussian(x), *_lab_gaussian(y)).float()


def reinhard_transfer(content: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Classical colour transfer (Reinhard et al. 2001): match each Lab channel's mean and std to the reference.

    The baseline a style swap should beat at moving colour statistics. Reinhard's paper works in lαβ;
    CIE Lab is the common modern variant and is used here.

    Args:
        content: ``[B, 3, H, W]`` in [-1, 1], the images to recolour.
        reference: ``[B, 3, H', W']`` in [-1, 1], one reference per content image.

    Returns:
        ``[B, 3, H, W]`` in [-1, 1].
    """
    _check_images(content, "content")
    _check_images(reference, "reference")
    src, ref = rgb_to_lab(content), rgb_to_lab(reference)
    src_mean, src_std = src.mean((2, 3), keepdim=True), src.std((2, 3), keepdim=True)
    ref_mean, ref_std = ref.mean((2, 3), keepdim=True), ref.std((2, 3), keepdim=True)
    return lab_to_rgb((src - src_mean) / src_std.clamp_min(1e-6) * ref_std + ref_mean)


def colour_transfer_gain(output: torch.Tensor, content: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``1 - FD(output, reference) / FD(content, reference)`` per image, ``[B]``, FD = `lab_frechet_distance`.

    The fraction by which the output moved the content's colour statistics toward the reference's:
    1 = matched them exactly, 0 = no closer than the content, negative = moved away. NaN where the
    content already has the reference's statistics (FD = 0).
    """
    before = lab_frechet_distance(content, reference)
    after = lab_frechet_distance(output, reference)
    return torch.where(before > 0, 1 - after / before, torch.full_like(before, float("nan")))


# ---- edges ---------------------------------------------------------------------------------------
_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def edge_magnitude(images: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of the lightness (Lab L / 100), ``[B, 1, H, W]`` (float32).

    Borders are replicated, so the image frame itself is not an edge. A step from black to white
    between two pixels gives a magnitude of 4 on both sides of the step.
    """
    lightness = rgb_to_lab(images)[:, :1].float() / 100
    padded = F.pad(lightness, (1, 1, 1, 1), mode="replicate")
    kernels = torch.stack([_SOBEL_X, _SOBEL_X.T])[:, None].to(images.device)  # [2, 1, 3, 3]
    grad = F.conv2d(padded, kernels)
    return grad.pow(2).sum(1, keepdim=True).sqrt()


def edge_agreement(a: torch.Tensor, b: torch.Tensor, tolerance: int = 1) -> torch.Tensor:
    """Pearson correlation of the Sobel edge magnitudes of a and b, per image, ``[B]`` in [-1, 1].

    1 = the same edges up to their contrast (a global scaling), about 0 = unrelated layouts.
    Correlation rather than F1 of thresholded maps because a restyled image keeps its edges but not
    their contrast. Magnitudes are first max-pooled over ``(2 * tolerance + 1)`` px so that edges
    shifted by up to ``tolerance`` px still match. A flat image (no edges) scores 0.
    """
    _check_pair(a, b)
    ea, eb = edge_magnitude(a), edge_magnitude(b)
    if tolerance > 0:
        k = 2 * tolerance + 1
        ea, eb = F.max_pool2d(ea, k, 1, tolerance), F.max_pool2d(eb, k, 1, tolerance)
    ea, eb = ea.flatten(1).double(), eb.flatten(1).double()
    ea, eb = ea - ea.mean(1, keepdim=True), eb - eb.mean(1, keepdim=True)
    denom = (ea.norm(dim=1) * eb.norm(dim=1)).clamp_min(1e-12)
    return ((ea * eb).sum(1) / denom).float()


# ---- sharpness -----------------------------------------------------------------------------------
_LUMA = torch.tensor([0.299, 0.587, 0.114])  # Rec. 601, as OpenCV's RGB -> grey
_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian_variance(images: torch.Tensor) -> torch.Tensor:
    """Sharpness: variance of the 4-neighbour Laplacian of the luma, per image, ``[B]``.

    Luma is Rec. 601 on a 0..255 scale (so values read like OpenCV's ``cv2.Laplacian(grey).var()``);
    only pixels whose neighbours all lie inside the image count. Blur lowers it, noise and
    over-sharpening raise it: compare against real photos rather than maximising it.
    """
    _check_images(images)
    luma = torch.einsum("c,bchw->bhw", _LUMA.to(images.device, torch.float64),
                        (images.double().clamp(-1, 1) + 1) * 127.5)[:, None]
    lap = F.conv2d(luma, _LAPLACIAN.to(luma)[None, None])
    return lap.flatten(1).var(1, unbiased=False).float()


def speckle_fraction(images: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """Isolated dark/bright specks: the share of pixels whose luma (0..1) differs from the median of its
    3x3 neighbourhood by more than ``threshold``, per image, ``[B]``. Edges and textures move a pixel away
    from its neighbours' median far less often than impulse noise does (border pixels are left out)."""
    _check_images(images)
    luma = torch.einsum("c,bchw->bhw", _LUMA.to(images.device, torch.float32), (images.float().clamp(-1, 1) + 1) / 2)
    patches = F.unfold(luma[:, None], 3)  # [B, 9, (H-2)(W-2)]
    deviation = (patches[:, 4] - patches.median(dim=1).values).abs()
    return (deviation > threshold).float().mean(1)


# ---- changes around a mask -----------------------------------------------------------------------
def band_masks(mask: torch.Tensor, width: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split the image into the mask's inside, outside and a seam band ``width`` px to each side of its edge.

    The mask is binarised at 0.5; ``inside`` and ``outside`` are its two sides each eroded by ``width``
    px (`tcp_hub.losses.shrink_regions`, the regions content alignment trains on); ``band`` is the
    rest. The image frame does not count as a mask edge.

    Args:
        mask: ``[B, 1, H, W]`` in [0, 1].
        width: band half-width in px (0 gives an empty band).

    Returns:
        ``(inside, outside, band)``: float ``[B, 1, H, W]`` {0, 1} masks that partition the image.
    """
    if mask.ndim != 4 or mask.shape[1] != 1:
        raise ValueError(f"mask must be [B, 1, H, W] with values in [0, 1], got shape {tuple(mask.shape)}")
    if width < 0:
        raise ValueError(f"band width must be >= 0 px, got {width}")
    outside, inside = shrink_regions(mask.float(), width)
    return inside, outside, 1 - inside - outside


def masked_mean_abs(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of a and b over the pixels (and channels) where ``region`` is 1, ``[B]``.

    NaN for an image whose region is empty.
    """
    _check_pair(a, b)
    weight = region.float().expand_as(a)
    total = ((a.float() - b.float()).abs() * weight).flatten(1).sum(1)
    count = weight.flatten(1).sum(1)
    return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, float("nan")))


def region_differences(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor,
                       band_width: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Mean absolute difference of a and b inside the mask, outside it, and in the seam band, each ``[B]``.

    For a region edit, compare the edited image with the unedited reconstruction: ``outside`` should
    be ~0 (nothing leaks out), ``inside`` large; or with the ground-truth edit: all ~0.

    Args:
        a, b: ``[B, 3, H, W]`` in [-1, 1].
        mask: ``[B, 1, H, W]`` in [0, 1], 1 where the edit applies.
        band_width: px on each side of the mask's edge left out of inside/outside and measured as
            ``band``; default about 1/32 of the short side (`tcp_hub.losses.alignment_band`, as in training).

    Returns:
        ``{"inside": [B], "outside": [B], "band": [B]}`` (NaN where a region is empty).
    """
    if mask.shape[0] != a.shape[0] or mask.shape[-2:] != a.shape[-2:]:
        raise ValueError(f"mask {tuple(mask.shape)} must be [B, 1, H, W] matching images {tuple(a.shape)}")
    width = alignment_band(min(a.shape[-2:])) if band_width is None else band_width
    inside, outside, band = band_masks(mask, width)
    return {"inside": masked_mean_abs(a, b, inside), "outside": masked_mean_abs(a, b, outside),
            "band": masked_mean_abs(a, b, band)}
