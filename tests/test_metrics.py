"""Specifications of tcp_hub.evaluation.metrics: pixel, colour, edge and region-edit metrics."""

import math

import pytest
import torch

from tcp_hub.evaluation.metrics import (band_masks, colour_transfer_gain, edge_agreement,
                                        edge_magnitude, frechet_distance, l1, lab_frechet_distance, lab_to_rgb,
                                        psnr, region_differences, reinhard_transfer, rgb_to_lab)


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


def test_frechet_distance_agrees_with_scipy_sqrtm():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 6, generator=g, dtype=torch.float64), torch.randn(6, 6, generator=g, dtype=torch.float64)
    s1, s2 = a @ a.T, b @ b.T
    mu1, mu2 = torch.randn(6, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64)
    root = scipy_linalg.sqrtm((s1 @ s2).numpy()).real
    expected = float(((mu1 - mu2) ** 2).sum() + torch.trace(s1 + s2) - 2 * root.trace())
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
