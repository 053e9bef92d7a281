"""benchmarks/detail_transfer.py: its default variant is what the pipeline returns, and its tables have a row
per variant."""

import math

from photo_tensors import eight_bit_photos
from scripts import load_script

bench = load_script("benchmarks/detail_transfer.py", "detail_transfer_benchmark")


def test_the_detail_table_checks_its_default_against_the_pipeline_and_scores_every_variant(tiny_pipe):
    pairs = bench.cycle_pairs(3, 3)
    # detail_table asserts that its default variant is the pipeline's output
    rows = bench.detail_table(tiny_pipe, eight_bit_photos(), pairs)
    assert len(rows) == 1 + len(bench.SIGMAS) * len(bench.AMOUNTS)
    assert sum("(default)" in name for name, *_ in rows) == 1
    generator_only = rows[0]
    full_residual = [r for r in rows if r[0].startswith("detail 1, no high-pass")][0]
    assert all(math.isfinite(v) for _, *values in rows for v in values)
    # the photo's residual added back brings its edges and sharpness back (edges: 1 = the photo's)
    assert full_residual[1] > 0.95 and full_residual[1] > generator_only[1] + 0.05
    assert abs(full_residual[3] - 1) < abs(generator_only[3] - 1)
