"""The four networks: sizes, the region-wise modulation math, locality, determinism, save/load."""

import copy
import os

import pytest
import torch
import torch.nn.functional as F

from tcp_hub import TCPEncoder, TCPGenerator, build_models
from tcp_hub.models import EncoderOutput
from tcp_hub.models.modulation import ModulatedConv2d, RegionStyles


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_full_preset_matches_official_swapping_autoencoder_sizes():
    encoder, generator, disc, patch_disc = build_models("full", 256)
    for model, official in [(encoder, 30.6e6), (generator, 25.1e6), (disc, 28.9e6), (patch_disc, 24.5e6)]:
        assert abs(n_params(model) - official) / official < 0.05, (type(model).__name__, n_params(model))


def test_full_preset_code_shapes_at_256px():
    encoder = build_models("full", 256)[0]
    with torch.no_grad():
        codes = encoder(torch.randn(1, 3, 256, 256))
    assert codes.content.shape == (1, 8, 16, 16)
    assert codes.style.shape == (1, 2048)


def test_small_preset_fits_in_20mb_as_fp16_safetensors(tmp_path):
    encoder, generator, _, _ = build_models("small")
    total = 0
    for name, model in [("encoder", encoder), ("generator", generator)]:
        model.to(torch.float16).save_pretrained(tmp_path / name)
        total += sum(f.stat().st_size for f in (tmp_path / name).glob("*.safetensors"))
    assert 1e6 < total < 20e6


def test_codes_are_l2_normalised_and_spatial(tiny_models):
    encoder, _ = tiny_models
    with torch.no_grad():
        codes = encoder(torch.randn(2, 3, 48, 80))
    assert codes.content.shape == (2, 4, 3, 5)
    torch.testing.assert_close(codes.content.norm(dim=1), torch.ones(2, 3, 5))
    torch.testing.assert_close(codes.style.norm(dim=1), torch.ones(2))


def test_encoder_returns_named_codes_or_with_return_dict_false_the_tuple(tiny_models):
    encoder, _ = tiny_models
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        codes = encoder(image)
        content, style = encoder(image, return_dict=False)
    assert isinstance(codes, EncoderOutput)
    assert torch.equal(codes.content, content) and torch.equal(codes.style, style)


def fused_modulated_conv(conv: ModulatedConv2d, x, style):
    """Reference: StyleGAN2's fused form, a grouped conv with per-image modulated weights."""
    b, cin, h, w = x.shape
    s = conv.modulation(style)
    weight = conv.weight[None] * conv.scale * s[:, None, :, None, None]
    if conv.demodulate:
        weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4)) + 1e-8)[:, :, None, None, None]
    cout, k = weight.shape[1], weight.shape[-1]
    if conv.upsample:
        weight = weight.transpose(1, 2).reshape(b * cin, cout, k, k)
        y = F.conv_transpose2d(x.reshape(1, b * cin, h, w), weight, stride=2, groups=b)
        return conv.blur(y.view(b, cout, *y.shape[-2:]))
    y = F.conv2d(x.reshape(1, b * cin, h, w), weight.reshape(b * cout, cin, k, k), padding=k // 2, groups=b)
    return y.view(b, cout, h, w)


@pytest.mark.parametrize("upsample", [False, True])
@pytest.mark.parametrize("demodulate", [True, False])
def test_blended_modulation_equals_fused_modulated_conv(upsample, demodulate):
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 5, 3, style_dim=7, demodulate=demodulate, upsample=upsample)
    x, style = torch.randn(3, 6, 8, 8), torch.randn(3, 7)
    expected = fused_modulated_conv(conv, x, style)
    without_masks = conv(x, RegionStyles(style[:, None]))
    constant_mask = conv(x, RegionStyles(style[:, None], torch.ones(3, 1, 32, 32)))
    torch.testing.assert_close(without_masks, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(constant_mask, expected, rtol=1e-5, atol=1e-5)


def _two_styles(encoder, size=64):
    torch.manual_seed(1)
    with torch.no_grad():
        codes = encoder(torch.rand(1, 3, size, size) * 2 - 1)
        content, style_a = codes.content, codes.style
        style_b = encoder(torch.rand(1, 3, size, size) * 2 - 1).style
    return content, style_a, style_b


def _render(generator, content, style, masks=None, seed=0):
    with torch.no_grad():
        return generator(content, style, masks, generator=torch.Generator().manual_seed(seed))


def test_all_zero_region_mask_gives_exactly_the_unedited_output(tiny_models):
    encoder, generator = tiny_models
    content, style_a, style_b = _two_styles(encoder)
    unedited = _render(generator, content, style_a)
    zero = torch.zeros(1, 1, 64, 64)
    edited = _render(generator, content, torch.stack([style_a, style_b], 1), torch.cat([1 - zero, zero], 1))
    torch.testing.assert_close(edited, unedited, rtol=1e-5, atol=1e-6)


def test_all_one_region_mask_gives_exactly_the_global_swap(tiny_models):
    encoder, generator = tiny_models
    content, style_a, style_b = _two_styles(encoder)
    swap = _render(generator, content, style_b)
    one = torch.ones(1, 1, 64, 64)
    edited = _render(generator, content, torch.stack([style_a, style_b], 1), torch.cat([1 - one, one], 1))
    torch.testing.assert_close(edited, swap, rtol=1e-5, atol=1e-6)


def test_small_corner_mask_leaves_pixels_beyond_the_receptive_field_unchanged(tiny_models):
    encoder, generator = tiny_models
    content, style_a, style_b = _two_styles(encoder, size=256)
    mask = torch.zeros(1, 1, 256, 256)
    mask[..., :16, :16] = 1
    unedited = _render(generator, content, style_a)
    edited = _render(generator, content, torch.stack([style_a, style_b], 1), torch.cat([1 - mask, mask], 1))
    diff = (edited - unedited).abs().amax(dim=1)[0]
    assert diff[:16, :16].mean() > 1e-3  # the painted corner did change
    # Receptive field of one 16x16 code cell: the head blocks' four 3x3 convs reach 4 cells, the
    # up-sampling blocks a few pixels more; 7 cells (112 px) is a safe bound.
    far = torch.ones_like(diff, dtype=torch.bool)
    far[:112, :112] = False
    assert diff[far].max() < 1e-5


def test_seeded_noise_repeats_and_different_seeds_differ(tiny_models):
    encoder, generator = tiny_models
    content, style_a, _ = _two_styles(encoder)
    a = _render(generator, content, style_a, seed=3)
    b = _render(generator, content, style_a, seed=3)
    c = _render(generator, content, style_a, seed=4)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-3


def test_noise_can_be_switched_off(tiny_models):
    encoder, generator = tiny_models
    content, style_a, _ = _two_styles(encoder)
    with torch.no_grad():
        a = generator(content, style_a, noise_mode="none")
        b = generator(content, style_a, noise_mode="none")
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="noise_mode"):
        generator(content, style_a, noise_mode="sometimes")


def test_noise_drawn_up_front_gives_the_seeded_output_and_wrong_maps_are_explained(tiny_models):
    encoder, generator = tiny_models
    content, style_a, _ = _two_styles(encoder)
    with torch.no_grad():
        drawn = generator(content, style_a, generator=torch.Generator().manual_seed(5))
        maps = generator.noise_maps(content, generator=torch.Generator().manual_seed(5))
        torch.testing.assert_close(generator(content, style_a, noise=maps), drawn, rtol=0, atol=0)
        with pytest.raises(ValueError, match=r"noise map 0 is \(1, 1, 4, 4\) but this content code needs"):
            generator(content.repeat(1, 1, 2, 2), style_a, noise=maps)
        with pytest.raises(ValueError, match="noise map 0"):  # drawn for one image, used for two
            generator(content.repeat(2, 1, 1, 1), style_a.repeat(2, 1), noise=maps)
        with pytest.raises(ValueError, match="noise must hold"):
            generator(content, style_a, noise=maps[:-1])


def test_generator_explains_missing_masks_for_several_styles(tiny_models):
    encoder, generator = tiny_models
    content, style_a, style_b = _two_styles(encoder)
    with pytest.raises(ValueError, match="need masks"):
        generator(content, torch.stack([style_a, style_b], 1))


def test_discriminator_on_concatenated_batches_equals_one_call_per_batch():
    torch.manual_seed(0)
    discriminator = build_models("tiny", 32)[2]
    reals, fakes = torch.randn(4, 3, 32, 32), torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        separate = torch.cat([discriminator(reals), discriminator(fakes)])
        together = discriminator(torch.cat([reals, fakes]), batch_sizes=(4, 8))
        mixed_stddev = discriminator(torch.cat([reals, fakes]))  # groups then span reals and fakes
    torch.testing.assert_close(together, separate, atol=1e-5, rtol=1e-5)
    assert (mixed_stddev - separate).abs().max() > 1e-4
    with pytest.raises(ValueError, match=r"batch_sizes \[4, 4\] add up to 8, but 12 images were given"):
        discriminator(torch.cat([reals, fakes]), batch_sizes=(4, 4))


def test_models_round_trip_through_sharded_safetensors_and_fp16_variant(tmp_path, tiny_models):
    encoder, generator = tiny_models
    generator.save_pretrained(tmp_path / "g", max_shard_size="20KB")
    assert len(list((tmp_path / "g").glob("*.safetensors"))) > 1
    loaded = TCPGenerator.from_pretrained(tmp_path / "g")
    for (n1, p1), (n2, p2) in zip(generator.state_dict().items(), loaded.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2)
    encoder.save_pretrained(tmp_path / "e")
    copy.deepcopy(encoder).to(torch.float16).save_pretrained(tmp_path / "e", variant="fp16")
    assert (tmp_path / "e" / "diffusion_pytorch_model.fp16.safetensors").is_file()
    assert not any(f.endswith(".bin") for f in os.listdir(tmp_path / "e"))
    half = TCPEncoder.from_pretrained(tmp_path / "e", variant="fp16", dtype=torch.float16)
    assert half.dtype == torch.float16
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(half.float()(x).style, encoder(x).style, rtol=0, atol=5e-3)


@pytest.mark.parametrize("stride, channels", [(16, None), (8, None), (8, 16)])
def test_content_stride_and_channels_set_the_content_codes_shape(stride, channels):
    encoder, generator, _, _ = build_models("small", 64, content_stride=stride, content_channels=channels)
    codes = encoder(torch.randn(1, 3, 64, 64))
    content, style = codes.content, codes.style
    assert content.shape == (1, channels or 8, 64 // stride, 64 // stride)
    assert encoder.downsample_factor == generator.upsample_factor == stride
    assert generator(content, style).shape == (1, 3, 64, 64)


@pytest.mark.parametrize("width", [1.5, 0.5])
def test_width_scales_the_encoder_and_generator_but_not_the_codes(width):
    base_e, base_g, base_d, _ = build_models("small", 64, content_stride=8, content_channels=16)
    encoder, generator, discriminator, _ = build_models("small", 64, content_stride=8, content_channels=16,
                                                        width=width)
    assert encoder.config.block_out_channels == tuple(int(c * width) for c in base_e.config.block_out_channels)
    assert generator.config.head_channels == tuple(int(c * width) for c in base_g.config.head_channels)
    assert encoder.config.stem_channels == {1.5: 16, 0.5: 8}[width]  # 8 x width to a multiple of 8, at least 8
    params = [sum(p.numel() for m in pair for p in m.parameters()) for pair in ((base_e, base_g), (encoder, generator))]
    # convolutions grow as width^2, the layers fed by the (unchanged) style vector as width
    assert min(width, width ** 2) < params[1] / params[0] < max(width, width ** 2)
    codes = encoder(torch.randn(1, 3, 64, 64))
    assert codes.content.shape == (1, 16, 8, 8) and codes.style.shape == (1, 512)
    assert generator(codes.content, codes.style).shape == (1, 3, 64, 64)
    assert sum(p.numel() for p in discriminator.parameters()) == sum(p.numel() for p in base_d.parameters())


def test_width_1_is_the_preset_exactly_and_a_width_below_0_is_refused():
    assert build_models("small", 64, width=1.0)[0].config == build_models("small", 64)[0].config
    for width in (0, -1, float("nan"), float("inf"), 100):
        with pytest.raises(ValueError, match="width must be a number in"):
            build_models("small", width=width)


def test_content_stride_other_than_8_or_16_is_refused():
    with pytest.raises(ValueError, match="content_stride must be 8 or 16"):
        build_models("small", content_stride=4)


@pytest.mark.parametrize("size", [(64, 64), (80, 112), (256, 256)])
def test_all_ones_style_mask_gives_exactly_the_unmasked_codes(tiny_models, size):
    encoder, _ = tiny_models
    image = torch.rand(2, 3, *size) * 2 - 1
    with torch.no_grad():
        whole = encoder(image)
        masked = encoder(image, style_mask=torch.ones(1, 1, *size))
    torch.testing.assert_close(masked.style, whole.style, atol=1e-6, rtol=0)
    assert torch.equal(masked.content, whole.content)


def test_style_mask_pools_the_style_features_over_the_painted_part_only(tiny_models):
    encoder, _ = tiny_models
    image = torch.rand(1, 3, 128, 128) * 2 - 1
    mask = torch.zeros(1, 1, 128, 128)
    mask[..., :64] = 1  # the left column of the style head's 2x2 feature map
    with torch.no_grad():
        features = encoder.style_convs(encoder.trunk(encoder.from_rgb(image)))
        assert features.shape[-2:] == (2, 2)
        expected = F.normalize(encoder.style_linear(features[..., :1].mean(dim=(2, 3))), dim=1)
        whole = encoder(image).style
        masked = encoder(image, style_mask=mask).style
    torch.testing.assert_close(masked, expected, atol=1e-6, rtol=0)
    assert (masked - whole).abs().max() > 1e-3


def test_style_mask_weights_soft_pixels_in_proportion(tiny_models):
    encoder, _ = tiny_models
    image = torch.rand(1, 3, 128, 128) * 2 - 1
    half, quarter = torch.zeros(1, 1, 128, 128), torch.zeros(1, 1, 128, 128)
    half[..., :64], quarter[..., :64] = 1.0, 0.25  # weights are sum-normalised: the scale does not matter
    with torch.no_grad():
        torch.testing.assert_close(encoder(image, style_mask=quarter).style, encoder(image, style_mask=half).style,
                                   atol=1e-6, rtol=0)


def test_empty_style_mask_falls_back_to_the_whole_image_with_a_warning(tiny_models):
    encoder, _ = tiny_models
    image = torch.rand(2, 3, 128, 128) * 2 - 1
    mask = torch.zeros(2, 1, 128, 128)
    mask[0, :, :, :64] = 1  # the second image's mask is empty
    with torch.no_grad():
        whole = encoder(image).style
        with pytest.warns(UserWarning, match="whole image"):
            masked = encoder(image, style_mask=mask).style
    torch.testing.assert_close(masked[1], whole[1], atol=1e-6, rtol=0)
    assert (masked[0] - whole[0]).abs().max() > 1e-3


def test_encoder_output_rebuilt_from_a_dict_keeps_both_codes():
    # How accelerate's mixed-precision wrapper rebuilds outputs: type(output)(dict(output)).
    content, style = torch.randn(1, 8, 2, 2), torch.randn(1, 16)
    rebuilt = EncoderOutput(dict(EncoderOutput(content=content, style=style)))
    assert rebuilt.content is content and rebuilt.style is style
