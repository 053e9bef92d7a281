"""DeviceCropSampler: the "random_crop" preset's crops cut from photos held on the training device."""

import pytest
import torch
from PIL import Image

from tcp_hub.data.device_crops import DeviceCropSampler, _decode
from tcp_hub.data.transforms import to_tensor
from tcp_hub.errors import InputError
from tcp_hub.evaluation import psnr

R = 64


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Three textured photos of different sizes and aspect ratios (one needs several pyramid levels)."""
    folder = tmp_path_factory.mktemp("photos")
    g = torch.Generator().manual_seed(0)
    paths = []
    for i, (w, h) in enumerate([(300, 200), (180, 256), (96, 64)]):
        yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
        smooth = torch.stack([xx, yy, (xx + yy) / 2])
        detail = torch.nn.functional.avg_pool2d(torch.rand(1, 3, h, w, generator=g), 3, 1, 1)[0]
        pixels = ((0.6 * smooth + 0.4 * detail) * 255).round().byte().permute(1, 2, 0).numpy()
        paths.append(folder / f"photo{i}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


@pytest.mark.parametrize("box", [(0, 0.0, 0.0, 200.0), (0, 37.5, 12.25, 150.0), (0, 100.0, 50.0, 70.0),
                                 (1, 0.0, 70.0, 180.0), (2, 10.0, 0.0, 64.0), (2, 40.0, 20.0, 30.0)])
def test_crops_match_pil_resizing_the_same_box(photos, box):
    sampler = DeviceCropSampler(photos, R, "cpu")
    i, left, top, side = box
    for flip in (False, True):
        image = Image.fromarray(_decode(photos[i], 4 * R).permute(1, 2, 0).numpy())
        expected = image.resize((R, R), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))
        if flip:
            expected = expected.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        got = sampler.crops(torch.tensor([i]), torch.tensor([left]), torch.tensor([top]), torch.tensor([side]),
                            torch.tensor([flip]))
        assert float(psnr(got, to_tensor(expected)[None])) > 33


def test_photos_get_enough_pyramid_levels_for_any_crop(photos):
    sampler = DeviceCropSampler(photos, R, "cpu")  # short sides 200, 180, 64 -> shrinks up to 3.1x
    assert len(sampler.pyramid) == 2
    assert sampler.pyramid[1].shape[2:] == (128, 150)


def test_batches_are_in_range_and_repeat_for_the_same_generator_seed(photos):
    sampler = DeviceCropSampler(photos, R, "cpu", min_crop_fraction=0.5)
    a = sampler.sample(8, torch.Generator().manual_seed(3))
    b = sampler.sample(8, torch.Generator().manual_seed(3))
    c = sampler.sample(8, torch.Generator().manual_seed(4))
    assert a.shape == (8, 3, R, R) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert -1 <= float(a.min()) and float(a.max()) <= 1 and float(a.std()) > 0.1


def test_unreadable_photos_are_skipped_and_named(photos, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    sampler = DeviceCropSampler([broken, *photos], R, "cpu")
    assert len(sampler) == 3 and sampler.skipped_files == [str(broken)]
    with pytest.raises(InputError, match="could be read"):
        DeviceCropSampler([broken], R, "cpu")


def test_refuses_photos_over_the_memory_limit(photos):
    with pytest.raises(InputError, match="without --data_on_device"):
        DeviceCropSampler(photos, R, "cpu", max_bytes=1e4)
