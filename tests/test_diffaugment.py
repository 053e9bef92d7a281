"""DiffAugment: colour, translation and cutout of discriminator inputs."""

import dataclasses

import pytest
import torch

from tcp_hub.errors import InputError
from tcp_hub.training.diffaugment import (VALID_POLICIES, AugmentParams, check_policy, diff_augment,
                                          diff_augment_patches, draw_params)


def _images(b=4, h=16, w=16, seed=0):
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_empty_policy_returns_the_input_unchanged():
    x = _images()
    assert diff_augment(x, "") is x
    q, r = torch.rand(2, 3, 3, 8, 8), torch.rand(2, 5, 3, 8, 8)
    assert diff_augment_patches(q, r, "") == (q, r)


def test_same_seed_gives_the_same_output_and_another_seed_a_different_one():
    x = _images()
    a = diff_augment(x, generator=_gen(1))
    assert torch.equal(a, diff_augment(x, generator=_gen(1)))
    assert not torch.allclose(a, diff_augment(x, generator=_gen(2)))


def test_brightness_shifts_every_value_of_an_image_by_its_drawn_offset():
    x = _images()
    p = draw_params(4, "color", _gen(3), "cpu")
    p = dataclasses.replace(p, saturation=torch.ones(4), contrast=torch.ones(4))
    shift = diff_augment(x, "color", params=p) - x
    torch.testing.assert_close(shift, p.brightness.view(4, 1, 1, 1).expand_as(x))
    assert ((p.brightness >= -0.5) & (p.brightness < 0.5)).all() and p.brightness.std() > 0


def test_saturation_scales_each_pixels_deviation_from_its_grey_value():
    x = _images()
    p = AugmentParams(brightness=torch.zeros(4), saturation=torch.tensor([0.0, 0.5, 1.0, 2.0]),
                      contrast=torch.ones(4))
    y = diff_augment(x, "color", params=p)
    grey = x.mean(1, keepdim=True)
    torch.testing.assert_close(y, grey + (x - grey) * p.saturation.view(4, 1, 1, 1))
    assert torch.allclose(y[0], grey[0].expand(3, -1, -1))  # saturation 0: grey image


def test_contrast_scales_deviation_from_the_image_mean_and_keeps_that_mean():
    x = _images()
    p = AugmentParams(brightness=torch.zeros(4), saturation=torch.ones(4), contrast=torch.tensor([0.5, 1.0, 1.2, 1.5]))
    y = diff_augment(x, "color", params=p)
    mean = x.mean((1, 2, 3), keepdim=True)
    torch.testing.assert_close(y, mean + (x - mean) * p.contrast.view(4, 1, 1, 1))
    torch.testing.assert_close(y.mean((1, 2, 3)), x.mean((1, 2, 3)))


def test_translation_moves_content_by_whole_pixels_and_fills_zeros():
    x = _images(b=2, h=16, w=24)
    # image 0: 2 rows down, 3 columns left; image 1: 1 row up, no column shift
    p = AugmentParams(translation=torch.tensor([[2 / 16, -3 / 24], [-1 / 16, 0.0]]))
    y = diff_augment(x, "translation", params=p)
    torch.testing.assert_close(y[0, :, 2:, :-3], x[0, :, :-2, 3:])
    assert (y[0, :, :2] == 0).all() and (y[0, :, :, -3:] == 0).all()
    torch.testing.assert_close(y[1, :, :-1], x[1, :, 1:])
    assert (y[1, :, -1] == 0).all()


def test_random_translation_stays_within_an_eighth_of_each_side():
    p = draw_params(1000, "translation", _gen(4), "cpu")
    pixels = (p.translation * torch.tensor([32.0, 64.0])).round()
    assert pixels[:, 0].abs().max() == 4 and pixels[:, 1].abs().max() == 8
    assert len(pixels[:, 0].unique()) == 9  # every shift in [-4, 4] occurs


def test_cutout_zeros_a_square_of_half_the_side():
    ones = torch.ones(1, 3, 32, 32)
    y = diff_augment(ones, "cutout", params=AugmentParams(cutout=torch.tensor([[0.5, 0.5]])))
    assert (y == 0).sum() == 3 * 16 * 16
    assert (y[0, :, 8:24, 8:24] == 0).all()


def test_random_cutout_zeros_the_part_of_the_square_inside_the_image():
    ones = torch.ones(64, 1, 32, 32)
    p = draw_params(64, "cutout", _gen(5), "cpu")
    zeros = (diff_augment(ones, "cutout", params=p) == 0).sum((1, 2, 3))
    start = (p.cutout * 32).round() - 8  # [64, 2] top-left of the 16 x 16 square
    side = (start + 16).clamp(max=32) - start.clamp(min=0)
    torch.testing.assert_close(zeros, side.prod(1).long())
    assert (zeros == 256).any() and (zeros < 256).any()


@pytest.mark.parametrize("policy", ["translation", "cutout", "translation,cutout"])
def test_gradient_of_the_sum_is_the_mask_of_kept_pixels(policy):
    x = _images(b=3).requires_grad_()
    p = draw_params(3, policy, _gen(6), "cpu")
    diff_augment(x, policy, params=p).sum().backward()
    kept = (diff_augment(torch.ones_like(x), policy, params=p) != 0).sum()
    assert set(x.grad.unique().tolist()) <= {0.0, 1.0}
    assert x.grad.sum() == kept  # each kept input value reaches exactly one output value


def test_gradient_flows_through_colour():
    x = _images().requires_grad_()
    diff_augment(x, generator=_gen(7)).square().sum().backward()
    assert x.grad.abs().sum() > 0


def test_patches_share_image_colour_between_query_and_reference():
    # constant-colour crops: image b's colour map gives every crop of the same colour the same output
    colours = torch.tensor([[0.2, -0.4, 0.6], [-0.3, 0.1, 0.5]]).view(2, 1, 3, 1, 1)
    query, reference = colours.expand(2, 4, 3, 8, 8), colours.expand(2, 6, 3, 8, 8)
    q, r = diff_augment_patches(query, reference, generator=_gen(8))
    assert q.shape == query.shape and r.shape == reference.shape
    for b in range(2):
        out = torch.cat([q[b], r[b]])
        assert torch.allclose(out, out[:1].expand_as(out))
    assert not torch.allclose(q[0], q[1])
    assert not torch.allclose(q[0], query[0])


def test_patch_translation_is_drawn_per_crop():
    crops = _images(b=8, h=16, w=16).view(1, 8, 3, 16, 16)
    q, r = diff_augment_patches(crops[:, :4], crops[:, 4:], "translation", _gen(9))
    moved = torch.cat([q, r], 1)[0]
    kept = (moved != 0).flatten(1).sum(1)
    assert len(kept.unique()) > 1


def test_check_policy_normalises_and_rejects_unknown_names():
    assert check_policy(" Color, cutout ,color") == "color,cutout"
    assert check_policy("") == ""
    with pytest.raises(InputError, match="translation") as info:
        check_policy("color,translate")
    assert "'translate'" in str(info.value) and all(n in str(info.value) for n in VALID_POLICIES)
    with pytest.raises(InputError):
        diff_augment(_images(), "flip")


def test_bfloat16_stays_bfloat16():
    x = _images().bfloat16()
    y = diff_augment(x, generator=_gen(10))
    assert y.dtype == torch.bfloat16
    q, r = diff_augment_patches(x.view(2, 2, 3, 16, 16), x.view(2, 2, 3, 16, 16), "color,translation", _gen(10))
    assert q.dtype == r.dtype == torch.bfloat16


def test_channels_last_input_gives_the_same_values_in_channels_last():
    x = _images()
    y = diff_augment(x, generator=_gen(11))
    y_cl = diff_augment(x.contiguous(memory_format=torch.channels_last), generator=_gen(11))
    assert y_cl.is_contiguous(memory_format=torch.channels_last) and y.is_contiguous()
    torch.testing.assert_close(y_cl, y)
