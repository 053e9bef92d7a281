"""tcp_hub.photo_edit and the pipeline's ``texture``: an edit applied to the photo as a smooth change."""

import numpy as np
import pytest
import torch

from tcp_hub.errors import InputError
from tcp_hub.image_io import gaussian_blur
from tcp_hub.photo_edit import erode, fill_from_interior, guided_filter, smooth_edit


def _step_guide(size=64):
    guide = -torch.ones(1, 3, size, size)
    guide[..., size // 2:] = 1  # dark left half, bright right half
    return guide


def test_a_constant_change_passes_the_guided_filter_unchanged():
    change = torch.full((1, 3, 40, 56), 0.3)
    guide = torch.rand(1, 3, 40, 56) * 2 - 1
    torch.testing.assert_close(guided_filter(change, guide, 8), change, atol=1e-5, rtol=0)


def test_the_guided_filter_smooths_noise_where_the_photo_is_flat():
    torch.manual_seed(0)
    noise = torch.randn(1, 3, 64, 64) * 0.2
    out = guided_filter(noise, torch.zeros(1, 3, 64, 64), 8)
    assert out.std() < 0.2 * noise.std()


def test_the_guided_filter_keeps_a_change_that_follows_the_photos_edge_where_a_blur_smears_it():
    guide = _step_guide()
    change = guide[:, :1].clone() * 0.5  # -0.5 left, +0.5 right: a change that stops at the edge
    filtered, blurred = guided_filter(change, guide, 16), gaussian_blur(change, 8)
    near_edge = (slice(None), slice(None), slice(None), slice(28, 36))
    assert (filtered - change)[near_edge].abs().max() < 0.05
    assert (blurred - change)[near_edge].abs().max() > 0.3


def test_smooth_edit_returns_the_photo_itself_where_the_edit_changes_nothing():
    photo = torch.rand(1, 3, 90, 60) * 2 - 1
    working = torch.nn.functional.interpolate(photo, size=(48, 32), mode="area")
    rendering = torch.rand(1, 3, 48, 32) * 2 - 1
    torch.testing.assert_close(smooth_edit(photo, working, rendering, rendering), photo)


def test_smooth_edit_adds_the_change_at_the_photos_size():
    photo = torch.zeros(1, 3, 90, 60)
    out = smooth_edit(photo, torch.zeros(1, 3, 48, 32), torch.full((1, 3, 48, 32), 0.25), torch.zeros(1, 3, 48, 32))
    assert out.shape == photo.shape
    torch.testing.assert_close(out, torch.full_like(photo, 0.25), atol=1e-5, rtol=0)


def test_erode_shrinks_a_region_but_not_from_the_pictures_border():
    region = torch.zeros(1, 1, 20, 20)
    region[..., :, :10] = 1  # the left half, touching the border on three sides
    eroded = erode(region, 3)
    assert eroded[..., :, :7].min() == 1 and eroded[..., :, 7:].max() == 0


def test_fill_from_interior_carries_the_interiors_change_to_the_regions_edge():
    region = torch.zeros(1, 1, 96, 96)
    region[..., :, :64] = 1
    change = torch.zeros(1, 3, 96, 96)
    change[..., :, :48] = 0.4  # the interior's change ...
    change[..., :, 48:64] = 0.1  # ... fading next to the unpainted part, as the generator's does
    filled = fill_from_interior(change, region, width=16)
    torch.testing.assert_close(filled[..., :, :64], torch.full((1, 3, 96, 64), 0.4))
    # and past the edge, while at least 1/20 of the window is interior
    torch.testing.assert_close(filled[..., :, 64:76], torch.full((1, 3, 96, 12), 0.4))
    torch.testing.assert_close(filled[..., :, 81:], change[..., :, 81:])  # no further
    thin = torch.zeros(1, 1, 96, 96)
    thin[..., 40:46, :] = 1  # a stroke thinner than the width has no interior: its change stays
    torch.testing.assert_close(fill_from_interior(change, thin, width=16), change)


def test_fill_from_interior_fades_along_a_stroke_leaving_the_interior_without_a_jump():
    region = torch.zeros(1, 1, 128, 160)
    region[..., 32:96, :64] = 1  # a blob ...
    region[..., 60:66, 64:] = 1  # ... with a thin stroke coming off it
    change = torch.full((1, 1, 128, 160), -0.3)
    change[..., :, :64] = 0.5
    filled = fill_from_interior(change, region, width=16)
    along = filled[0, 0, 62, 64:]
    assert (along[1:] - along[:-1]).abs().max() < 0.2  # a ramp, not a 0.8 step where the interior falls out of reach
    assert along[0] > 0.3 and along[-1] == pytest.approx(-0.3)


def test_smooth_edit_carries_each_regions_own_change_to_its_edge():
    regions = torch.zeros(1, 2, 96, 128)
    regions[:, 0, :, :64], regions[:, 1, :, 64:] = 1, 1  # two regions meeting at an edge of the photo (a sky
    guide = _step_guide(128)[..., :96, :]  # and a ground painted along the horizon) ...
    regions[..., 40:56, 56:72] = 0  # ... around an unpainted object on their border
    edited = torch.zeros(1, 3, 96, 128)
    edited[..., :, :64], edited[..., :, 64:] = 0.5, -0.5
    edited[..., 32:64, 48:80] *= 0.2  # the generator's change fades next to the object
    zeros = torch.zeros(1, 3, 96, 128)
    out = smooth_edit(zeros, guide, edited, zeros, region=regions)
    # each region's edge takes its own interior's change, not the mean of both (0.26 from their union)
    assert out[..., 44:52, 50:54].mean() > 0.45 and out[..., 44:52, 74:78].mean() < -0.45
    plain = smooth_edit(zeros, guide, edited, zeros)
    torch.testing.assert_close(out[..., 46:50, 62:66], plain[..., 46:50, 62:66])  # the object: the generator's own


def test_smooth_edit_keeps_a_region_edits_strength_up_to_the_paint_and_equals_the_global_edit_for_all_of_it():
    region = torch.zeros(1, 1, 96, 96)
    region[..., :, :64] = 1
    photo, reconstruction = torch.zeros(1, 3, 96, 96), torch.zeros(1, 3, 96, 96)
    edited = torch.zeros(1, 3, 96, 96)
    edited[..., :, :40], edited[..., :, 40:64] = 0.4, 0.1
    plain, filled = smooth_edit(photo, photo, edited, reconstruction), smooth_edit(photo, photo, edited,
                                                                                   reconstruction, region=region)
    assert plain[..., 56:62].mean() < 0.2 and filled[..., 56:62].mean() > 0.35  # just inside the paint's edge
    torch.testing.assert_close(filled[..., :, 88:], plain[..., :, 88:])  # far outside: the generator's own change
    torch.testing.assert_close(smooth_edit(photo, photo, edited, reconstruction, region=torch.ones(1, 1, 96, 96)),
                               plain)


# ---- the pipeline -----------------------------------------------------------------------------------------------
def _run(pipe, *args, **kwargs):
    return pipe(*args, output_type="np", **kwargs).images[0]


def test_by_default_a_swap_in_the_photos_own_style_is_the_photo_itself(tiny_pipe, photo):
    np.testing.assert_allclose(_run(tiny_pipe, photo, photo), photo / 255.0, atol=1e-5)


def test_by_default_a_swap_keeps_the_photos_fine_texture(tiny_pipe, photo, reference):
    def fine(img):  # what a 2-px blur removes
        x = torch.from_numpy(np.asarray(img, np.float32)).permute(2, 0, 1)[None]
        return x - gaussian_blur(x, 2)

    out, rendered = _run(tiny_pipe, photo, reference), _run(tiny_pipe, photo, reference, texture=1.0, detail=0.0)
    target = fine(photo / 255.0)
    assert (fine(out) - target).abs().mean() < 0.5 * (fine(rendered) - target).abs().mean()
    assert np.abs(out - photo / 255.0).mean() > 0.01  # and the swap still changes the photo


def test_texture_mixes_the_smooth_edit_with_the_rendering(tiny_pipe, photo, reference):
    smooth, rendered = _run(tiny_pipe, photo, reference, texture=0.0), _run(tiny_pipe, photo, reference, texture=1.0)
    assert np.abs(smooth - rendered).mean() > 0.01
    np.testing.assert_allclose(_run(tiny_pipe, photo, reference, texture=0.25), 0.75 * smooth + 0.25 * rendered,
                               atol=1e-5)


def test_a_region_edit_with_texture_0_leaves_the_photo_outside_the_paint(tiny_pipe, photo, reference):
    mask = np.zeros((50, 70), np.float32)
    mask[10:40, 5:30] = 1
    out = _run(tiny_pipe, photo, [reference], mask=[mask])
    np.testing.assert_allclose(out[:, 50:], photo[:, 50:] / 255.0, atol=1e-6)
    assert np.abs(out - photo / 255.0)[15:35, 8:27].mean() > 0.01


@pytest.mark.parametrize("texture", [-0.1, 1.5, float("nan")])
def test_texture_outside_0_to_1_is_refused(tiny_pipe, photo, reference, texture):
    with pytest.raises(InputError, match="texture"):
        tiny_pipe(photo, reference, texture=texture)
