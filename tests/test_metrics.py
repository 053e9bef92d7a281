"""Specifications of tcp_hub.evaluation.metrics: pixel, colour, edge and region-edit metrics."""

import math

import pytest
import torch

from tcp_hub.evaluation.metrics import (band_masks, colour_transfer_gain, down_up, edge_agreement,
                                        edge_magnitude, frechet_distance, gaussian_blur, l1, lab_frechet_distance,
                                        lab_to_rgb, laplacian_variance, psnr, region_differences,
                                        reinhard_transfer, rgb_to_lab, ssim)


def _rgb(*values):
    """One-pixel image(s) from 0..1 RGB triples -> [B, 3, 1, 1] in [-1, 1]."""
    return torch.tensor(values, dtype=torch.float32)[:, :, None, None] * 2 - 1


def _stripes(width=32, period=8, vertical=True):
    """[1, 3, W, W] black/white stripes in [-1, 1]."""
    idx = torch.arange(width)
    row = ((idx // (period // 2)) % 2).float() * 2 - 1
    img = row[None, :].expand(width, width) if vertical else row[:, None].expand(width, width)
    return img[None, None].expand(1, 3, width, width).clone()


def test_l1_and_psnr_of_a_constant_offset():
    a = torch.rand(2, 3, 8, 8) * 1.6 - 0.8
    b = a + 0.1
    assert torch.allclose(l1(a, b), torch.full((2,), 0.1), atol=1e-6)
    assert torch.allclose(psnr(a, b), torch.full((2,), 20 * math.log10(2 / 0.1)), atol=1e-3)


def test_psnr_of_identical_images_is_infinite():
    a = torch.rand(1, 3, 4, 4)
    assert torch.isinf(psnr(a, a)).all()


def test_lab_of_reference_colours():
    lab = rgb_to_lab(_rgb((1, 1, 1), (0, 0, 0), (1, 0, 0), (0, 0, 1)))[:, :, 0, 0]
    assert torch.allclose(lab[0], torch.tensor([100.0, 0, 0], dtype=torch.float64), atol=1e-3)
    assert torch.allclose(lab[1], torch.zeros(3, dtype=torch.float64), atol=1e-6)
    # Published CIE Lab (D65) of sRGB red and blue.
    assert torch.allclose(lab[2], torch.tensor([53.24, 80.09, 67.20], dtype=torch.float64), atol=0.02)
    assert torch.allclose(lab[3], torch.tensor([32.30, 79.19, -107.86], dtype=torch.float64), atol=0.02)


def test_lab_round_trip_returns_the_image():
    x = torch.rand(2, 3, 5, 5) * 2 - 1
    assert torch.allclose(lab_to_rgb(rgb_to_lab(x)), x, atol=1e-5)


def test_frechet_distance_of_equal_covariances_is_the_squared_mean_distance():
    cov = torch.tensor([[2.0, 0.3], [0.3, 1.0]])
    mu1, mu2 = torch.tensor([0.0, 1.0]), torch.tensor([3.0, -1.0])
    assert float(frechet_distance(mu1, cov, mu2, cov)) == pytest.approx(13.0, abs=1e-9)


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    # tr(S1 + S2 - 2 sqrt(S1 S2)) = sum (sqrt(s1) - sqrt(s2))^2 for diagonal S.
    s1, s2 = torch.tensor([4.0, 1.0, 9.0]), torch.tensor([1.0, 1.0, 0.0])
    got = frechet_distance(torch.zeros(3), torch.diag(s1), torch.zeros(3), torch.diag(s2))
    assert float(got) == pytest.approx(float(((s1.sqrt() - s2.sqrt()) ** 2).sum()), abs=1e-9)


def test_frechet_distance_agrees_with_an_iterated_matrix_square_root():
    """Against a different route to tr (S1 S2)^(1/2): the Denman-Beavers iteration for the (non-symmetric)
    square root of S1 S2 itself, checked by squaring it."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 6, generator=g, dtype=torch.float64), torch.randn(6, 6, generator=g, dtype=torch.float64)
    s1, s2 = a @ a.T + 0.1 * torch.eye(6, dtype=torch.float64), b @ b.T + 0.1 * torch.eye(6, dtype=torch.float64)
    mu1, mu2 = torch.randn(6, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64)
    y, z = s1 @ s2, torch.eye(6, dtype=torch.float64)
    for _ in range(60):
        y, z = (y + torch.linalg.inv(z)) / 2, (z + torch.linalg.inv(y)) / 2
    assert torch.allclose(y @ y, s1 @ s2, rtol=1e-9, atol=1e-9)
    expected = float(((mu1 - mu2) ** 2).sum() + torch.trace(s1 + s2) - 2 * torch.trace(y))
    assert float(frechet_distance(mu1, s1, mu2, s2)) == pytest.approx(expected, rel=1e-8)


def test_lab_frechet_distance_is_zero_for_the_same_colours_and_counts_a_lightness_shift():
    x = torch.rand(1, 3, 16, 16) * 1.2 - 0.6
    assert float(lab_frechet_distance(x, x.flip(-1))) == pytest.approx(0.0, abs=1e-6)
    grey_a, grey_b = _rgb((0.5, 0.5, 0.5)), _rgb((0.6, 0.6, 0.6))
    dl = float(rgb_to_lab(grey_b)[0, 0] - rgb_to_lab(grey_a)[0, 0])
    assert float(lab_frechet_distance(grey_a, grey_b)) == pytest.approx(dl ** 2, rel=1e-4)


def test_reinhard_transfer_matches_the_reference_lab_mean_and_std():
    g = torch.Generator().manual_seed(1)
    content = torch.rand(1, 3, 16, 16, generator=g) * 0.6 - 0.5    # darkish
    reference = torch.rand(1, 3, 12, 12, generator=g) * 0.4 + 0.2  # lighter, other size
    out = reinhard_transfer(content, reference)
    lab_out, lab_ref = rgb_to_lab(out), rgb_to_lab(reference)
    assert torch.allclose(lab_out.mean((2, 3)), lab_ref.mean((2, 3)), atol=0.5)
    assert torch.allclose(lab_out.std((2, 3)), lab_ref.std((2, 3)), rtol=0.05)
    assert float(colour_transfer_gain(out, content, reference)) > 0.95


def test_colour_transfer_gain_is_zero_for_no_change_and_one_for_the_reference():
    g = torch.Generator().manual_seed(2)
    content, reference = torch.rand(2, 3, 8, 8, generator=g) - 1, torch.rand(2, 3, 8, 8, generator=g)
    assert torch.allclose(colour_transfer_gain(content, content, reference), torch.zeros(2), atol=1e-6)
    assert torch.allclose(colour_transfer_gain(reference, content, reference), torch.ones(2), atol=1e-6)


def test_edge_magnitude_of_a_black_white_step():
    img = -torch.ones(1, 3, 6, 6)
    img[..., 3:] = 1
    mag = edge_magnitude(img)[0, 0]
    assert torch.allclose(mag[:, 2:4], torch.full((6, 2), 4.0), atol=1e-4)
    assert float(mag[:, :2].abs().max()) == 0.0 and float(mag[:, 4:].abs().max()) == 0.0


def test_edge_agreement_ignores_colour_but_not_layout():
    vertical = _stripes()
    recoloured = (vertical * 0.3 + 0.2) * torch.tensor([1.0, 0.5, -0.5])[None, :, None, None]
    horizontal = _stripes(vertical=False)
    assert float(edge_agreement(vertical, recoloured)) == pytest.approx(1.0, abs=1e-4)
    assert float(edge_agreement(vertical, horizontal)) < 0.1
    assert float(edge_agreement(vertical, torch.zeros_like(vertical))) == 0.0


def test_band_masks_partition_the_image_around_the_mask_edge():
    mask = torch.zeros(1, 1, 20, 20)
    mask[..., 5:15, 5:15] = 1
    inside, outside, band = band_masks(mask, 2)
    assert torch.equal(inside + outside + band, torch.ones_like(mask))
    assert int(inside.sum()) == 6 * 6 and int((inside[..., 7:13, 7:13]).sum()) == 36
    assert int(outside.sum()) == 400 - 14 * 14
    assert int(band.sum()) == 14 * 14 - 36


def test_band_masks_do_not_treat_the_image_frame_as_a_mask_edge():
    inside, outside, band = band_masks(torch.ones(1, 1, 8, 8), 2)
    assert int(inside.sum()) == 64 and int(band.sum()) == 0 and int(outside.sum()) == 0


def test_region_differences_measure_each_region_separately():
    a = torch.zeros(1, 3, 32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    inside, outside, band = band_masks(mask, 1)
    b = a + 0.5 * inside + 0.25 * band + 0.1 * outside
    got = region_differences(a, b, mask)  # the default band at 32 px is 1 px (1/32 of the side)
    assert got["inside"].item() == pytest.approx(0.5)
    assert got["band"].item() == pytest.approx(0.25)
    assert got["outside"].item() == pytest.approx(0.1)


def test_region_differences_are_nan_for_an_empty_region():
    a = torch.zeros(1, 3, 8, 8)
    got = region_differences(a, a, torch.zeros(1, 1, 8, 8))
    assert math.isnan(got["inside"].item()) and got["outside"].item() == 0.0


def test_mismatched_images_are_refused_with_their_shapes():
    with pytest.raises(ValueError, match=r"same shape.*\(1, 3, 8, 8\).*\(1, 3, 4, 4\)"):
        l1(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 4, 4))


# ---- SSIM ----------------------------------------------------------------------------------------
def _texture(seed=0, size=32):
    """[1, 3, size, size] smooth random texture in [-0.8, 0.8] (so noise and shifts stay in range)."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, size // 4, size // 4, generator=g) * 1.6 - 0.8
    return torch.nn.functional.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)


def test_ssim_of_identical_images_is_one():
    x = _texture()
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-6)


def test_ssim_of_two_flat_images_is_the_luminance_term_on_the_0_1_scale():
    # Flat images have no contrast or structure, so SSIM = (2 p q + C1) / (p^2 + q^2 + C1), C1 = 0.01^2,
    # with p and q the grey levels in [0, 1].
    p, q, c1 = 0.2, 0.5, 0.01 ** 2
    got = ssim(torch.full((1, 3, 16, 16), 2 * p - 1), torch.full((1, 3, 16, 16), 2 * q - 1))
    assert float(got) == pytest.approx((2 * p * q + c1) / (p * p + q * q + c1), rel=1e-5)


def test_ssim_of_an_11px_image_is_the_gaussian_weighted_formula_of_the_paper():
    # At 11 x 11 there is a single window: SSIM is the paper's formula with Gaussian-weighted statistics.
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(1, 3, 11, 11, generator=g), torch.rand(1, 3, 11, 11, generator=g)  # in [0, 1]
    x = torch.arange(11, dtype=torch.float64) - 5
    w1 = torch.exp(-x ** 2 / (2 * 1.5 ** 2))
    w = torch.outer(w1, w1) / torch.outer(w1, w1).sum()
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    values = []
    for ch in range(3):
        u, v = a[0, ch].double(), b[0, ch].double()
        mu_u, mu_v = (w * u).sum(), (w * v).sum()
        var_u, var_v = (w * (u - mu_u) ** 2).sum(), (w * (v - mu_v) ** 2).sum()
        cov = (w * (u - mu_u) * (v - mu_v)).sum()
        values.append((2 * mu_u * mu_v + c1) * (2 * cov + c2) / ((mu_u ** 2 + mu_v ** 2 + c1) * (var_u + var_v + c2)))
    assert float(ssim(a * 2 - 1, b * 2 - 1)) == pytest.approx(float(sum(values) / 3), abs=1e-6)


def test_ssim_agrees_with_scikit_image_on_the_0_1_scale():
    metrics = pytest.importorskip("skimage.metrics")
    a = _texture(seed=4, size=40)
    b = (a + 0.2 * torch.randn(a.shape, generator=torch.Generator().manual_seed(5))).clamp(-1, 1)
    to_01 = lambda x: ((x[0].double() + 1) / 2).numpy()  # noqa: E731
    expected = metrics.structural_similarity(to_01(a), to_01(b), channel_axis=0, gaussian_weights=True,
                                             sigma=1.5, use_sample_covariance=False, data_range=1.0)
    assert float(ssim(a, b)) == pytest.approx(expected, abs=1e-6)


def test_ssim_is_symmetric():
    a, b = _texture(seed=1), _texture(seed=2)
    assert float(ssim(a, b)) == pytest.approx(float(ssim(b, a)), abs=1e-7)


def test_ssim_falls_as_noise_grows():
    x = _texture(seed=6)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(7))
    scores = [float(ssim(x, x + s * noise)) for s in (0.0, 0.02, 0.05, 0.1, 0.2)]
    assert scores[0] == pytest.approx(1.0, abs=1e-6)
    assert all(later < earlier for earlier, later in zip(scores, scores[1:]))


def test_ssim_barely_counts_a_small_brightness_shift_but_does_count_a_blur():
    x = _texture(seed=8) + 0.1 * torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(9))
    assert float(ssim(x, x + 0.05)) > 0.99
    assert float(ssim(x, gaussian_blur(x, 1.5))) < 0.9


def test_ssim_refuses_images_smaller_than_its_window():
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


# ---- sharpness and the baselines' image operations -----------------------------------------------
def test_laplacian_variance_of_a_flat_image_is_zero():
    assert float(laplacian_variance(torch.full((1, 3, 8, 8), 0.3))) == 0.0


def test_laplacian_variance_of_one_pixel_black_white_columns():
    # Columns alternate 0 / 255: the 4-neighbour Laplacian is +-510 everywhere, so its variance is 510^2.
    img = (torch.arange(8) % 2).float().mul(2).sub(1).expand(1, 3, 8, 8)
    assert float(laplacian_variance(img)) == pytest.approx(510.0 ** 2, rel=1e-6)


def test_laplacian_variance_weighs_green_most_as_luma_does():
    red, green = -torch.ones(1, 3, 8, 8), -torch.ones(1, 3, 8, 8)
    red[:, 0, :, ::2], green[:, 1, :, ::2] = 1, 1
    assert float(laplacian_variance(green) / laplacian_variance(red)) == pytest.approx((0.587 / 0.299) ** 2, rel=1e-5)


def test_laplacian_variance_falls_with_blur():
    x = _texture(seed=10) + 0.1 * torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(11))
    sharpness = [float(laplacian_variance(gaussian_blur(x, s))) for s in (0.0, 0.8, 1.5, 3.0)]
    assert all(later < earlier for earlier, later in zip(sharpness, sharpness[1:]))


def test_gaussian_blur_keeps_flat_images_and_spreads_a_point_by_sigma():
    flat = torch.full((1, 3, 16, 16), 0.4)
    assert torch.allclose(gaussian_blur(flat, 1.5), flat, atol=1e-6)
    point = torch.zeros(1, 3, 31, 31)
    point[..., 15, 15] = 1
    spread = gaussian_blur(point, 1.5)[0, 0]
    assert float(spread.sum()) == pytest.approx(1.0, abs=1e-5)
    x = torch.arange(31, dtype=torch.float32) - 15
    assert float((spread.sum(0) * x ** 2).sum()) == pytest.approx(1.5 ** 2, rel=0.02)  # cut at 3.3 sigma


def test_down_up_keeps_smooth_images_and_loses_fine_detail():
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    smooth = (0.5 * torch.sin(2 * xx) * torch.cos(yy)).expand(1, 3, 64, 64)
    checker = ((torch.arange(64)[:, None] + torch.arange(64)[None]) % 2).float().mul(1.6).sub(0.8).expand(1, 3, 64, 64)
    assert down_up(smooth).shape == smooth.shape
    assert float(psnr(down_up(smooth), smooth)) > 40
    assert float(down_up(checker).abs().max()) < 0.05  # a 1-px checkerboard averages to flat grey


def test_down_up_stays_in_range():
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(12)).round() * 2 - 1
    out = down_up(x)
    assert float(out.min()) >= -1 and float(out.max()) <= 1


def test_speckle_fraction_counts_isolated_specks_not_edges_or_ramps():
    from tcp_hub.evaluation import speckle_fraction

    ramp = torch.linspace(-1, 1, 64).view(1, 1, 1, 64).expand(1, 3, 64, 64).clone()
    step = torch.where(ramp > 0, 1.0, -1.0)
    specks = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0)) < 0.05
    speckled = torch.where(specks, -1.0, ramp)
    assert float(speckle_fraction(ramp)) == 0 and float(speckle_fraction(step)) == 0
    assert 0.04 < float(speckle_fraction(speckled)) < 0.06
