"""The tcp-hub command line: swaps, region swaps, codes, export, and one-line errors."""

import copy

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from tcp_hub import TCPPipeline, cli
from tcp_hub.cli import main


@pytest.fixture
def model_dir(tmp_path, tiny_pipe):
    tiny_pipe.encoder.register_to_config(sample_size=256)  # trained at 256 px: the default working size
    tiny_pipe.save_pretrained(tmp_path / "model")
    return str(tmp_path / "model")


@pytest.fixture
def files(tmp_path, photo, reference):
    Image.fromarray(photo).save(tmp_path / "content.png")
    Image.fromarray(reference).save(tmp_path / "style.png")
    mask = np.zeros((50, 70), np.uint8)
    mask[:, :35] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return tmp_path


def test_swap_writes_the_same_image_as_the_pipeline(model_dir, files):
    out = files / "out.png"
    assert main(["swap", "--model", model_dir, "--content", str(files / "content.png"),
                 "--style", str(files / "style.png"), "--strength", "0.8", "-o", str(out)]) == 0
    pipe = TCPPipeline.from_pretrained(model_dir)
    expected = pipe(str(files / "content.png"), str(files / "style.png"), strength=0.8, resolution=256).images[0]
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(expected))


def test_region_swap_changes_only_the_masked_half(model_dir, files):
    global_out, region_out = files / "global.png", files / "region.png"
    common = ["--model", model_dir, "--content", str(files / "content.png"), "--no-noise"]
    assert main(["swap", *common, "--style", str(files / "style.png"), "-o", str(global_out)]) == 0
    assert main(["swap", *common, "--style", str(files / "style.png"), "--mask", str(files / "mask.png"),
                 "-o", str(region_out)]) == 0
    region = np.asarray(Image.open(region_out)).astype(int)
    swapped = np.asarray(Image.open(global_out)).astype(int)
    assert np.abs(region[:, :8] - swapped[:, :8]).max() <= 1


def test_region_swap_keeps_the_photo_outside_the_mask_unless_told_not_to(model_dir, files):
    kept, rendered = files / "kept.png", files / "rendered.png"
    common = ["--model", model_dir, "--content", str(files / "content.png"), "--style", str(files / "style.png"),
              "--mask", str(files / "mask.png")]
    assert main(["swap", *common, "-o", str(kept)]) == 0
    assert main(["swap", *common, "--no-keep_unedited", "--detail", "0.3", "--texture", "1", "-o", str(rendered)]) == 0
    photo = np.asarray(Image.open(files / "content.png"))
    assert np.array_equal(np.asarray(Image.open(kept))[:, 50:], photo[:, 50:])  # the mask covers x < 35
    pipe = TCPPipeline.from_pretrained(model_dir)
    expected = pipe(str(files / "content.png"), [str(files / "style.png")], mask=[str(files / "mask.png")],
                    resolution=256, keep_unedited=False, detail=0.3, texture=1.0).images[0]
    assert np.array_equal(np.asarray(Image.open(rendered)), np.asarray(expected))
    assert not np.array_equal(np.asarray(Image.open(rendered))[:, 50:], photo[:, 50:])


def test_encode_writes_codes(model_dir, files):
    out = files / "codes.safetensors"
    assert main(["encode", "--model", model_dir, "--image", str(files / "content.png"), "-o", str(out)]) == 0
    codes = load_file(out)
    assert codes["content"].shape[:2] == (1, 4) and codes["style"].shape == (1, 16)


@pytest.mark.parametrize("extra, message", [
    (["--style", "{d}/missing.png"], "does not exist"),
    (["--style", "{d}/style.png", "--mask", "{d}/mask.png", "--mask", "{d}/mask.png"],
     "2 masks but 1 style references"),
    (["--style", "{d}/style.png", "--strength", "2"], "between 0"),
    (["--style", "{d}/style.png", "--detail", "-1"], "detail is -1"),
    (["--style", "{d}/style.png", "--texture", "2"], "texture is 2"),
    (["--style", "{d}/style.png", "--style_mask", "none", "--style_mask", "none"], "2 --style_mask but 1 --style"),
])
def test_bad_input_exits_non_zero_with_one_line(model_dir, files, capsys, extra, message):
    args = ["swap", "--model", model_dir, "--content", str(files / "content.png"), "-o", str(files / "x.png")]
    code = main(args + [a.format(d=files) for a in extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error:") and message in err[-1]


def test_unloadable_model_is_one_line(files, capsys):
    code = main(["swap", "--model", str(files / "no-such-model"), "--content", str(files / "content.png"),
                 "--style", str(files / "style.png"), "-o", str(files / "x.png")])
    assert code == 2
    assert "could not load the model" in capsys.readouterr().err


def test_export_turns_a_training_checkpoint_into_a_small_float16_pipeline(tmp_path, tiny_models, files):
    encoder, generator = tiny_models
    checkpoint = tmp_path / "checkpoint-10"
    encoder.save_pretrained(checkpoint / "encoder")
    generator.save_pretrained(checkpoint / "generator")
    ema_generator = copy.deepcopy(generator)
    with torch.no_grad():
        for p in ema_generator.parameters():
            p.mul_(0.5)  # the EMA copy differs: export must pick it
    ema_generator.save_pretrained(checkpoint / "ema_generator")
    assert main(["export", "--model", str(checkpoint), "-o", str(tmp_path / "exported")]) == 0
    loaded = TCPPipeline.from_pretrained(tmp_path / "exported")
    weights = load_file(tmp_path / "exported" / "generator" / "diffusion_pytorch_model.safetensors")
    assert all(t.dtype == torch.float16 for t in weights.values())
    expected = ema_generator.to_rgb.conv.weight.detach().half().float()
    torch.testing.assert_close(loaded.generator.to_rgb.conv.weight.detach().float(), expected)
    assert not torch.allclose(expected, generator.to_rgb.conv.weight.detach())


def test_export_of_a_folder_without_models_says_what_is_missing(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["export", "--model", str(tmp_path / "empty"), "-o", str(tmp_path / "x")]) == 2
    assert "no encoder/ subfolder" in capsys.readouterr().err


def test_an_output_extension_pillow_cannot_write_is_refused_before_the_work(model_dir, files, capsys, monkeypatch):
    loaded = []
    monkeypatch.setattr(cli, "_load_pipeline", lambda *args: loaded.append(args))
    code = main(["swap", "--model", model_dir, "--content", str(files / "content.png"),
                 "--style", str(files / "style.png"), "-o", str(files / "out.xyz")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and loaded == []
    assert err == [f"error: -o {files / 'out.xyz'}: cannot write an image with the extension '.xyz'; use .png, "
                   ".jpg, .webp, .bmp or .tif"]


def test_encode_to_a_path_not_ending_in_safetensors_is_refused(model_dir, files, capsys):
    code = main(["encode", "--model", model_dir, "--image", str(files / "content.png"), "-o", str(files / "c.pt")])
    assert code == 2
    assert "give a path ending in .safetensors" in capsys.readouterr().err


def test_encode_on_a_full_disk_is_one_line_naming_the_path_and_leaves_no_partial_file(model_dir, files, capsys,
                                                                                        monkeypatch):
    import safetensors.torch
    from safetensors import SafetensorError

    def full_disk(tensors, filename, metadata=None):
        open(filename, "wb").write(b"partial")
        raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })")

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    out = files / "codes.safetensors"
    code = main(["encode", "--model", model_dir, "--image", str(files / "content.png"), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()
    assert err[-1].startswith(f"error: could not write {out} (Error while serializing")
    assert "disk is not full" in err[-1]


def test_max_side_flag_sets_the_size_limit_and_is_named_in_the_error(model_dir, files, capsys):
    common = ["swap", "--model", model_dir, "--content", str(files / "content.png"), "--style",
              str(files / "style.png"), "--resolution", "32"]
    assert main([*common, "--max_side", "60", "-o", str(files / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "is 70x50; the longest side may be at most 60 px" in err and "--max_side" in err
    assert main([*common, "--max_side", "70", "-o", str(files / "x.png")]) == 0


def test_no_resize_mask_flag_refuses_a_mask_of_another_size(model_dir, files, capsys):
    Image.fromarray(np.full((20, 20), 255, np.uint8)).save(files / "small.png")
    common = ["swap", "--model", model_dir, "--content", str(files / "content.png"), "--style",
              str(files / "style.png"), "--mask", str(files / "small.png"), "-o", str(files / "x.png")]
    assert main(common) == 0
    assert "--no_resize_mask on the command line refuses" in capsys.readouterr().err
    assert main([*common, "--no_resize_mask"]) == 2
    assert "error: mask 1 is 20x20 but the image is 70x50" in capsys.readouterr().err


def test_style_mask_flag_takes_each_style_from_the_painted_part_of_its_reference(model_dir, files):
    half = np.zeros((64, 64), np.uint8)
    half[:, :32] = 255
    Image.fromarray(half).save(files / "style_mask.png")
    content, style, style_mask, mask = (str(files / n)
                                        for n in ("content.png", "style.png", "style_mask.png", "mask.png"))
    right = np.zeros((50, 70), np.uint8)
    right[:, 35:] = 255
    Image.fromarray(right).save(files / "right.png")
    common = ["swap", "--model", model_dir, "--content", content]
    outs = {name: files / f"{name}.png" for name in ("global", "whole", "regions")}
    assert main([*common, "--style", style, "--style_mask", style_mask, "-o", str(outs["global"])]) == 0
    assert main([*common, "--style", style, "-o", str(outs["whole"])]) == 0
    assert main([*common, "--style", style, "--mask", mask, "--style_mask", "none", "--style", style,
                 "--mask", str(files / "right.png"), "--style_mask", style_mask, "-o", str(outs["regions"])]) == 0
    pipe = TCPPipeline.from_pretrained(model_dir)
    expected = {
        "global": pipe(content, style, style_mask=style_mask, resolution=256).images[0],
        "regions": pipe(content, [style, style], mask=[mask, str(files / "right.png")], style_mask=[None, style_mask],
                        resolution=256).images[0],
    }
    for name, image in expected.items():
        assert np.array_equal(np.asarray(Image.open(outs[name])), np.asarray(image)), name
    assert not np.array_equal(np.asarray(Image.open(outs["global"])), np.asarray(Image.open(outs["whole"])))


def test_paste_writes_the_same_image_as_the_pipeline(model_dir, files):
    out = files / "pasted.png"
    args = ["--model", model_dir, "--image", str(files / "content.png"), "--mask", str(files / "mask.png")]
    assert main(["paste", *args, "--offset", "32,0", "-o", str(out)]) == 0
    pipe = TCPPipeline.from_pretrained(model_dir)
    expected = pipe.paste_content(str(files / "content.png"), str(files / "mask.png"), offset=(32, 0),
                                  resolution=256).images[0]
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(expected))


def test_suggest_writes_the_pipelines_mask(model_dir, files, capsys):
    out = files / "suggested.png"
    assert main(["suggest", "--model", model_dir, "--image", str(files / "content.png"), "--point", "10,20",
                 "--threshold", "0.5", "--no-connected", "-o", str(out)]) == 0
    pipe = TCPPipeline.from_pretrained(model_dir)
    expected = pipe.suggest_region(str(files / "content.png"), (10, 20), 0.5, connected=False, resolution=256)
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(expected))
    assert "of the image" in capsys.readouterr().out


@pytest.mark.parametrize("command, extra, message", [
    ("paste", ["--offset", "40"], "--offset must be two numbers"),
    ("paste", ["--offset", "a,b"], "--offset must be two numbers"),
    ("suggest", ["--point", "500,0"], "outside the image"),
])
def test_bad_points_and_offsets_are_one_line(model_dir, files, capsys, command, extra, message):
    args = ["--model", model_dir, "--image", str(files / "content.png"), "-o", str(files / "x.png")]
    if command == "paste":
        args += ["--mask", str(files / "mask.png")]
    assert main([command, *args, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err.strip().splitlines()[-1] and "Traceback" not in err
