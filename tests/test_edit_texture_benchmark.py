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
