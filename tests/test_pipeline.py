"""TCPPipeline: global swaps, region edits, keeping the unedited photo, detail, styles from part of a
reference, strengths, sizes, outputs, determinism and bad input."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tcp_hub import ImageTooLarge, InputError, TCPPipeline
from tcp_hub.image_io import gaussian_blur, pad_to_multiple
from tcp_hub.masks import region_weights
from tcp_hub.pipeline import DETAIL_SIGMA, KEEP_MARGIN

from test_image_inputs import png_claiming


def run(pipe, *args, **kwargs):
    kwargs.setdefault("output_type", "np")
    return pipe(*args, **kwargs).images[0]


def textured(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like RGB image: smooth colour blobs plus fine random texture."""
    rng = np.random.default_rng(seed)
    blobs = Image.fromarray(np.uint8(rng.integers(0, 256, (6, 6, 3)))).resize((width, height), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 18, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(blobs) + noise, 0, 255).astype(np.uint8))


def farther_than(mask: np.ndarray, distance: float) -> np.ndarray:
    """Pixels more than ``distance`` px (Euclidean, rounded up to a square) from every non-zero pixel of ``mask``."""
    reach = int(math.ceil(distance))
    near = F.max_pool2d(torch.from_numpy((mask > 0).astype(np.float32))[None, None], 2 * reach + 1, 1, reach)
    return near[0, 0].numpy() == 0


def test_output_has_the_input_size_for_sides_not_multiple_of_16(tiny_pipe, photo, reference):
    out = tiny_pipe(photo, reference).images[0]
    assert isinstance(out, Image.Image) and out.size == (70, 50)


def test_output_types(tiny_pipe, photo, reference):
    as_np = tiny_pipe(photo, reference, output_type="np").images
    as_pt = tiny_pipe(photo, reference, output_type="pt").images
    assert as_np.shape == (1, 50, 70, 3) and as_pt.shape == (1, 3, 50, 70)
    np.testing.assert_allclose(as_pt.permute(0, 2, 3, 1).numpy(), as_np, atol=1e-6)
    assert 0 <= as_np.min() and as_np.max() <= 1


@pytest.mark.parametrize("region", [False, True])
def test_same_inputs_and_seed_give_the_same_output(tiny_pipe, photo, reference, region):
    kwargs = dict(style=[reference], mask=[np.ones((50, 70), bool)]) if region else dict(style=reference)
    a, b = run(tiny_pipe, photo, seed=5, **kwargs), run(tiny_pipe, photo, seed=5, **kwargs)
    c = run(tiny_pipe, photo, seed=6, **kwargs)
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_noise_is_off_by_default(tiny_pipe, photo, reference):
    assert np.array_equal(run(tiny_pipe, photo, reference), run(tiny_pipe, photo, reference, seed=None))
    assert np.abs(run(tiny_pipe, photo, reference) - run(tiny_pipe, photo, reference, seed=0)).max() > 1e-3


def test_global_swap_as_rendered_without_detail_is_the_generator_output(tiny_pipe, photo, reference):
    content, _ = tiny_pipe.encode(photo)
    _, style = tiny_pipe.encode(reference)
    decoded = tiny_pipe.decode(content, style, output_type="np")[0][:50, :70]
    out = run(tiny_pipe, photo, reference, detail=0.0, texture=1.0, render_margin=0)
    np.testing.assert_allclose(out, decoded, atol=1e-6)


def test_region_edit_as_rendered_without_keep_or_detail_is_the_generator_output(tiny_pipe, photo, reference):
    mask = np.zeros((50, 70), np.float32)
    mask[10:40, 5:30] = 1
    content, own = tiny_pipe.encode(photo)
    _, style = tiny_pipe.encode(reference)
    weights = pad_to_multiple(region_weights(torch.from_numpy(mask)[None])[None], 16)
    decoded = tiny_pipe.decode(content, torch.stack([own, style], 1), weights, output_type="np")[0][:50, :70]
    out = run(tiny_pipe, photo, [reference], mask=[mask], keep_unedited=False, detail=0.0, texture=1.0,
              render_margin=0)
    np.testing.assert_allclose(out, decoded, atol=1e-6)


def test_strength_zero_is_the_reconstruction_and_one_the_full_swap(tiny_pipe, photo, reference):
    content, own = tiny_pipe.encode(photo)
    recon = tiny_pipe.decode(content, own, output_type="np")[0][:50, :70]
    rendered = run(tiny_pipe, photo, reference, strength=0.0, detail=0.0, texture=1.0, render_margin=0)
    np.testing.assert_allclose(rendered, recon, atol=1e-6)
    half = run(tiny_pipe, photo, reference, strength=0.5, detail=0.0, texture=1.0)
    full = run(tiny_pipe, photo, reference, strength=1.0, detail=0.0, texture=1.0)
    assert 0 < np.abs(half - recon).mean() < np.abs(full - recon).mean()


def test_region_edit_without_keep_changes_inside_and_keeps_the_reconstruction_far_outside(tiny_pipe, reference):
    big = np.asarray(Image.fromarray(np.uint8(np.random.default_rng(0).integers(0, 256, (8, 8, 3))))
                     .resize((256, 256), Image.Resampling.BICUBIC))
    mask = np.zeros((256, 256), np.float32)
    mask[:64, :64] = 1
    as_rendered = dict(keep_unedited=False, texture=1.0)
    recon = run(tiny_pipe, big, [reference], mask=[mask], strength=0.0, **as_rendered)  # the photo's own style
    edited = run(tiny_pipe, big, [reference], mask=[mask], **as_rendered)
    diff = np.abs(edited - recon).max(axis=2)
    assert diff[8:56, 8:56].mean() > 0.01
    assert diff[176:, :].max() < 1e-5 and diff[:, 176:].max() < 1e-5


def test_soft_masks_blend_between_the_unedited_and_the_swapped_look(tiny_pipe, photo, reference):
    recon = run(tiny_pipe, photo, reference, strength=0.0)
    full = run(tiny_pipe, photo, [reference], mask=[np.ones((50, 70), np.float32)], keep_unedited=False)
    half = run(tiny_pipe, photo, [reference], mask=[np.full((50, 70), 0.5, np.float32)], keep_unedited=False)
    d_full, d_half = np.abs(full - recon).mean(), np.abs(half - recon).mean()
    assert 0.2 * d_full < d_half < 0.8 * d_full


# ---- keep_unedited -------------------------------------------------------------------------------------
@pytest.mark.parametrize("size, resolution, feather", [((96, 80), None, 0.0), ((96, 80), None, 3.0),
                                                       ((300, 200), 96, 2.0)])
def test_keep_unedited_returns_the_photo_bytes_beyond_feather_and_margin(tiny_pipe, reference, size, resolution,
                                                                          feather):
    image = textured(*size)
    mask = np.zeros(size[::-1], np.uint8)
    mask[size[1] // 4:size[1] // 2, size[0] // 4:size[0] // 2] = 255
    out = tiny_pipe(image, [reference], mask=[mask], feather=feather, resolution=resolution, texture=1.0).images[0]
    assert isinstance(out, Image.Image) and out.size == image.size
    scale = max(size) / (resolution or max(size))
    reach = (math.ceil(3 * feather) + KEEP_MARGIN + 1) * scale + 1  # working px -> input px, plus resampling
    kept = farther_than(mask, reach)
    assert kept.mean() > 0.3
    got, photo = np.asarray(out), np.asarray(image)
    assert np.array_equal(got[kept], photo[kept])
    inside = np.zeros_like(kept)
    inside[size[1] // 4 + 4:size[1] // 2 - 4, size[0] // 4 + 4:size[0] // 2 - 4] = True
    assert np.abs(got[inside].astype(int) - photo[inside]).mean() > 5


def test_keep_unedited_fades_smoothly_into_the_photo_across_the_margin(tiny_pipe, reference):
    image = textured(96, 64)
    mask = np.zeros((64, 96), np.float32)
    mask[:, :32] = 1
    kept = run(tiny_pipe, image, [reference], mask=[mask], detail=0.0, texture=1.0)
    rendered = run(tiny_pipe, image, [reference], mask=[mask], detail=0.0, texture=1.0, keep_unedited=False)
    photo = np.asarray(image, np.float32) / 255
    # the share of the generator's output per column: 1 on the mask, falling to 0 over KEEP_MARGIN px
    share = ((kept - photo) * (rendered - photo)).sum((0, 2)) / ((rendered - photo) ** 2).sum((0, 2))
    margin = int(KEEP_MARGIN)
    np.testing.assert_allclose(share[:32], 1, atol=1e-3)
    np.testing.assert_allclose(share[32 + margin:], 0, atol=1e-6)
    ramp = share[31:32 + margin]
    assert np.all(np.diff(ramp) < 0) and np.abs(np.diff(ramp)).max() < 1.5 / KEEP_MARGIN + 0.01


def test_keep_unedited_mixes_a_soft_mask_with_the_photo(tiny_pipe, photo, reference):
    half = np.full((50, 70), 0.5, np.float32)
    kept = run(tiny_pipe, photo, [reference], mask=[half])
    rendered = run(tiny_pipe, photo, [reference], mask=[half], keep_unedited=False)
    np.testing.assert_allclose(kept, 0.5 * photo / 255 + 0.5 * rendered, atol=1e-5)


def test_keep_unedited_does_not_change_a_global_swap(tiny_pipe, photo, reference):
    assert np.array_equal(run(tiny_pipe, photo, reference, keep_unedited=True),
                          run(tiny_pipe, photo, reference, keep_unedited=False))


# ---- detail --------------------------------------------------------------------------------------------
def test_detail_zero_adds_nothing_to_a_region_edit(tiny_pipe, photo, reference):
    mask = np.zeros((50, 70), np.float32)
    mask[10:40, 5:30] = 1
    plain = run(tiny_pipe, photo, [reference], mask=[mask], keep_unedited=False, detail=0.0, texture=1.0, seed=0)
    detailed = run(tiny_pipe, photo, [reference], mask=[mask], keep_unedited=False, detail=1.0, texture=1.0, seed=0)
    assert np.abs(detailed - plain)[10:40, 5:30].mean() > 0.01
    assert np.abs(detailed - plain)[:, 50:].max() < 1e-6  # nothing is added where nothing is edited


def test_full_detail_on_the_unedited_look_gives_the_photo_up_to_a_blurred_difference(tiny_pipe):
    image = textured(96, 64)
    photo = torch.from_numpy(np.asarray(image, np.float32) / 255).permute(2, 0, 1)[None]
    out = tiny_pipe(image, image, strength=0.0, detail=1.0, texture=1.0, output_type="pt").images
    recon = tiny_pipe(image, image, strength=0.0, detail=0.0, texture=1.0, output_type="pt").images
    # the photo's own detail is back; only the residual's low frequencies (sigma DETAIL_SIGMA) remain
    expected = photo - gaussian_blur(photo - recon, DETAIL_SIGMA)
    unclamped = (expected > 0) & (expected < 1)
    assert unclamped.float().mean() > 0.9
    torch.testing.assert_close(out[unclamped], expected[unclamped], atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def scenes_pipe():
    return TCPPipeline.from_pretrained("tcp-scenes")


def test_detail_makes_a_swap_keep_the_content_edges(scenes_pipe):
    from pathlib import Path

    from tcp_hub.evaluation import edge_agreement

    examples = Path(__file__).resolve().parents[1] / "examples"
    content = Image.open(examples / "valley.jpg").convert("RGB")
    photo = torch.from_numpy(np.asarray(content, np.float32) / 127.5 - 1).permute(2, 0, 1)[None]

    def edges(detail):
        out = scenes_pipe(content, str(examples / "ref_sunset.jpg"), detail=detail, texture=1.0,
                          output_type="pt").images
        return edge_agreement(out * 2 - 1, photo).item()

    # How much detail adds depends on how many edges the model keeps itself (bundled model: 0.843 -> 0.863).
    without, with_detail = edges(0.0), edges(1.0)
    assert with_detail > without + 0.015, (without, with_detail)


def test_the_render_margin_keeps_a_flat_photos_swap_free_of_a_frame_in_its_own_colour(scenes_pipe):
    from scripts import load_script

    bench = load_script("benchmarks/render_margin.py", "render_margin")  # its frame measure and flat sky
    sky = np.clip(np.random.default_rng(0).normal(bench.FLAT_PHOTOS["sky"], 4, (256, 256, 3)), 0, 255).astype(np.uint8)
    reference = bench.EXAMPLES / "ref_sunset.jpg"

    def frame(**options):  # how far the border's mean colour is from the middle's, 0..255
        return bench.frame_strength(scenes_pipe(sky, str(reference), **options).images[0])

    with_margin, without = frame(), frame(render_margin=0)
    assert with_margin < 1 < 10 < without, (with_margin, without)


def test_several_regions_each_get_their_own_reference(tiny_pipe, photo, reference):
    other = 255 - reference
    left, right = np.zeros((50, 70), bool), np.zeros((50, 70), bool)
    left[:, :35], right[:, 35:] = True, True
    two = run(tiny_pipe, photo, [reference, other], mask=[left, right], seed=0)
    all_ref = run(tiny_pipe, photo, reference, seed=0)
    all_other = run(tiny_pipe, photo, other, seed=0)
    # Far from the seam each half looks like its own global swap.
    assert np.abs(two[:, :8] - all_ref[:, :8]).max() < np.abs(two[:, :8] - all_other[:, :8]).max()
    assert np.abs(two[:, -8:] - all_other[:, -8:]).max() < np.abs(two[:, -8:] - all_ref[:, -8:]).max()


def test_empty_mask_warns_and_returns_the_photo_or_as_rendered_the_reconstruction(tiny_pipe, photo, reference):
    empty = [np.zeros((50, 70), np.uint8)]
    with pytest.warns(UserWarning, match="no painted pixel"):
        out = tiny_pipe(Image.fromarray(photo), [reference], mask=empty).images[0]
    assert np.array_equal(np.asarray(out), photo)
    recon = run(tiny_pipe, photo, reference, strength=0.0, detail=0.0, texture=1.0)
    with pytest.warns(UserWarning, match="no painted pixel"):
        out = run(tiny_pipe, photo, [reference], mask=empty, keep_unedited=False, texture=1.0)
    np.testing.assert_allclose(out, recon, atol=1e-6)
    with pytest.warns(UserWarning, match="no painted pixel"):
        out = run(tiny_pipe, photo, [reference], mask=empty, keep_unedited=False)  # the photo, edited by nothing
    np.testing.assert_allclose(out, photo / 255.0, atol=1e-5)


def test_mask_of_another_size_is_resized_with_a_warning_or_refused(tiny_pipe, photo, reference):
    mask = np.ones((25, 35), bool)
    with pytest.warns(UserWarning, match="resized to the image"):
        run(tiny_pipe, photo, [reference], mask=[mask])
    with pytest.raises(InputError, match="35x25 but the image is 70x50"):
        run(tiny_pipe, photo, [reference], mask=[mask], resize_mask=False)


def test_mask_alpha_channel_is_the_painted_region(tiny_pipe, photo, reference, tmp_path):
    rgba = np.zeros((50, 70, 4), np.uint8)
    rgba[..., :3] = 255  # colour under transparent pixels is arbitrary
    rgba[:, :35, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "mask.png")
    from_file = run(tiny_pipe, photo, [reference], mask=[str(tmp_path / "mask.png")])
    left = np.zeros((50, 70), bool)
    left[:, :35] = True
    np.testing.assert_allclose(from_file, run(tiny_pipe, photo, [reference], mask=[left]), atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(style=["a", "b"]), "without masks"),
    (dict(mask=[np.ones((50, 70))] * 2), "2 masks but 1 style"),
    (dict(strength=1.5), "between 0"),
    (dict(strength=[0.5, 0.5]), "2 strengths for 1 style"),
    (dict(feather=-1), "feather"),
    (dict(detail=1.5), "detail is 1.5"),
    (dict(style_mask=[None, None]), "2 style masks but 1 style reference"),
    (dict(style=["a", "b"], mask=[np.ones((50, 70))] * 2, style_mask=[np.ones((64, 64))]),
     "1 style masks but 2 style references"),
])
def test_inconsistent_arguments_are_explained(tiny_pipe, photo, reference, kwargs, message):
    kwargs.setdefault("style", reference)
    with pytest.raises(InputError, match=message):
        tiny_pipe(photo, **kwargs)


def test_image_larger_than_the_limit_is_refused_and_resolution_works_around_it(tiny_pipe, reference):
    big = np.zeros((40, 300, 3), np.uint8)
    with pytest.raises(InputError, match="at most 256 px"):
        tiny_pipe(big, reference, max_side=256)
    out = tiny_pipe(big, reference, max_side=512, resolution=128).images[0]
    assert out.size == (300, 40)


def test_tensor_batch_outside_unit_range_is_refused(tiny_pipe, reference):
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        tiny_pipe(torch.full((2, 3, 32, 32), 3.0), reference)


def test_tensor_batch_is_edited_as_a_batch(tiny_pipe, reference):
    batch = torch.rand(3, 3, 32, 48)
    out = tiny_pipe(batch, reference, output_type="pt").images
    assert out.shape == (3, 3, 32, 48)
    single = tiny_pipe(batch[1], reference, output_type="pt", seed=None).images[0]
    batched = tiny_pipe(batch, reference, output_type="pt", seed=None).images[1]
    assert (single - batched).abs().max() < 5e-3  # single images pass through 8 bits


def test_save_and_load_round_trip(tmp_path, tiny_pipe, photo, reference):
    tiny_pipe.save_pretrained(tmp_path / "pipe")
    loaded = TCPPipeline.from_pretrained(tmp_path / "pipe")
    np.testing.assert_array_equal(run(loaded, photo, reference), run(tiny_pipe, photo, reference))


def test_pickle_only_checkpoints_are_refused(tmp_path, tiny_pipe):
    tiny_pipe.save_pretrained(tmp_path / "pipe", safe_serialization=False)
    assert list((tmp_path / "pipe" / "encoder").glob("*.bin"))
    with pytest.raises(Exception, match="safetensors"):
        TCPPipeline.from_pretrained(tmp_path / "pipe")
    with pytest.raises(InputError, match="pickle"):
        TCPPipeline.from_pretrained(tmp_path / "pipe", use_safetensors=False)


def test_bfloat16_pipeline_stays_close_to_float32(tmp_path, tiny_pipe, photo, reference):
    tiny_pipe.save_pretrained(tmp_path / "pipe")
    half = TCPPipeline.from_pretrained(tmp_path / "pipe", dtype=torch.bfloat16)
    assert half.encoder.dtype == torch.bfloat16 and half.generator.dtype == torch.bfloat16
    mask = np.zeros((50, 70), np.float32)
    mask[:, :30] = 1
    full = run(tiny_pipe, photo, [reference], mask=[mask])
    low = run(half, photo, [reference], mask=[mask])
    assert low.dtype == np.float32 and np.abs(low - full).mean() < 0.02


# ---- hostile numbers and sizes -----------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    (dict(feather=float("nan")), r"feather is nan; it must be a number between 0 and 64 px"),
    (dict(feather=float("inf")), r"feather is inf; it must be a number between 0 and 64 px"),
    (dict(feather=1e6), r"feather is 1000000.0; it must be a number between 0 and 64 px"),
    (dict(resolution=-16), r"resolution is -16; the working size must be a whole number of pixels from 16 to 1024"),
    (dict(resolution=100000), r"resolution is 100000; .* from 16 to 1024"),
    (dict(resolution=64.5), r"resolution is 64.5; .* whole number"),
    (dict(strength=float("nan")), r"strength 1 is nan; it must be a number between 0 and 1"),
    (dict(detail=float("inf")), r"detail is inf; it must be a number between 0 and 1"),
    (dict(render_margin=-8), r"render_margin is -8; it must be a number between 0 and 256 px"),
])
def test_numbers_outside_their_range_are_refused_with_the_range(tiny_pipe, photo, reference, kwargs, message):
    with pytest.raises(InputError, match=message):
        tiny_pipe(photo, reference, **kwargs)


def test_nan_in_a_tensor_batch_is_refused(tiny_pipe, reference):
    batch = torch.rand(2, 3, 32, 32)
    batch[1, 0, 5, 5] = float("nan")
    with pytest.raises(InputError, match="content image tensor contains NaN or infinite values"):
        tiny_pipe(batch, reference)


@pytest.mark.parametrize("which", ["content", "style"])
def test_decode_refuses_non_finite_codes(tiny_pipe, photo, which):
    codes = dict(zip(("content", "style"), tiny_pipe.encode(photo)))
    codes[which][0, 0] = float("inf") if which == "style" else float("nan")
    with pytest.raises(InputError, match=f"{which} code contains NaN or infinite values"):
        tiny_pipe.decode(codes["content"], codes["style"])


def test_encode_refuses_a_resolution_outside_its_range(tiny_pipe, photo):
    with pytest.raises(InputError, match="resolution is 8; .* from 16 to 1024"):
        tiny_pipe.encode(photo, resolution=8)


def test_a_mask_file_over_max_side_is_refused_from_its_header(tiny_pipe, photo, reference, tmp_path):
    (tmp_path / "mask.png").write_bytes(png_claiming(5000, 50))
    with pytest.raises(InputError, match=r"mask 1 file .*mask.png' is 5000x50; the longest side may be at most 1024"):
        tiny_pipe(photo, [reference], mask=[str(tmp_path / "mask.png")])


def two_colour_reference(size: int = 256):
    """A reference whose left half is red and right half blue, the colours as [0, 1] RGB, and its left-half mask."""
    red, blue = np.array([200, 40, 30]), np.array([30, 60, 200])
    ref = np.zeros((size, size, 3), np.uint8)
    ref[:, :size // 2], ref[:, size // 2:] = red, blue
    left = np.zeros((size, size), bool)
    left[:, :size // 2] = True
    return ref, red / 255, blue / 255, left


def test_all_ones_style_mask_gives_exactly_todays_style_code_and_output(tiny_pipe, photo, reference):
    big = np.asarray(Image.fromarray(photo).resize((140, 100)))  # large enough for a 2x2 style feature map
    for ref in (reference, big):
        ones = np.ones(ref.shape[:2], bool)
        torch.testing.assert_close(tiny_pipe.encode(ref, style_mask=ones)[1], tiny_pipe.encode(ref)[1],
                                   atol=1e-6, rtol=0)
        np.testing.assert_allclose(run(tiny_pipe, photo, ref, style_mask=ones), run(tiny_pipe, photo, ref), atol=1e-6)


def test_style_mask_takes_the_colour_of_the_painted_half_of_the_reference(scenes_pipe):
    ref, red, blue, left = two_colour_reference()
    for seed in range(2):
        content = textured(96, 80, seed)
        on_red = run(scenes_pipe, content, ref, style_mask=left).reshape(-1, 3).mean(0)
        on_blue = run(scenes_pipe, content, ref, style_mask=~left).reshape(-1, 3).mean(0)
        # Painting the red half moves the mean colour toward red and away from blue, and vice versa.
        assert np.linalg.norm(on_red - red) < np.linalg.norm(on_blue - red) - 0.02, (on_red, on_blue)
        assert np.linalg.norm(on_blue - blue) < np.linalg.norm(on_red - blue) - 0.05, (on_red, on_blue)


def test_each_region_takes_its_own_style_mask_and_none_uses_the_whole_reference(tiny_pipe, photo):
    ref = np.asarray(textured(128, 128, seed=3))
    half = np.zeros((128, 128), bool)
    half[:, :64] = True
    left, right = np.zeros((50, 70), bool), np.zeros((50, 70), bool)
    left[:, :35], right[:, 35:] = True, True
    kwargs = dict(style=[ref, ref], mask=[left, right], keep_unedited=False, detail=0.0, texture=1.0)
    whole = run(tiny_pipe, photo, **kwargs)
    assert np.array_equal(run(tiny_pipe, photo, style_mask=[None, None], **kwargs), whole)
    content, own = tiny_pipe.encode(photo)
    codes = torch.stack([own, tiny_pipe.encode(ref, style_mask=half)[1], tiny_pipe.encode(ref)[1]], 1)
    weights = pad_to_multiple(region_weights(torch.from_numpy(np.stack([left, right])).float())[None], 16)
    expected = tiny_pipe.decode(content, codes, weights, output_type="np")[0][:50, :70]
    np.testing.assert_allclose(run(tiny_pipe, photo, style_mask=[half, None], render_margin=0, **kwargs), expected,
                               atol=1e-6)
    assert np.abs(expected - whole).max() > 1e-3


def test_style_mask_of_another_size_is_resized_with_a_warning_or_refused(tiny_pipe, photo, reference):
    mask = np.ones((32, 16), bool)
    with pytest.warns(UserWarning, match="style mask 1 is 16x32 but style image 1 is 64x64; the mask was resized"):
        run(tiny_pipe, photo, reference, style_mask=mask)
    with pytest.raises(InputError, match="style mask 1 is 16x32 but style image 1 is 64x64"):
        run(tiny_pipe, photo, reference, style_mask=mask, resize_mask=False)


def test_empty_style_mask_warns_and_uses_the_whole_reference(tiny_pipe, photo):
    ref = np.asarray(textured(128, 128, seed=3))
    with pytest.warns(UserWarning, match="style mask 1 has no painted pixel; the style is taken from the whole"):
        out = run(tiny_pipe, photo, ref, style_mask=np.zeros((128, 128), np.uint8))
    np.testing.assert_allclose(out, run(tiny_pipe, photo, ref), atol=1e-6)


def test_style_mask_alpha_file_is_the_painted_part(tiny_pipe, photo, tmp_path):
    ref = np.asarray(textured(128, 128, seed=3))
    rgba = np.zeros((128, 128, 4), np.uint8)
    rgba[:, :64, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "style_mask.png")
    half = np.zeros((128, 128), bool)
    half[:, :64] = True
    from_file = run(tiny_pipe, photo, ref, style_mask=str(tmp_path / "style_mask.png"))
    np.testing.assert_allclose(from_file, run(tiny_pipe, photo, ref, style_mask=half), atol=1e-6)
    assert np.abs(from_file - run(tiny_pipe, photo, ref)).max() > 1e-3


def test_the_default_working_size_is_the_models_training_size(tiny_pipe, photo, reference):
    tiny_pipe.encoder.register_to_config(sample_size=32)  # as the trainer records it
    default = run(tiny_pipe, photo, reference)
    assert default.shape == (50, 70, 3)
    assert np.array_equal(default, run(tiny_pipe, photo, reference, resolution=32))
    own = run(tiny_pipe, photo, reference, resolution=0)  # 0: the photo's own size
    assert not np.array_equal(default, own)
    tiny_pipe.encoder.register_to_config(sample_size=None)  # a model that does not record it
    assert np.array_equal(run(tiny_pipe, photo, reference), own)



def test_large_photos_are_accepted_when_the_work_happens_at_the_training_size(tiny_pipe, reference):
    wide = np.zeros((40, 2000, 3), np.uint8)  # a long side over 1024 px
    with pytest.raises(ImageTooLarge, match="at most 1024 px"):  # own size: the working size would be 2000 px
        tiny_pipe(wide, reference)
    tiny_pipe.encoder.register_to_config(sample_size=32)
    assert tiny_pipe(wide, reference).images[0].size == (2000, 40)  # worked at 32 px, returned at 2000
    with pytest.raises(ImageTooLarge, match="at most 1024 px"):
        tiny_pipe(wide, reference, resolution=0)
    with pytest.raises(ImageTooLarge, match="at most 4096 px"):
        tiny_pipe(np.zeros((8, 4100, 3), np.uint8), reference)
    assert tiny_pipe(wide, reference, resolution=0, max_side=2000).images[0].size == (2000, 40)
