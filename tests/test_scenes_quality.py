"""Specifications of benchmarks/scenes_quality.py's photo list, pair sampling and contact sheets.

The end-to-end runs of the script (a tiny model, FID included) are in tests/test_fid.py.
"""

import pytest
import torch
from PIL import Image
from scripts import load_script

from tcp_hub.errors import InputError

bench = load_script("benchmarks/scenes_quality.py", "scenes_quality")


def test_sampled_pairs_are_whole_cycles_with_each_photo_content_and_style_equally_often():
    pairs = bench.sample_pairs(26, 130)
    assert pairs.shape == (130, 2)
    assert len({tuple(p) for p in pairs.tolist()}) == 130 and bool((pairs[:, 0] != pairs[:, 1]).all())
    assert torch.equal(torch.bincount(pairs[:, 0]), torch.full((26,), 5))
    assert torch.equal(torch.bincount(pairs[:, 1]), torch.full((26,), 5))
    assert torch.equal(pairs[:26, 1], (torch.arange(26) + 1) % 26)  # offset 1 first: the equal-N FID set


def test_max_pairs_zero_or_above_all_gives_every_ordered_pair_and_below_one_cycle_gives_one():
    every = {(i, j) for i in range(5) for j in range(5) if i != j}
    assert {tuple(p) for p in bench.sample_pairs(5, 0).tolist()} == every
    assert {tuple(p) for p in bench.sample_pairs(5, 1000).tolist()} == every
    assert len(bench.sample_pairs(5, 3)) == 5


def test_a_photo_list_selects_exactly_the_listed_photos_in_its_order(tmp_path):
    for name in ("a/x.jpg", "a/y.jpg", "b/z.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    listing = tmp_path / "holdout.txt"
    listing.write_text("# held out\nb/z.jpg\n\n  a/x.jpg  \n")
    files = bench.photo_files(str(tmp_path), str(listing), max_images=50)
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["b/z.jpg", "a/x.jpg"]


def test_a_photo_list_naming_a_missing_photo_is_refused_with_its_path(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "x.jpg")
    listing = tmp_path / "holdout.txt"
    listing.write_text("x.jpg\nphotos/gone.jpg\n")
    with pytest.raises(InputError, match=r"1 of the 2 photos.*gone\.jpg.*relative to --images"):
        bench.photo_files(str(tmp_path), str(listing), max_images=50)


def test_contact_sheets_are_at_most_1200_px_wide_with_a_label_row():
    rows = [[None] + [torch.zeros(3, 256, 256)] * 5] + [[torch.zeros(3, 256, 256)] * 6] * 5
    sheet = bench.contact_sheet(rows, ["content \\ style"])
    assert sheet.width <= 1200 and sheet.width == 6 * (1200 // 6)
    assert sheet.height == 16 + 6 * (1200 // 6)
