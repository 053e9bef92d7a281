"""`tcp-hub convert-swae`: official Swapping Autoencoder checkpoints become tcp-hub models that compute
exactly what the official code computes.

The fixtures (tests/fixtures/swae/, made by benchmarks/official_parity.py --make_fixtures from the official
code) are reduced-width official models with random weights, saved as the official trainer saves them,
with their inputs and the official code's outputs. ``church_official_layout.json`` lists every key and
shape of the full-size official church checkpoint (all four networks).
"""

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from tcp_hub import PRESETS, InputError, TCPPipeline, cli, convert_swae_checkpoint
from tcp_hub.convert_swae import SWAE_PRESETS, SwaeOptions, encoder_config, generator_config

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "swae"
CODE_TOLERANCE = 1e-4
PIXEL_TOLERANCE = 2 / 255  # in [0, 1] pixel units


def fixture(name):
    """``(checkpoint path, official options, official inputs and outputs, noise seed)``."""
    path = FIXTURES / f"{name}_io.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return (FIXTURES / f"{name}_checkpoint.pth", SwaeOptions(**json.loads(meta["swae_options"])), tensors,
            int(meta["noise_seed"]))


@pytest.fixture(scope="module", params=["church_small", "ffhq1024_small"])
def converted(request, tmp_path_factory):
    checkpoint, options, io, seed = fixture(request.param)
    out = tmp_path_factory.mktemp(request.param)
    convert_swae_checkpoint(checkpoint, options, out)
    pipe = TCPPipeline.from_pretrained(out)
    x = io["images"].float() / 127.5 - 1
    with torch.no_grad():
        content, style = pipe.encoder(x, return_dict=False)
    noise = pipe.generator.noise_maps(content, "random", torch.Generator().manual_seed(seed))
    return pipe, io, x, content, style, noise


def pixel_difference(a, b):
    return (a.float() - b.float()).abs().max().item() / 2  # [-1, 1] -> [0, 1] units


def test_converted_codes_equal_the_official_codes(converted):
    _, io, _, content, style, _ = converted
    assert content.shape == io["content"].shape and style.shape == io["style"].shape
    assert (content - io["content"]).abs().max() < CODE_TOLERANCE
    assert (style - io["style"]).abs().max() < CODE_TOLERANCE


def test_converted_reconstructions_and_swaps_equal_the_official_images(converted):
    pipe, io, _, content, style, noise = converted
    with torch.no_grad():
        reconstruction = pipe.generator(content, style, noise=noise)
        swap = pipe.generator(content, style.flip(0), noise=noise)
    assert pixel_difference(reconstruction, io["reconstruction"]) < PIXEL_TOLERANCE
    assert pixel_difference(swap, io["swap"]) < PIXEL_TOLERANCE
    # the comparison can fail: the two images' swaps differ from their reconstructions by far more
    assert pixel_difference(swap, io["reconstruction"]) > 20 * PIXEL_TOLERANCE


def test_one_region_covering_the_image_is_the_official_modulation(converted):
    pipe, io, _, content, style, noise = converted
    masks = torch.ones(content.shape[0], 1, *io["images"].shape[-2:])
    with torch.no_grad():
        one_region = pipe.generator(content, style[:, None], masks=masks, noise=noise)
    assert pixel_difference(one_region, io["reconstruction"]) < PIXEL_TOLERANCE


def test_region_edit_on_a_converted_model_keeps_the_unpainted_half(converted):
    pipe, io, _, _, _, _ = converted
    photos = io["images"].float() / 255
    side = photos.shape[-1]
    mask = torch.zeros(1, 1, side, side)
    mask[..., side // 2:] = 1
    edited = pipe(photos[:1], style=photos[1:], mask=mask, output_type="pt").images
    photo = photos[:1]
    # far from the painted half: the photo's pixels
    assert (edited[..., : side // 4] - photo[..., : side // 4]).abs().max() < 1 / 255
    assert (edited[..., 3 * side // 4:] - photo[..., 3 * side // 4:]).abs().mean() > 0.02


def test_full_preset_is_the_official_church_architecture():
    official = SWAE_PRESETS["church"]
    assert encoder_config(official) == {k: list(v) if isinstance(v, tuple) else v
                                        for k, v in PRESETS["full"]["encoder"].items()}
    assert generator_config(official) == {"use_noise": True, **{k: list(v) if isinstance(v, tuple) else v
                                                                for k, v in PRESETS["full"]["generator"].items()}}


def test_ffhq1024_widths_follow_the_official_formulas():
    opt = SWAE_PRESETS["ffhq1024"]
    enc, gen = encoder_config(opt), generator_config(opt)
    assert (enc["stem_channels"], enc["block_out_channels"], enc["style_block_channels"], enc["style_dim"]) == \
        (13, [26, 51, 102, 205, 410], [819, 1536], 1536)
    assert (gen["head_channels"], gen["block_out_channels"]) == ([204, 409], [409, 409, 409, 204, 102])


def test_cli_converts_the_full_church_layout_with_discriminators_for_init_from(tmp_path, capsys):
    from tcp_hub.training.loop import _trained_discriminators

    layout = json.loads((FIXTURES / "church_official_layout.json").read_text())
    state = {k: torch.tensor(v["value"]) if "value" in v else
             torch.zeros((), dtype=getattr(torch, v["dtype"])).expand(v["shape"]) for k, v in layout.items()}
    checkpoint = tmp_path / "latest_checkpoint.pth"
    torch.save(state, checkpoint)
    out = tmp_path / "church"
    assert cli.main(["convert-swae", str(checkpoint), "--preset", "church", "-o", str(out), "--fp16",
                     "--with_discriminators"]) == 0
    assert "wrote" in capsys.readouterr().out
    pipe = TCPPipeline.from_pretrained(out)
    assert pipe.encoder.config.style_dim == 2048 and pipe.generator.config.demodulation == "weight"
    stored = load_file(str(next((out / "generator").glob("*.safetensors"))))
    assert all(v.dtype == torch.float16 for v in stored.values())
    discriminator, patch_discriminator = _trained_discriminators(out)
    assert discriminator.config.stddev_group == 0 and patch_discriminator.config.patch_size == 128
    card = (out / "README.md").read_text()
    assert "latest_checkpoint.pth" in card and "`church`" in card and "Adobe Research License" in card
    assert "noncommercial" in card and "license: other" in card


def test_a_checkpoint_of_another_preset_is_refused_naming_the_key_and_both_shapes(tmp_path, capsys):
    checkpoint, *_ = fixture("church_small")
    assert cli.main(["convert-swae", str(checkpoint), "--preset", "church", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "E.FromRGB.Conv.weight has shape (2, 3, 1, 1)" in err and "(32, 3, 1, 1)" in err
    assert not (tmp_path / "out").exists()


def test_every_key_is_mapped_or_named(tmp_path):
    checkpoint, options, *_ = fixture("church_small")
    state = torch.load(checkpoint, weights_only=True)
    with_extra = tmp_path / "extra.pth"
    torch.save({**state, "G.ExtraBlock.weight": torch.zeros(1)}, with_extra)
    with pytest.raises(InputError, match="G.ExtraBlock.weight"):
        convert_swae_checkpoint(with_extra, options, tmp_path / "a")
    missing = tmp_path / "missing.pth"
    torch.save({k: v for k, v in state.items() if k != "G.ToRGB.bias"}, missing)
    with pytest.raises(InputError, match="G.ToRGB.bias"):
        convert_swae_checkpoint(missing, options, tmp_path / "b")
    with pytest.raises(InputError, match="no D.* or Dpatch"):
        convert_swae_checkpoint(checkpoint, options, tmp_path / "c", with_discriminators=True)


class _Options:
    """Stands for a pickled object (the official code can save its options beside the weights)."""


def test_a_checkpoint_that_needs_pickled_code_is_refused(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"E.FromRGB.Conv.weight": torch.zeros(1), "opt": _Options()}, path)
    with pytest.raises(InputError, match="pickled code"):
        convert_swae_checkpoint(path, "church", tmp_path / "out")


def test_ffhq1024_discriminators_are_refused_before_reading_the_file(tmp_path):
    with pytest.raises(InputError, match="768 px crops"):
        convert_swae_checkpoint(tmp_path / "absent.pth", "ffhq1024", tmp_path / "out", with_discriminators=True)


def test_fixture_options_are_reduced_official_presets():
    for name, preset in [("church_small", "church"), ("ffhq1024_small", "ffhq1024")]:
        _, options, *_ = fixture(name)
        official = asdict(SWAE_PRESETS[preset])
        changed = {k for k, v in asdict(options).items() if v != official[k]}
        assert changed <= {"netE_scale_capacity", "netG_scale_capacity", "global_code_ch"}, changed


def _converted_fixture(tmp_path, name="church_small"):
    checkpoint, options, *_ = fixture(name)
    out = tmp_path / name
    convert_swae_checkpoint(checkpoint, options, out)
    return out


def test_init_from_a_converted_model_fine_tunes_it_with_tcp_losses(tmp_path):
    from accelerate.state import AcceleratorState

    from tcp_hub import TCPDiscriminator, TCPPatchDiscriminator
    from tcp_hub.pipeline import load_pipeline
    from tcp_hub.training import parse_args, train

    source = _converted_fixture(tmp_path)
    # stand-ins for the official discriminators, whose fixed 512-channel core is too slow for a CPU test
    TCPDiscriminator(resolution=128, channel_multiplier=1 / 16, max_channels=16, stddev_group=0).save_pretrained(
        source / "discriminators" / "discriminator")
    TCPPatchDiscriminator(patch_size=16, channel_multiplier=0.25, max_channels=16, mlp_channels=(32,)).save_pretrained(
        source / "discriminators" / "patch_discriminator")
    out = tmp_path / "run"
    try:
        train(parse_args(["--dataset", "synthetic", "--synthetic_length", "8", "--resolution", "128",
                          "--train_batch_size", "2", "--max_train_steps", "2", "--checkpointing_steps", "2",
                          "--report_to", "none", "--sample_steps", "0", "--logging_steps", "1", "--r1_interval", "2",
                          "--code_consistency_interval", "1", "--init_from", str(source), "--output_dir", str(out)]))
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
    before, after = TCPPipeline.from_pretrained(source), load_pipeline(out / "checkpoint-2")
    assert after.generator.config.demodulation == "weight" and after.encoder.config.padding_mode == "reflect"
    assert after.encoder.config.block_out_channels == before.encoder.config.block_out_channels
    old = before.generator.state_dict()
    changed = [k for k, v in after.generator.state_dict().items() if not torch.equal(v, old[k])]
    assert changed  # the TCP losses moved the official weights
    x = torch.rand(1, 3, 128, 128)
    assert torch.isfinite(after(x, style=x.flip(-1), output_type="pt").images).all()


def test_app_model_box_loads_a_converted_folder_when_local_models_are_allowed(tmp_path, monkeypatch):
    from tcp_hub import app_logic

    folder = _converted_fixture(tmp_path, "ffhq1024_small")
    monkeypatch.setenv(app_logic.ALLOW_LOCAL_MODELS_ENV, "1")
    pipe = app_logic.load_pipeline(str(folder))
    assert pipe.encoder.downsample_factor == 32 and pipe.generator.config.demodulation == "weight"
    monkeypatch.setenv(app_logic.ALLOW_LOCAL_MODELS_ENV, "0")
    with pytest.raises(InputError, match="could not load the model"):
        app_logic.load_pipeline(str(folder))
