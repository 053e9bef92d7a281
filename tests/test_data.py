"""Training data: preprocessing presets, the image-folder dataset, the Hugging Face dataset, the factory."""

import io
import pickle
import sys
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from tcp_hub.data import (HubImageDataset, ImageFolderDataset, SyntheticScenes, UnreadableImageWarning,
                          build_dataset, make_transform)
from tcp_hub.data.transforms import to_rgb
from tcp_hub.errors import InputError


def _solid(value, size=(24, 16), mode="RGB") -> Image.Image:
    return Image.new(mode, size, value)


def _bands(width=60, height=20) -> Image.Image:
    """Three vertical bands: red | green | blue."""
    array = np.zeros((height, width, 3), np.uint8)
    third = width // 3
    array[:, :third, 0] = array[:, third:2 * third, 1] = array[:, 2 * third:, 2] = 255
    return Image.fromarray(array)


def _ramp(size=256) -> Image.Image:
    """Grey level = column index: a crop's columns tell where it came from."""
    column = np.arange(size, dtype=np.uint8)
    return Image.fromarray(np.tile(column, (size, 1)), "L")


def _unit(image: torch.Tensor) -> torch.Tensor:
    return (image + 1) * 127.5


# --- transforms -------------------------------------------------------------------------------

def test_resize_maps_colours_to_minus_one_one():
    out = make_transform("resize", 8)(_solid((255, 0, 128)))
    assert out.shape == (3, 8, 8) and out.dtype == torch.float32
    assert torch.allclose(out[:, 0, 0], torch.tensor([1.0, -1.0, 128 / 127.5 - 1]), atol=1e-6)


def test_resize_keeps_the_whole_image():
    out = make_transform("resize", 9, train=False)(_bands())
    assert out[0, :, 0].min() == 1 and out[2, :, -1].min() == 1  # red at the left, blue at the right


def test_resize_crop_takes_the_centre_when_not_training():
    out = make_transform("resize_crop", 20, train=False)(_bands())
    assert torch.equal(out[1], torch.ones(20, 20)) and (out[[0, 2]] == -1).all()


def test_resize_crop_scales_the_short_side_then_crops_at_random_positions():
    transform = make_transform("resize_crop", 10, hflip=False)
    generator = torch.Generator().manual_seed(0)
    crops = [transform(_bands(120, 40), generator) for _ in range(40)]  # resized to 30 x 10
    assert all(c.shape == (3, 10, 10) for c in crops)
    saw_red = any(c[0, :, 0].min() > 0.9 for c in crops)
    saw_blue = any(c[2, :, -1].min() > 0.9 for c in crops)
    assert saw_red and saw_blue


def test_random_crop_sides_span_the_requested_fraction_of_the_short_side():
    transform = make_transform("random_crop", 32, hflip=False, min_crop_fraction=0.25)
    generator = torch.Generator().manual_seed(0)
    fractions = []
    for _ in range(60):
        out = _unit(transform(_ramp(), generator))[0]
        # the ramp's values across the crop span (side - 1) grey levels of 255
        fractions.append(float(out[16, -1] - out[16, 0]) / 255 * 32 / 31)
    fractions = np.array(fractions)
    assert fractions.min() > 0.2 and fractions.max() < 1.02
    assert (fractions < 0.5).any() and (fractions > 0.8).any()


def test_random_crop_takes_the_centred_full_short_side_when_not_training():
    out = make_transform("random_crop", 20, train=False)(_bands())
    assert torch.equal(out[1], torch.ones(20, 20))


def test_horizontal_flip_happens_about_half_the_time_in_training_only():
    generator = torch.Generator().manual_seed(0)
    flips = [bool(make_transform("resize", 16)(_ramp(), generator)[0, 0, 0] > 0) for _ in range(200)]
    assert 0.35 < np.mean(flips) < 0.65
    for transform in (make_transform("resize", 16, hflip=False), make_transform("resize", 16, train=False)):
        assert all(transform(_ramp(), generator)[0, 0, 0] < 0 for _ in range(20))


def test_same_generator_seed_gives_the_same_crop():
    transform = make_transform("random_crop", 16)
    a = transform(_ramp(), torch.Generator().manual_seed(3))
    b = transform(_ramp(), torch.Generator().manual_seed(3))
    c = transform(_ramp(), torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_global_torch_seed_reproduces_the_crop():
    transform = make_transform("random_crop", 16)
    torch.manual_seed(0)
    a = transform(_ramp())
    torch.manual_seed(0)
    assert torch.equal(a, transform(_ramp()))


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ValueError, match="resize_crop.*random_crop"):
        make_transform("centre", 64)


@pytest.mark.parametrize("mode, value, expected", [
    ("L", 100, (100, 100, 100)),
    ("RGBA", (10, 20, 30, 255), (10, 20, 30)),
    ("RGBA", (10, 20, 30, 0), (255, 255, 255)),  # transparent -> white
    ("LA", (50, 255), (50, 50, 50)),
    ("CMYK", (0, 0, 0, 0), (255, 255, 255)),
    ("I;16", 65535, (255, 255, 255)),
    ("I;16", 32768, (128, 128, 128)),  # scaled from 16 bits, not clipped to white
    ("I", 200, (200, 200, 200)),
])
def test_any_image_mode_becomes_rgb(mode, value, expected):
    image = to_rgb(_solid(value, mode=mode))
    assert image.mode == "RGB"
    assert image.getpixel((3, 3)) == expected


def test_palette_image_becomes_its_colours():
    image = _solid((200, 30, 10)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert to_rgb(image).getpixel((0, 0)) == (200, 30, 10)


def test_exif_orientation_is_applied():
    array = np.zeros((10, 20), np.uint8)
    array[:, 10:] = 255  # stored: black left half, white right half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", exif=exif, quality=95)
    upright = np.asarray(to_rgb(Image.open(buffer)))[..., 0]
    assert upright.shape == (20, 10)
    assert upright[:8].max() < 30 and upright[12:].min() > 225  # black on top, white below


# --- image folder -----------------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path):
    """b.PNG (red), sub/a.jpg (green), z.JpEg (blue), plus a text file."""
    (tmp_path / "sub").mkdir()
    _solid((255, 0, 0)).save(tmp_path / "b.PNG")
    _solid((0, 255, 0)).save(tmp_path / "sub" / "a.jpg", quality=100)
    _solid((0, 0, 255)).save(tmp_path / "z.JpEg", quality=100)
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def _dominant(image: torch.Tensor) -> int:
    return int(image.mean(dim=(1, 2)).argmax())


def test_folder_finds_images_recursively_with_any_case_extension_sorted(folder):
    dataset = ImageFolderDataset(folder, 8)
    assert [p.relative_to(folder).as_posix() for p in dataset.files] == ["b.PNG", "sub/a.jpg", "z.JpEg"]
    assert len(dataset) == 3
    assert [_dominant(dataset[i]) for i in range(3)] == [0, 1, 2]


def test_folder_skips_hidden_files_and_follows_linked_folders(folder, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    _solid((255, 255, 0)).save(elsewhere / "linked.png")
    (folder / "link").symlink_to(elsewhere, target_is_directory=True)
    (folder / "sub" / "loop").symlink_to(folder, target_is_directory=True)  # a cycle
    (folder / "._b.PNG").write_bytes(b"macOS resource fork")
    names = [p.relative_to(folder).as_posix() for p in ImageFolderDataset(folder, 8).files]
    assert names == ["b.PNG", "link/linked.png", "sub/a.jpg", "z.JpEg"]


def test_folder_items_are_float32_in_range(folder):
    image = ImageFolderDataset(folder, 8, preset="random_crop")[1]
    assert image.shape == (3, 8, 8) and image.dtype == torch.float32
    assert image.min() >= -1 and image.max() <= 1


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist") as error:
        ImageFolderDataset(tmp_path / "nowhere", 8)
    assert "nowhere" in str(error.value)


def test_folder_without_images_names_the_path_and_extensions(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"\.jpg.*\.png") as error:
        ImageFolderDataset(tmp_path, 8)
    assert str(tmp_path) in str(error.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no training images"):
        ImageFolderDataset(empty, 8)


def test_file_instead_of_folder_is_a_clear_error(folder):
    with pytest.raises(ValueError, match="not a folder"):
        ImageFolderDataset(folder / "b.PNG", 8)


def test_corrupt_file_is_skipped_with_one_warning_and_recorded(folder):
    (folder / "c_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    dataset = ImageFolderDataset(folder, 8, train=False)
    bad = [p.name for p in dataset.files].index("c_broken.png")
    with pytest.warns(UnreadableImageWarning, match="c_broken.png") as record:
        first = dataset[bad]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = dataset[bad]  # already known: no second warning
    assert len(record) == 1
    assert torch.equal(first, second) and torch.equal(first, dataset[bad + 1])  # the next image instead
    assert dataset.skipped_files == [str(folder / "c_broken.png")]


def test_truncated_file_is_skipped(folder):
    buffer = io.BytesIO()
    _solid((9, 9, 9), size=(64, 64)).save(buffer, "JPEG")
    (folder / "y_truncated.jpg").write_bytes(buffer.getvalue()[:300])
    dataset = ImageFolderDataset(folder, 8, train=False)
    with pytest.warns(UnreadableImageWarning):
        images = [dataset[i] for i in range(len(dataset))]
    assert len(images) == 4 and len(dataset.skipped_files) == 1


def test_every_file_unreadable_is_a_clear_error(tmp_path):
    for name in ("a.png", "b.jpg"):
        (tmp_path / name).write_bytes(b"garbage")
    dataset = ImageFolderDataset(tmp_path, 8)
    refused = pytest.raises(InputError, match=f"none of the 2 images in the folder '{tmp_path}'")
    with pytest.warns(UnreadableImageWarning), refused:
        dataset[0]


def test_exclude_holds_out_files_by_name_or_relative_path(folder):
    dataset = ImageFolderDataset(folder, 8, exclude=["b.PNG", "sub/a.jpg"])
    assert [p.name for p in dataset.files] == ["z.JpEg"]
    assert sorted(p.name for p in dataset.excluded_files) == ["a.jpg", "b.PNG"]


def test_exclude_accepts_a_single_name(folder):
    assert [p.name for p in ImageFolderDataset(folder, 8, exclude="b.PNG").files] == ["a.jpg", "z.JpEg"]


def test_exclude_warns_about_names_that_match_nothing(folder):
    with pytest.warns(UserWarning, match="match no image"):
        ImageFolderDataset(folder, 8, exclude=["b.png"])  # case differs: not the file b.PNG


def test_excluding_everything_is_a_clear_error(folder):
    with pytest.raises(ValueError, match="excluded"):
        ImageFolderDataset(folder, 8, exclude=["b.PNG", "a.jpg", "z.JpEg"])


def test_folder_works_with_a_dataloader(folder):
    loader = torch.utils.data.DataLoader(ImageFolderDataset(folder, 8), batch_size=3)
    batch = next(iter(loader))
    assert batch.shape == (3, 3, 8, 8)


def test_files_skipped_in_dataloader_workers_are_reported_to_the_main_process(folder):
    (folder / "c_broken.png").write_bytes(b"garbage")
    dataset = ImageFolderDataset(folder, 8)
    batches = list(torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2))  # workers warn
    assert sum(len(b) for b in batches) == 4
    assert dataset.skipped_files == [str(folder / "c_broken.png")]


def test_a_pickled_copy_keeps_but_no_longer_shares_the_skipped_files(folder):
    (folder / "c_broken.png").write_bytes(b"garbage")
    dataset = ImageFolderDataset(folder, 8)
    with pytest.warns(UnreadableImageWarning):
        dataset[1]
    copy = pickle.loads(pickle.dumps(dataset))
    assert copy.skipped_files == dataset.skipped_files and len(copy) == 4
    (folder / "b.PNG").write_bytes(b"garbage")
    with pytest.warns(UnreadableImageWarning, match="b.PNG"):
        copy[0]
    assert len(copy.skipped_files) == 2 and len(dataset.skipped_files) == 1


# --- Hugging Face datasets --------------------------------------------------------------------

@pytest.fixture
def hub_folder(tmp_path):
    pytest.importorskip("datasets")
    data = tmp_path / "data"
    data.mkdir()
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        _solid(colour).save(data / f"{i}.png")
    return data


def test_hub_dataset_loads_an_image_dataset_offline(hub_folder, tmp_path):
    dataset = HubImageDataset("imagefolder", 8, preset="resize", data_dir=str(hub_folder),
                              cache_dir=str(tmp_path / "cache"))
    assert dataset.image_column == "image" and len(dataset) == 3
    images = [dataset[i] for i in range(3)]
    assert all(im.shape == (3, 8, 8) and im.dtype == torch.float32 for im in images)
    assert sorted(_dominant(im) for im in images) == [0, 1, 2]
    assert all(im.max() == 1 for im in images)


def test_hub_dataset_unknown_column_lists_the_columns(hub_folder, tmp_path):
    with pytest.raises(ValueError, match="no column 'photo'.*image"):
        HubImageDataset("imagefolder", 8, image_column="photo", data_dir=str(hub_folder),
                        cache_dir=str(tmp_path / "cache"))


def test_hub_dataset_skips_corrupt_images(hub_folder, tmp_path):
    (hub_folder / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    dataset = HubImageDataset("imagefolder", 8, data_dir=str(hub_folder), cache_dir=str(tmp_path / "cache"))
    with pytest.warns(UnreadableImageWarning, match="3.png"):
        images = [dataset[i] for i in range(len(dataset))]
    assert len(images) == 4 and len(dataset.skipped_files) == 1


def test_missing_datasets_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(ImportError, match="pip install datasets"):
        HubImageDataset("someone/faces", 8)


# --- factory ----------------------------------------------------------------------------------

def test_build_dataset_picks_the_folder(folder):
    dataset = build_dataset(train_data_dir=str(folder), resolution=8, preset="resize")
    assert isinstance(dataset, ImageFolderDataset) and dataset[0].shape == (3, 8, 8)


def test_build_dataset_picks_a_hub_dataset(hub_folder, tmp_path):
    dataset = build_dataset(dataset_name="imagefolder", resolution=8, data_dir=str(hub_folder),
                            cache_dir=str(tmp_path / "cache"))
    assert isinstance(dataset, HubImageDataset) and len(dataset) == 3


def test_build_dataset_makes_synthetic_scenes():
    dataset = build_dataset(dataset="synthetic", resolution=16, synthetic_length=5, seed=2)
    assert isinstance(dataset, SyntheticScenes) and len(dataset) == 5
    assert torch.equal(dataset[1], SyntheticScenes(16, length=5, seed=2)[1])


def test_build_dataset_without_data_says_what_to_pass():
    with pytest.raises(ValueError, match="--train_data_dir.*--dataset_name.*synthetic"):
        build_dataset()


def test_build_dataset_refuses_two_sources(folder):
    with pytest.raises(ValueError, match="only one"):
        build_dataset(train_data_dir=str(folder), dataset_name="someone/faces")


def test_build_dataset_refuses_unknown_kind():
    with pytest.raises(ValueError, match="folder.*hub.*synthetic"):
        build_dataset(dataset="lsun")
