"""benchmarks/edit_texture.py: its default variant is what the pipeline returns, and every variant is scored."""

import math

import torch
from photo_tensors import eight_bit_photos
from scripts import load_script

bench = load_script("benchmarks/edit_texture.py", "edit_texture_benchmark")


def test_the_variants_check_their_default_against_the_pipeline_and_keep_the_photo_with_texture_0(tiny_pipe):
    photos = eight_bit_photos()
    pairs = torch.tensor([[0, 1], [1, 2], [2, 0]])
    swaps = bench.variants(photos, pairs, bench.renderings(tiny_pipe, photos, pairs))  # asserts the default
    assert sum(name.endswith("(default)") for name in swaps) == 1
    assert len(swaps) == 3 + len(bench.GUIDED) + len(bench.GAUSSIAN_SIGMAS)
    rows = bench.score(photos, pairs, swaps, bench.inception_features(photos, 16, "cpu"))
    assert all(math.isfinite(v) for r in rows.values() for v in r.values())
    default = next(r for name, r in rows.items() if name.endswith("(default)"))
    generator = rows["generator only (texture 1, detail 0)"]
    assert default["edges"] > 0.95 and default["edges"] > generator["edges"]


def test_the_colour_guided_filter_keeps_a_colour_edge_the_grey_one_smears():
    # red | green halves of the same grey level; the change follows the colour edge
    guide = torch.zeros(1, 3, 32, 32)
    guide[:, 0, :, :16], guide[:, 1, :, 16:] = 0.6, 0.6
    change = torch.zeros(1, 1, 32, 32)
    change[..., :16] = 0.5
    colour = bench.colour_guided_filter(change, guide, radius=4, eps=1e-4)
    grey = bench.guided_filter(change, guide, radius=4, eps=1e-4)
    assert (colour - change).abs().max() < 0.01
    assert (grey - change).abs().max() > 0.2
    assert torch.allclose(bench.colour_guided_filter(torch.full((1, 2, 8, 8), 0.3), torch.rand(1, 3, 8, 8), 2),
                          torch.full((1, 2, 8, 8), 0.3), atol=1e-5)


def test_the_alternatives_leave_the_photo_alone_where_nothing_changes():
    photo, own = eight_bit_photos()[:2], eight_bit_photos()[1:3]
    for name, out in bench.alternatives(photo, own, own).items():
        assert (out - photo).abs().max() < 0.02, name
    mapped = bench.global_affine(own, own * 0.5 + 0.1)(photo)
    assert torch.allclose(mapped, photo * 0.5 + 0.1, atol=1e-3)
