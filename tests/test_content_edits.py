"""Editing the content code: copying content with `TCPPipeline.paste_content` (and its grid helpers), and
suggesting a region from a point with `TCPPipeline.suggest_region`."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tcp_hub import InputError
from tcp_hub.content_paste import coverage_on_grid, offset_in_cells, paste_codes, shift_cells
from tcp_hub.pipeline import KEEP_MARGIN

from test_pipeline import farther_than, textured

SIZE = 64  # the photo's side; the tiny model's content code is 4 x 4 cells of 16 px


@pytest.fixture
def image():
    return textured(SIZE, SIZE, seed=3)


def cell_mask(rows: slice, cols: slice) -> np.ndarray:
    """A uint8 mask painting whole 16-px cells ``rows`` x ``cols`` (in cells)."""
    m = np.zeros((SIZE, SIZE), np.uint8)
    m[rows.start * 16:rows.stop * 16, cols.start * 16:cols.stop * 16] = 255
    return m


def capture_codes(pipe):
    """Record every content code the pipeline renders."""
    seen = []
    generate = pipe._generate
    pipe._generate = lambda content, *a: seen.append(content.clone()) or generate(content, *a)
    return seen


# ---- the grid helpers ----------------------------------------------------------------------------
def test_shift_cells_moves_right_and_down_and_drops_what_leaves():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = shift_cells(x, (1, 2))
    assert torch.equal(out[0, 0, 2:, 1:], x[0, 0, :2, :3])
    assert (out[0, 0, :2] == 0).all() and (out[0, 0, :, 0] == 0).all()
    assert torch.equal(shift_cells(x, (-1, 0))[0, 0, :, :3], x[0, 0, :, 1:])
    assert (shift_cells(x, (4, 0)) == 0).all()


def test_pasted_cells_hold_exactly_the_source_code_and_the_rest_is_unchanged():
    torch.manual_seed(0)
    content = F.normalize(torch.randn(1, 8, 5, 6), dim=1)
    source = F.normalize(torch.randn(1, 8, 5, 6), dim=1)
    coverage = torch.zeros(1, 1, 5, 6)
    coverage[..., 1:3, 0:2] = 1
    new, placed, clipped = paste_codes(content, source, coverage, (3, 2))
    assert not clipped
    torch.testing.assert_close(new[..., 3:5, 3:5], source[..., 1:3, 0:2])
    untouched = placed[0, 0] == 0
    torch.testing.assert_close(new[0][:, untouched], content[0][:, untouched])
    assert torch.allclose(new.norm(dim=1), torch.ones(1, 5, 6))


def test_a_paste_past_the_border_is_clipped_and_says_so():
    content = F.normalize(torch.randn(1, 4, 4, 4), dim=1)
    coverage = torch.zeros(1, 1, 4, 4)
    coverage[..., 1, 1:3] = 1
    new, placed, clipped = paste_codes(content, content.flip(1), coverage, (2, 0))
    assert clipped and placed.sum() == 1 and placed[0, 0, 1, 3] == 1


def test_offsets_are_rounded_to_whole_cells_at_the_working_size():
    assert offset_in_cells((40, -7), scale=1.0, stride=16) == (2, 0)
    assert offset_in_cells((40, -9), scale=1.0, stride=16) == (2, -1)
    assert offset_in_cells((64, 32), scale=0.25, stride=16) == (1, 0)  # a 1024-px photo worked at 256


def test_coverage_counts_the_painted_fraction_of_each_cell():
    mask = torch.zeros(1, 1, 20, 40)
    mask[..., :16, :8] = 1
    cov = coverage_on_grid(mask, (2, 3), 16)
    assert cov.shape == (1, 1, 2, 3)
    assert cov[0, 0, 0, 0] == 0.5 and cov[0, 0, 1:].sum() == 0 and cov[0, 0, 0, 1:].sum() == 0


# ---- paste_content -------------------------------------------------------------------------------
def test_no_offset_from_the_image_itself_is_exactly_the_reconstruction(tiny_pipe, image):
    out = tiny_pipe.paste_content(image, cell_mask(slice(1, 3), slice(1, 3)), offset=(0, 0), keep_unedited=False,
                                  detail=0, output_type="pt").images
    content, style = tiny_pipe.encode(image)
    assert torch.equal(out, tiny_pipe.decode(content, style))


def test_the_code_at_the_target_is_the_sources_code_there(tiny_pipe, image):
    other = textured(SIZE, SIZE, seed=7)
    seen = capture_codes(tiny_pipe)
    tiny_pipe.paste_content(image, cell_mask(slice(0, 2), slice(0, 1)), offset=(32, 16), source=other, detail=0)
    own, _ = tiny_pipe.encode(image)
    src, _ = tiny_pipe.encode(other)
    pasted = seen[0]
    torch.testing.assert_close(pasted[..., 1:3, 2:3], src[..., 0:2, 0:1])
    keep = torch.ones(4, 4, dtype=torch.bool)
    keep[1:3, 2] = False
    torch.testing.assert_close(pasted[0][:, keep], own[0][:, keep])


def test_a_copy_within_the_image_repeats_its_own_code(tiny_pipe, image):
    seen = capture_codes(tiny_pipe)
    tiny_pipe.paste_content(image, cell_mask(slice(0, 1), slice(0, 1)), offset=(45, 50), detail=0)  # 3, 3 cells
    own, _ = tiny_pipe.encode(image)
    torch.testing.assert_close(seen[0][..., 3, 3], own[..., 0, 0])


def test_outside_the_pasted_region_the_photo_is_kept_pixel_for_pixel(tiny_pipe, image):
    mask = cell_mask(slice(0, 1), slice(0, 1))
    out = tiny_pipe.paste_content(image, mask, offset=(32, 32), output_type="np").images[0]
    moved = np.roll(mask, (32, 32), axis=(0, 1))
    far = farther_than(moved, KEEP_MARGIN + 1)
    photo = np.asarray(image, np.float32) / 255
    assert np.abs(out[far] - photo[far]).max() < 1e-6
    assert np.abs(out[moved > 0] - photo[moved > 0]).mean() > 0.02  # the copy is there


def test_a_paste_partly_outside_the_image_warns_and_keeps_the_rest(tiny_pipe, image):
    with pytest.warns(UserWarning, match="past the image's border"):
        out = tiny_pipe.paste_content(image, cell_mask(slice(1, 2), slice(1, 3)), offset=(32, 0)).images[0]
    assert out.size == (SIZE, SIZE)


def test_an_empty_mask_says_so_and_returns_the_photo(tiny_pipe, image):
    with pytest.warns(UserWarning, match="no painted pixel"):
        out = tiny_pipe.paste_content(image, np.zeros((SIZE, SIZE), np.uint8), offset=(16, 0)).images[0]
    assert np.array_equal(np.asarray(out), np.asarray(image))


def test_detail_carries_the_sources_fine_texture_along(tiny_pipe, image):
    mask = cell_mask(slice(0, 2), slice(0, 2))
    kwargs = dict(offset=(32, 32), keep_unedited=False, output_type="np")
    sharp = tiny_pipe.paste_content(image, mask, detail=1.0, **kwargs).images[0]
    plain = tiny_pipe.paste_content(image, mask, detail=0.0, **kwargs).images[0]
    photo = np.asarray(image, np.float32) / 255
    target, source = sharp[32:, 32:], photo[:32, :32]
    # with detail the pasted area follows the source's texture more closely than without
    assert np.abs(target - source).mean() < np.abs(plain[32:, 32:] - source).mean()
    assert np.abs(sharp[:24, :24] - plain[:24, :24]).max() < 1e-6  # far from the paste no detail is added


@pytest.mark.parametrize("offset, message", [((1, 2, 3), "two numbers"), (("a", 0), "two numbers"),
                                             ((float("nan"), 0), "finite"), ((0, float("inf")), "finite")])
def test_bad_offsets_are_refused(tiny_pipe, image, offset, message):
    with pytest.raises(InputError, match=message):
        tiny_pipe.paste_content(image, cell_mask(slice(0, 1), slice(0, 1)), offset=offset)


def test_a_source_of_another_shape_is_stretched_with_a_warning(tiny_pipe, image):
    with pytest.warns(UserWarning, match="stretched"):
        out = tiny_pipe.paste_content(image, cell_mask(slice(0, 1), slice(0, 1)), offset=(16, 0),
                                      source=textured(80, 40, seed=2)).images[0]
    assert out.size == (SIZE, SIZE)


# ---- suggest_region ------------------------------------------------------------------------------
def test_suggestion_is_a_mask_of_the_image_size_that_holds_the_point(tiny_pipe, photo):
    mask = tiny_pipe.suggest_region(photo, (20, 30), threshold=0.9)
    assert isinstance(mask, Image.Image) and mask.mode == "L" and mask.size == (70, 50)
    as_np = tiny_pipe.suggest_region(photo, (20, 30), threshold=0.9, output_type="np")
    assert np.array_equal(np.asarray(mask), as_np) and as_np[30, 20] == 255
    assert set(np.unique(as_np)) <= {0, 255}


def test_threshold_minus_one_takes_everything_and_higher_never_grows(tiny_pipe, photo):
    sizes = [(tiny_pipe.suggest_region(photo, (5, 5), t, connected=False, output_type="np") > 0).sum()
             for t in (-1.0, 0.0, 0.9, 1.0)]
    assert sizes[0] == 70 * 50 and sizes == sorted(sizes, reverse=True) and sizes[-1] >= 1


@pytest.mark.parametrize("point, threshold, message", [((70, 0), 0.5, "outside the image"),
                                                       ((-1, 3), 0.5, "outside the image"),
                                                       ((float("nan"), 3), 0.5, "outside the image"),
                                                       ((3,), 0.5, "two numbers"),
                                                       ((3, 3), 1.5, "threshold")])
def test_bad_points_and_thresholds_are_refused(tiny_pipe, photo, point, threshold, message):
    with pytest.raises(InputError, match=message):
        tiny_pipe.suggest_region(photo, point, threshold)
