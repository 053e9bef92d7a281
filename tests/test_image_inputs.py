"""Every kind of image a user may pass becomes the right RGB picture, or a clear error."""

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from tcp_hub.errors import InputError
from tcp_hub.image_io import load_image, pad_to_multiple, pil_to_tensor


def png_claiming(width: int, height: int) -> bytes:
    """A few-byte PNG whose header claims ``width`` x ``height`` (its pixel data is never reached)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header is rewritten to claim ``width`` x ``height``."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 120, 30)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_rgba_is_composited_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red, bottom half transparent
    out = np.asarray(load_image(Image.fromarray(rgba, "RGBA")))
    assert out[0, 0].tolist() == [200, 0, 0]
    assert out[3, 0].tolist() == [255, 255, 255]


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "LA", "I;16", "1"])
def test_any_pil_mode_becomes_rgb(mode):
    base = Image.fromarray(np.full((6, 5, 3), 128, np.uint8))
    img = Image.fromarray(np.full((6, 5), 128 * 257, np.uint16)) if mode == "I;16" else base.convert(mode)
    out = load_image(img)
    assert out.mode == "RGB" and out.size == (5, 6)
    if mode not in ("1", "CMYK", "P"):
        assert abs(int(np.asarray(out)[0, 0, 0]) - 128) <= 1


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (30, 10), (10, 200, 10))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    img.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_image(tmp_path / "rotated.jpg").size == (10, 30)


def test_numpy_and_tensor_inputs_agree():
    arr = np.random.default_rng(0).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    from_float = load_image(arr.astype(np.float32) / 255)
    from_tensor = load_image(torch.from_numpy(arr).permute(2, 0, 1).float() / 255)
    from_uint16 = load_image(arr.astype(np.uint16) * 257)
    for img in (from_float, from_tensor, from_uint16):
        assert np.abs(np.asarray(img).astype(int) - arr).max() <= 1


def test_float_array_outside_unit_range_is_refused():
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        load_image(np.full((4, 4, 3), 2.0, np.float32))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        load_image(torch.full((3, 4, 4), -0.5))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_image(tmp_path / "nope.png")


def test_non_image_file_is_explained(tmp_path):
    (tmp_path / "notes.png").write_text("just text")
    with pytest.raises(InputError, match="not an image"):
        load_image(tmp_path / "notes.png")


def test_truncated_file_is_explained(tmp_path):
    Image.new("RGB", (64, 64), (1, 2, 3)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_image(tmp_path / "cut.png")


def test_empty_image_is_refused():
    with pytest.raises(InputError, match="empty"):
        load_image(np.zeros((0, 5, 3), np.uint8))


def test_wrong_type_is_explained():
    with pytest.raises(InputError, match="file path, PIL image"):
        load_image(42)


def test_padding_to_multiples_of_16_mirrors_without_resampling():
    x = pil_to_tensor(Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 33, 3), dtype=np.uint8)))
    padded = pad_to_multiple(x, 16)
    assert padded.shape[-2:] == (32, 48)
    torch.testing.assert_close(padded[..., :20, :33], x)
    torch.testing.assert_close(padded[..., 20, :33], x[..., 18, :])  # mirrored row


def test_decompression_bomb_png_is_an_input_error_with_the_limit(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(30000, 30000))
    with pytest.raises(InputError, match=r"style image file .*bomb.png' is too large.*at most 1024 px"):
        load_image(path, "style image", max_side=1024)


def test_image_file_over_max_side_is_refused_from_its_header_without_decoding(tmp_path, monkeypatch):
    path = tmp_path / "huge.jpg"
    path.write_bytes(jpeg_claiming(10000, 10000))
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self))
    with pytest.warns(Image.DecompressionBombWarning), \
            pytest.raises(InputError, match=r"huge.jpg' is 10000x10000; the longest side may be at most 1024 px"):
        load_image(path, "content image", max_side=1024)
    assert decoded == []


def test_image_file_over_pillows_pixel_limit_is_refused_without_a_side_limit(tmp_path):
    path = tmp_path / "huge.jpg"
    path.write_bytes(jpeg_claiming(10000, 10000))
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(InputError, match="decompression bomb"):
        load_image(path)
