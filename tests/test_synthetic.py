"""Synthetic scenes: deterministic, content and style independent, exact swap and region-edit answers."""

import dataclasses
import time

import numpy as np
import pytest
import torch

from tcp_hub.data.synthetic import (NUM_PARTS, PART_NAMES, Content, Shape, Style, SyntheticScenes, Texture,
                                    part_map, render, render_region_edit, sample_content, sample_style)


def _flat(style: Style) -> Style:
    """The same colours with no texture and no lighting: every part is one flat colour."""
    textures = tuple(dataclasses.replace(t, kind="flat") for t in style.textures)
    return dataclasses.replace(style, textures=textures, light_strength=0.0)


def _to_unit(image: torch.Tensor) -> torch.Tensor:
    return (image + 1) / 2


@pytest.fixture
def scenes():
    return SyntheticScenes(resolution=32, length=50, seed=3)


def test_items_are_float32_images_in_range(scenes):
    for i in range(10):
        image = scenes[i]
        assert image.shape == (3, 32, 32) and image.dtype == torch.float32
        assert image.min() >= -1.0 and image.max() <= 1.0
        assert image.std() > 0.05  # not a blank canvas


def test_same_seed_and_index_give_identical_images():
    a = SyntheticScenes(resolution=32, seed=5)
    b = SyntheticScenes(resolution=32, seed=5)
    assert torch.equal(a[7], b[7])
    assert a.factors(7) == b.factors(7)


def test_different_index_seed_or_split_give_different_images():
    base = SyntheticScenes(resolution=32, seed=5)
    assert not torch.equal(base[7], base[8])
    assert not torch.equal(base[7], SyntheticScenes(resolution=32, seed=6)[7])
    assert not torch.equal(base[7], SyntheticScenes(resolution=32, seed=5, train=False)[7])


def test_index_out_of_range_raises_index_error(scenes):
    with pytest.raises(IndexError):
        scenes[50]
    assert torch.equal(scenes[-1], scenes[49])


def test_scenes_have_two_to_five_shapes_and_several_parts():
    rng = np.random.default_rng(0)
    counts = [len(sample_content(rng).shapes) for _ in range(200)]
    assert min(counts) == 2 and max(counts) == 5
    labels_seen = [len(part_map(sample_content(rng), 32).unique()) for _ in range(50)]
    assert np.mean(labels_seen) >= 3


def test_each_part_is_painted_in_its_style_colour():
    rng = np.random.default_rng(1)
    content, style = sample_content(rng), _flat(sample_style(rng))
    labels = part_map(content, 48)
    image = _to_unit(render(content, style, 48, antialias=False))
    expected = torch.tensor(style.colors, dtype=torch.float32)[labels].permute(2, 0, 1)
    assert torch.allclose(image, expected, atol=1e-6)


def test_swap_keeps_content_layout_and_takes_the_other_style_palette():
    """Every pixel of render(content_a, style_b) is style_b's colour of content_a's part there,
    scaled by one brightness factor (texture and lighting) shared by the three channels."""
    rng = np.random.default_rng(2)
    content_a, style_b = sample_content(rng), sample_style(rng)
    image = _to_unit(render(content_a, style_b, 48, antialias=False)).permute(1, 2, 0)  # [R, R, 3]
    colour = torch.tensor(style_b.colors, dtype=torch.float32)[part_map(content_a, 48)]
    unclipped = (image > 0) & (image < 1)
    brightness = (image * colour).sum(-1) / (colour * colour).sum(-1)
    residual = (image - brightness[..., None] * colour)[unclipped.all(-1)]
    assert residual.abs().max() < 1e-4
    assert brightness.min() > 1 - 0.45 - 0.35 - 1e-4 and brightness.max() < 1 + 0.45 + 0.35 + 1e-4


def test_same_style_gives_the_same_colour_wherever_part_maps_agree():
    rng = np.random.default_rng(3)
    content_1, content_2, style = sample_content(rng), sample_content(rng), sample_style(rng)
    image_1 = render(content_1, style, 48, antialias=False)
    image_2 = render(content_2, style, 48, antialias=False)
    agree = part_map(content_1, 48) == part_map(content_2, 48)
    assert 0 < agree.float().mean() < 1
    assert torch.equal(image_1[:, agree], image_2[:, agree])
    assert not torch.equal(image_1[:, ~agree], image_2[:, ~agree])


def test_changing_the_style_changes_colours_but_not_the_part_boundaries():
    rng = np.random.default_rng(4)
    content, style_1, style_2 = sample_content(rng), _flat(sample_style(rng)), _flat(sample_style(rng))
    labels = part_map(content, 48)
    for style in (style_1, style_2):
        image = render(content, style, 48, antialias=False)
        # flat styles: pixels of one colour are exactly the pixels of one part
        for part in labels.unique():
            inside = labels == part
            colour = image[:, inside][:, 0].view(3, 1, 1)
            assert torch.equal(((image == colour).all(0)), inside)
    assert not torch.equal(render(content, style_1, 48), render(content, style_2, 48))


def test_region_edit_equals_the_swap_inside_the_mask_and_the_original_outside():
    scenes = SyntheticScenes(resolution=32, seed=0)
    (content_a, style_a), (_, style_b) = scenes.factors(0), scenes.factors(1)
    mask = torch.zeros(32, 32)
    mask[8:20, 4:30] = 1.0
    edit = render_region_edit(content_a, style_a, style_b, mask)
    swap, original = scenes.swap(0, 1), scenes[0]
    assert torch.equal(edit[:, mask == 1], swap[:, mask == 1])
    assert torch.equal(edit[:, mask == 0], original[:, mask == 0])
    assert not torch.equal(swap, original)


def test_soft_region_edit_blends_linearly():
    rng = np.random.default_rng(5)
    content, style_out, style_in = sample_content(rng), sample_style(rng), sample_style(rng)
    half = torch.full((1, 16, 16), 0.5)
    edit = render_region_edit(content, style_out, style_in, half)
    expected = 0.5 * render(content, style_in, 16) + 0.5 * render(content, style_out, 16)
    assert torch.allclose(edit, expected, atol=1e-6)


def test_swap_is_render_of_content_i_with_style_j():
    scenes = SyntheticScenes(resolution=16, seed=1)
    assert torch.equal(scenes.swap(2, 9), render(scenes.factors(2)[0], scenes.factors(9)[1], 16))
    assert torch.equal(scenes.swap(4, 4), scenes[4])
    assert torch.equal(scenes.parts(2), part_map(scenes.factors(2)[0], 16))


def test_antialiasing_blends_colours_only_at_part_edges():
    rng = np.random.default_rng(6)
    content, style = sample_content(rng), _flat(sample_style(rng))
    sharp = render(content, style, 32, antialias=False)
    smooth = render(content, style, 32)
    labels = part_map(content, 32)
    padded = torch.nn.functional.pad(labels[None, None].float(), (1, 1, 1, 1), mode="replicate")[0, 0]
    neighbours = torch.stack([padded[1 + dy:33 + dy, 1 + dx:33 + dx]
                              for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    interior = (neighbours == labels.float()).all(0)
    assert torch.allclose(smooth[:, interior], sharp[:, interior], atol=1e-6)
    assert not torch.allclose(smooth[:, ~interior], sharp[:, ~interior], atol=1e-3)


def test_known_layout_gives_the_expected_part_map():
    content = Content(horizon=0.5, tilt=0.0,
                      shapes=(Shape("rectangle", center=(0.25, 0.25), half_size=(0.125, 0.125), angle=0.0),
                              Shape("ellipse", center=(0.75, 0.75), half_size=(0.2, 0.1), angle=0.0)))
    labels = part_map(content, 16)
    assert labels[0, 15] == PART_NAMES.index("sky") and labels[15, 0] == PART_NAMES.index("ground")
    assert (labels[2:6, 2:6] == PART_NAMES.index("rectangle")).all()
    assert (labels[1, :] != PART_NAMES.index("rectangle")).all()
    assert labels[12, 12] == PART_NAMES.index("ellipse") and labels[12, 8] != PART_NAMES.index("ellipse")


def test_later_shapes_are_drawn_in_front():
    back = Shape("rectangle", center=(0.5, 0.5), half_size=(0.3, 0.3), angle=0.0)
    front = Shape("triangle", center=(0.5, 0.5), half_size=(0.2, 0.2), angle=0.0)
    assert part_map(Content(0.5, 0.0, (back, front)), 16)[9, 8] == PART_NAMES.index("triangle")
    assert part_map(Content(0.5, 0.0, (front, back)), 16)[9, 8] == PART_NAMES.index("rectangle")


def test_style_with_wrong_number_of_parts_is_refused():
    style = sample_style(np.random.default_rng(0))
    broken = dataclasses.replace(style, colors=style.colors[:2])
    with pytest.raises(ValueError, match=str(NUM_PARTS)):
        render(sample_content(np.random.default_rng(0)), broken, 16)


def test_textures_vary_brightness_inside_a_part():
    content = Content(horizon=1.5, tilt=0.0, shapes=())  # all sky
    style = _flat(sample_style(np.random.default_rng(0)))
    for kind in ("stripes", "checks", "noise"):
        texture = Texture(kind, frequency=6.0, angle=0.3, contrast=0.3, phases=(0.1, 0.2, 0.3))
        textured = dataclasses.replace(style, textures=(texture,) * NUM_PARTS)
        image = _to_unit(render(content, textured, 32))
        brightness = image.mean(0) / torch.tensor(style.colors[0]).mean()
        assert brightness.max() - brightness.min() > 0.3, kind
    flat_image = render(content, style, 32)
    assert flat_image.std(dim=(1, 2)).max() < 1e-6


def test_rendering_is_fast_at_64_and_128_pixels():
    for resolution in (64, 128):
        scenes = SyntheticScenes(resolution=resolution, seed=0)
        scenes[0]
        start = time.process_time()  # CPU time: other jobs on the machine do not count
        for i in range(10):
            scenes[i]
        assert (time.process_time() - start) / 10 < 0.03, resolution
