"""The training losses (tcp_hub.losses), checked on small hand-made tensors."""

import math

import pytest
import torch

from tcp_hub import losses as L


def test_swap_partner_rolls_the_batch_by_half():
    assert L.swap_partner(4).tolist() == [2, 3, 0, 1]
    p = L.swap_partner(6)
    assert torch.equal(p[p], torch.arange(6)) and not (p == torch.arange(6)).any()


@pytest.mark.parametrize("batch", [1, 3, 5])
def test_swap_partner_refuses_odd_batches_with_a_clear_message(batch):
    with pytest.raises(ValueError, match="even"):
        L.swap_partner(batch)


def test_reconstruction_is_mean_absolute_error():
    x = torch.zeros(2, 3, 4, 4)
    y = x.clone()
    y[0] = 0.5  # half the elements off by 0.5
    assert L.reconstruction_loss(y, x).item() == pytest.approx(0.25)


def test_gan_losses_are_softplus_of_the_logits():
    logits = torch.tensor([[-1.0], [0.0], [2.0]])
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    assert L.generator_gan_loss(logits).item() == pytest.approx((softplus(1) + softplus(0) + softplus(-2)) / 3)
    assert L.discriminator_real_loss(logits).item() == pytest.approx(L.generator_gan_loss(logits).item())
    assert L.discriminator_fake_loss(logits).item() == pytest.approx((softplus(-1) + softplus(0) + softplus(2)) / 3)


def test_r1_of_a_quadratic_is_the_squared_gradient_norm_and_differentiable():
    # D(x)_b = sum(a * x_b^2)  =>  grad = 2 a x_b,  R1 = mean_b sum(4 a^2 x_b^2),  dR1/da = mean_b sum(8 a x_b^2)
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    a = torch.tensor(0.5, requires_grad=True)
    out = (a * x.square()).sum(1)
    penalty = L.r1_penalty(out, x)
    expected = (4 * 0.25 * x.detach().square()).sum(1).mean()
    assert penalty.item() == pytest.approx(expected.item())
    penalty.backward()
    assert a.grad.item() == pytest.approx((8 * 0.5 * x.detach().square()).sum(1).mean().item())


def test_r1_grad_scale_rescues_fp16_gradients_that_would_underflow():
    # d/dx sum((1e-4 x)^2) = 2e-8 x: below fp16's smallest subnormal (6e-8) unless scaled up first.
    x = torch.full((2, 3), 0.5, requires_grad=True)
    out = (x.half() * 1e-4).square().sum(1)
    expected = 3 * (2e-8 * 0.5) ** 2
    assert L.r1_penalty(out, x, grad_scale=1.0).item() == 0.0
    scaled = L.r1_penalty(out, x, grad_scale=2.0**12)
    assert scaled.dtype == torch.float32
    assert scaled.item() == pytest.approx(expected, rel=0.05)


def _ramps(size=64):
    """Image whose channel 0 is the x coordinate and channel 1 the y coordinate, both 0..1 across the image."""
    ramp = (torch.arange(size) + 0.5) / size
    return torch.stack([ramp.expand(size, size), ramp[:, None].expand(size, size), torch.zeros(size, size)])[None]


def test_random_crops_cover_an_eighth_to_a_quarter_of_the_side_inside_the_image():
    image = _ramps().repeat(2, 1, 1, 1)
    patches = L.random_crops(image, patch_size=16, num_crops=50, generator=torch.Generator().manual_seed(0))
    assert patches.shape == (2, 50, 3, 16, 16)
    xs, ys = patches[:, :, 0], patches[:, :, 1]
    # Sample centres of a crop of side f span f * (1 - 1/P) of the ramp.
    span_y = ys[..., -1, 0] - ys[..., 0, 0]
    span_x = (xs[..., 0, -1] - xs[..., 0, 0]).abs()
    for span in (span_x, span_y):
        assert span.min() >= 1 / 8 * (1 - 1 / 16) - 1e-4
        assert span.max() <= 1 / 4 + 1e-4
    assert span_y.max() - span_y.min() > 0.05  # sizes vary
    assert xs.min() >= 0 and xs.max() <= 1 and ys.min() >= 0 and ys.max() <= 1
    # Square crops: the same span in x and y.
    assert torch.allclose(span_x, span_y, atol=1 / 64)  # up to a pixel lost to clamping at the border


def test_random_crops_flip_half_of_the_time_and_only_when_asked():
    image = _ramps()
    gen = torch.Generator().manual_seed(1)
    increasing = (L.random_crops(image, 16, 200, generator=gen)[0, :, 0, 0, -1]
                  > L.random_crops(image, 16, 200, generator=torch.Generator().manual_seed(1))[0, :, 0, 0, 0])
    assert 0.35 < increasing.float().mean().item() < 0.65
    unflipped = L.random_crops(image, 16, 200, flip=False, generator=gen)[0, :, 0]
    assert (unflipped[:, 0, -1] > unflipped[:, 0, 0]).all()


def test_random_crops_are_seedable_and_differentiable():
    image = torch.randn(2, 3, 32, 32, requires_grad=True)
    a = L.random_crops(image, 16, generator=torch.Generator().manual_seed(3))
    b = L.random_crops(image, 16, generator=torch.Generator().manual_seed(3))
    c = L.random_crops(image, 16, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    a.sum().backward()
    assert image.grad.abs().sum() > 0


def test_code_consistency_is_l1_of_codes_plus_weighted_style_term_with_detached_targets():
    c = torch.zeros(2, 4, 2, 2, requires_grad=True)
    s = torch.zeros(2, 8, requires_grad=True)
    cg = (c + 0.1).detach().requires_grad_(True)
    sg = (s + 0.2).detach().requires_grad_(True)
    loss = L.code_consistency_loss(cg, sg, c, s, style_weight=2.0)
    assert loss.item() == pytest.approx(0.1 + 2.0 * 0.2)
    loss.backward()
    assert c.grad is None and s.grad is None
    assert cg.grad is not None and sg.grad is not None


def test_alignment_band_is_a_32nd_of_the_side_and_at_least_one_pixel():
    assert L.alignment_band(256) == 8
    assert L.alignment_band(64) == 2
    assert L.alignment_band(16) == 1


def _square_mask(size=16, lo=4, hi=12):
    mask = torch.zeros(1, 1, size, size)
    mask[..., lo:hi, lo:hi] = 1.0
    return mask


def test_shrink_regions_erodes_both_sides_of_the_edge_by_the_band():
    outside, inside = L.shrink_regions(_square_mask(), band=2)
    expected_inside = torch.zeros(16, 16)
    expected_inside[6:10, 6:10] = 1
    expected_outside = torch.ones(16, 16)
    expected_outside[2:14, 2:14] = 0
    assert torch.equal(inside[0, 0], expected_inside)
    assert torch.equal(outside[0, 0], expected_outside)  # the image border itself does not erode
    assert (outside * inside).sum() == 0


def test_shrink_regions_binarises_soft_masks_at_one_half():
    soft = _square_mask() * 0.7 + 0.2  # 0.9 inside, 0.2 outside
    outside, inside = L.shrink_regions(soft, band=0)
    assert torch.equal(inside, _square_mask())
    assert torch.equal(outside, 1 - _square_mask())


def test_content_alignment_is_zero_when_y_matches_its_targets_even_with_a_wrong_seam():
    torch.manual_seed(0)
    mask = _square_mask()
    target_out, target_in = torch.randn(2, 1, 3, 16, 16).unbind(0)
    y = mask * target_in + (1 - mask) * target_out
    outside, inside = L.shrink_regions(mask, band=2)
    assert L.content_alignment_loss(y, target_out, target_in, outside, inside).item() == pytest.approx(0.0)
    seam = y.clone()
    seam[..., 3:5, 3:13] += 5.0  # inside the band around the edge: ignored
    assert L.content_alignment_loss(seam, target_out, target_in, outside, inside).item() == pytest.approx(0.0)


def test_content_alignment_counts_errors_away_from_the_edge_and_only_trains_y():
    mask = _square_mask()
    target_out = torch.zeros(1, 3, 16, 16, requires_grad=True)
    target_in = torch.zeros(1, 3, 16, 16, requires_grad=True)
    y = torch.zeros(1, 3, 16, 16)
    y[..., 0, :] = 1.0  # top row (outside, 16 px x 3 channels)
    y[..., 7, 7] = 2.0  # one pixel well inside (x 3 channels)
    y.requires_grad_(True)
    outside, inside = L.shrink_regions(mask, band=2)
    loss = L.content_alignment_loss(y, target_out, target_in, outside, inside)
    assert loss.item() == pytest.approx((16 * 3 * 1.0 + 3 * 2.0) / (3 * 16 * 16))
    loss.backward()
    assert target_out.grad is None and target_in.grad is None and y.grad.abs().sum() > 0
