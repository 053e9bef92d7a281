"""benchmarks/render_margin.py: its variants render pictures of the input's size from a mirrored margin."""

import pytest
import torch
from scripts import load_script

from tcp_hub import TCPPipeline

bench = load_script("benchmarks/render_margin.py", "render_margin")


def _pipe():
    return TCPPipeline.from_pretrained("tcp-scenes", torch_dtype=torch.float32)


def test_the_pipeline_variant_is_the_pipeline_untouched():
    pipe = _pipe()
    forward = pipe.generator.forward
    assert bench.with_margin(pipe, "pipeline", 32) is pipe and pipe.generator.forward == forward


@pytest.mark.parametrize("variant", ["encode", "code"])
def test_margin_variants_render_the_pictures_size_and_differ_from_the_plain_rendering_only_near_the_border(variant):
    torch.manual_seed(0)
    image = torch.rand(1, 3, 64, 96) * 2 - 1
    masks = torch.zeros(1, 2, 64, 96)
    masks[:, 0, :, :48], masks[:, 1, :, 48:] = 1, 1
    plain = _pipe()
    with torch.no_grad():
        codes = plain.encoder(image)
        expected = plain.generator(codes.content, codes.style[:, None].expand(-1, 2, -1), masks, noise_mode="none")
        margin = bench.with_margin(_pipe(), variant, 16)
        padded = margin.encoder(image)
        stride = margin.encoder.downsample_factor
        grown = 2 * 16 // stride if variant == "encode" else 0
        assert padded.content.shape[-2:] == (64 // stride + grown, 96 // stride + grown)
        assert torch.allclose(padded.style, codes.style, atol=1e-5)  # pooled over the picture only
        got = margin.generator(padded.content, padded.style[:, None].expand(-1, 2, -1), masks, noise_mode="none")
    assert got.shape == expected.shape
    inner = (got - expected)[..., 24:-24, 24:-24].abs().mean()
    border = (got - expected).abs().mean()
    assert 0 < inner < border


def test_a_margin_off_the_content_grid_is_refused():
    with pytest.raises(SystemExit, match="multiple of the content code's stride"):
        bench.with_margin(_pipe(), "code", 12)


def test_frame_strength_is_zero_for_a_flat_picture_and_grows_with_a_coloured_border():
    import numpy as np

    flat = np.full((128, 128, 3), 100, np.uint8)
    framed = flat.copy()
    framed[:6], framed[-6:], framed[:, :6], framed[:, -6:] = 160, 160, 160, 160
    assert bench.frame_strength(flat) == 0
    assert 50 < bench.frame_strength(framed) <= 60  # the outer 6 px are 60 levels off the middle


def test_the_frames_table_prints_one_row_per_margin(capsys):
    bench.main(["--frames", "0,48"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert len(rows) == 3 and rows[1].startswith("| 0 |") and rows[2].startswith("| 48 |")
    without, with_margin = ([float(v) for v in row.strip("| ").split(" | ")[1:]] for row in rows[1:])
    assert max(with_margin) < 1 < 10 < max(without)
