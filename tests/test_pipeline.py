"""TCPPipeline: global swaps, region edits, strengths, sizes, outputs, determinism and bad input."""


import numpy as np
import pytest
import torch
from PIL import Image

from tcp_hub import InputError, TCPPipeline


def run(pipe, *args, **kwargs):
    kwargs.setdefault("output_type", "np")
    return pipe(*args, **kwargs).images[0]


def test_output_has_the_input_size_for_sides_not_multiple_of_16(tiny_pipe, photo, reference):
    out = tiny_pipe(photo, reference).images[0]
    assert isinstance(out, Image.Image) and out.size == (70, 50)


def test_output_types(tiny_pipe, photo, reference):
    as_np = tiny_pipe(photo, reference, output_type="np").images
    as_pt = tiny_pipe(photo, reference, output_type="pt").images
    assert as_np.shape == (1, 50, 70, 3) and as_pt.shape == (1, 3, 50, 70)
    np.testing.assert_allclose(as_pt.permute(0, 2, 3, 1).numpy(), as_np, atol=1e-6)
    assert 0 <= as_np.min() and as_np.max() <= 1


def test_same_inputs_and_seed_give_the_same_output(tiny_pipe, photo, reference):
    a, b = run(tiny_pipe, photo, reference, seed=5), run(tiny_pipe, photo, reference, seed=5)
    c = run(tiny_pipe, photo, reference, seed=6)
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_global_swap_equals_decode_of_reference_style(tiny_pipe, photo, reference):
    content, _ = tiny_pipe.encode(photo)
    _, style = tiny_pipe.encode(reference)
    decoded = tiny_pipe.decode(content, style, seed=0, output_type="np")[0][:50, :70]
    np.testing.assert_allclose(run(tiny_pipe, photo, reference), decoded, atol=1e-6)


def test_strength_zero_is_the_reconstruction_and_one_the_full_swap(tiny_pipe, photo, reference):
    content, own = tiny_pipe.encode(photo)
    recon = tiny_pipe.decode(content, own, output_type="np")[0][:50, :70]
    np.testing.assert_allclose(run(tiny_pipe, photo, reference, strength=0.0), recon, atol=1e-6)
    half = run(tiny_pipe, photo, reference, strength=0.5)
    full = run(tiny_pipe, photo, reference, strength=1.0)
    assert 0 < np.abs(half - recon).mean() < np.abs(full - recon).mean()


def test_region_edit_changes_inside_and_keeps_far_outside(tiny_pipe, reference):
    big = np.asarray(Image.fromarray(np.uint8(np.random.default_rng(0).integers(0, 256, (8, 8, 3))))
                     .resize((256, 256), Image.Resampling.BICUBIC))
    mask = np.zeros((256, 256), np.float32)
    mask[:64, :64] = 1
    content, own = tiny_pipe.encode(big)
    recon = tiny_pipe.decode(content, own, output_type="np")[0]
    edited = run(tiny_pipe, big, [reference], mask=[mask])
    diff = np.abs(edited - recon).max(axis=2)
    assert diff[8:56, 8:56].mean() > 0.01
    assert diff[176:, :].max() < 1e-5 and diff[:, 176:].max() < 1e-5


def test_soft_masks_blend_between_the_unedited_and_the_swapped_look(tiny_pipe, photo, reference):
    recon = run(tiny_pipe, photo, reference, strength=0.0)
    full = run(tiny_pipe, photo, [reference], mask=[np.ones((50, 70), np.float32)])
    half = run(tiny_pipe, photo, [reference], mask=[np.full((50, 70), 0.5, np.float32)])
    d_full, d_half = np.abs(full - recon).mean(), np.abs(half - recon).mean()
    assert 0.2 * d_full < d_half < 0.8 * d_full


def test_several_regions_each_get_their_own_reference(tiny_pipe, photo, reference):
    other = 255 - reference
    left, right = np.zeros((50, 70), bool), np.zeros((50, 70), bool)
    left[:, :35], right[:, 35:] = True, True
    two = run(tiny_pipe, photo, [reference, other], mask=[left, right])
    all_ref = run(tiny_pipe, photo, reference)
    all_other = run(tiny_pipe, photo, other)
    # Far from the seam each half looks like its own global swap.
    assert np.abs(two[:, :8] - all_ref[:, :8]).max() < np.abs(two[:, :8] - all_other[:, :8]).max()
    assert np.abs(two[:, -8:] - all_other[:, -8:]).max() < np.abs(two[:, -8:] - all_ref[:, -8:]).max()


def test_empty_mask_warns_and_returns_the_reconstruction(tiny_pipe, photo, reference):
    recon = run(tiny_pipe, photo, reference, strength=0.0)
    with pytest.warns(UserWarning, match="no painted pixel"):
        out = run(tiny_pipe, photo, [reference], mask=[np.zeros((50, 70), np.uint8)])
    np.testing.assert_allclose(out, recon, atol=1e-6)


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
    assert (single - tiny_pipe(batch, reference, output_type="pt", seed=None).images[1]).abs().max() < 5e-3  # single images pass through 8 bits


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
