"""Exact parity of `tcp-hub convert-swae` with the official Swapping Autoencoder (a development script).

It builds the official networks from a checkout of taesungp/swapping-autoencoder-pytorch (Adobe
Research License: not ours to ship, so it is read from ``--official``, never copied here), on a CPU
with the checkout's pure-PyTorch ops, gives them random weights (biases, noise strengths and
modulation biases included), saves the checkpoint the way the official trainer does
(``BaseModel.save``), converts it with `tcp_hub.convert_swae_checkpoint` and compares content and
style codes, reconstructions and swaps, the same noise fed to both (and, with ``--discriminators``,
both discriminators' logits).

    git --git-dir=<mirror> archive HEAD | tar -x -C /tmp/swae-official
    python benchmarks/official_parity.py --official /tmp/swae-official --preset church --resolution 256
    python benchmarks/official_parity.py --official /tmp/swae-official --preset ffhq1024 --resolution 512
    python benchmarks/official_parity.py --official /tmp/swae-official --make_fixtures tests/fixtures/swae

``--make_fixtures`` writes the reduced-width fixtures of tests/test_swae_convert.py: per configuration
an official checkpoint (E and G only: the official discriminators have a fixed 512-channel core, far
too large for a fixture) and ``<name>_io.safetensors`` with the inputs and the official outputs.
"""

import argparse
import ast
import importlib
import json
import shutil
import sys
import tempfile
import time
import types
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tcp_hub.convert_swae import SWAE_PRESETS, SwaeOptions, convert_swae_checkpoint, reduced  # noqa: E402

NOISE_SEED = 1234
# Reduced-width official configurations for the CI fixtures (the official *_scale_capacity options):
# church's layout at 128 px, and ffhq1024's (5 down-samplings, its odd widths) at 224 px.
FIXTURES = {
    "church_small": (reduced("church", netE_scale_capacity=1 / 16, netG_scale_capacity=1 / 16, global_code_ch=128),
                     128),
    "ffhq1024_small": (reduced("ffhq1024", netE_scale_capacity=0.4 / 16, netG_scale_capacity=0.8 / 16,
                               global_code_ch=1536 // 16), 224),
}


def _functions_from(path: Path, names, namespace):
    """Define the named top-level functions of a source file in ``namespace`` (without importing the file,
    whose package needs torchvision)."""
    tree = ast.parse(path.read_text())
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in names]
    exec(compile(ast.Module(body=defs, type_ignores=[]), str(path), "exec"), namespace)


def load_official(checkout: Path):
    """The official ``SwappingAutoencoderModel`` class and its networks' option hooks, importable on a CPU:
    the checkout's ``util`` package is replaced by the four functions the networks use, with
    ``is_custom_kernel_supported`` false (no CUDA extension is compiled; the pure-PyTorch ops run)."""
    checkout = Path(checkout).resolve()
    util = types.ModuleType("util")
    util.__dict__.update(torch=torch, importlib=importlib, argparse=argparse)
    _functions_from(checkout / "util" / "util.py", {"normalize", "str2bool", "find_class_in_module"}, util.__dict__)
    util.is_custom_kernel_supported = lambda: False
    sys.modules["util"] = util
    sys.modules.setdefault("torchvision", types.ModuleType("torchvision"))  # imported by the unused losses module
    sys.path.insert(0, str(checkout))
    from models.swapping_autoencoder_model import SwappingAutoencoderModel
    return SwappingAutoencoderModel


def official_options(model_cls, options: SwaeOptions, checkpoints_dir: Path, with_discriminators: bool):
    from models.networks.discriminator import StyleGAN2Discriminator
    from models.networks.encoder import StyleGAN2ResnetEncoder
    from models.networks.generator import StyleGAN2ResnetGenerator
    from models.networks.patch_discriminator import StyleGAN2PatchDiscriminator

    parser = argparse.ArgumentParser()
    for cls in (model_cls, StyleGAN2ResnetEncoder, StyleGAN2ResnetGenerator, StyleGAN2Discriminator,
                StyleGAN2PatchDiscriminator):
        parser = cls.modify_commandline_options(parser, True) or parser
    opt = parser.parse_args([])
    vars(opt).update(netE="StyleGAN2Resnet", netG="StyleGAN2Resnet", netD="StyleGAN2", netPatchD="StyleGAN2",
                     use_antialias=True, num_classes=0, num_gpus=0, isTrain=True, continue_train=False,
                     checkpoints_dir=str(checkpoints_dir), name="parity")
    vars(opt).update(asdict(options))
    if not with_discriminators:
        opt.lambda_GAN = opt.lambda_PatchGAN = 0.0
    return opt


def build_official(model_cls, opt, seed: int):
    """The official model with random weights everywhere (the official init leaves biases and noise at 0)."""
    import builtins

    print_ = builtins.print
    builtins.print = lambda *a, **k: None  # the networks print their architecture
    try:
        model = model_cls(opt)
        model.initialize()
    finally:
        builtins.print = print_
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("modulation.bias"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("noise.weight"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g))
    return model.eval()


def test_images(n: int, size: int, seed: int) -> torch.Tensor:
    """``[n, 3, size, size]`` uint8 photos-like images: smooth colour fields with some detail."""
    g = torch.Generator().manual_seed(seed)
    x = sum(F.interpolate(torch.rand(n, 3, s, s, generator=g), size=(size, size), mode="bicubic", align_corners=False)
            / (i + 1) for i, s in enumerate((4, 16, 64)))
    x = (x - x.amin()) / (x.amax() - x.amin())
    return (x * 255).round().clamp(0, 255).to(torch.uint8)


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1


def official_outputs(model, x: torch.Tensor, noise) -> dict:
    injections = [m for m in model.G.modules() if type(m).__name__ == "NoiseInjection"]
    assert len(injections) == len(noise)
    for module, n in zip(injections, noise):
        module.fixed_noise = n
    with torch.no_grad():
        sp, gl = model.E(x)
        return {"content": sp, "style": gl, "reconstruction": model.G(sp, gl), "swap": model.G(sp, gl.flip(0))}


def tcp_outputs(pipe, x: torch.Tensor, noise) -> dict:
    with torch.no_grad():
        content, style = pipe.encoder(x, return_dict=False)
        return {"content": content, "style": style,
                "reconstruction": pipe.generator(content, style, noise=noise),
                "swap": pipe.generator(content, style.flip(0), noise=noise)}


def noise_for(generator, content: torch.Tensor):
    return generator.noise_maps(content, "random", torch.Generator().manual_seed(NOISE_SEED))


def differences(ours: dict, official: dict) -> dict:
    """Largest absolute differences: codes as they are, images in [0, 1] pixel units (x 255 printed)."""
    out = {}
    for k in official:
        d = (ours[k].float() - official[k].float()).abs().max().item()
        out[k] = d / 2 if k in ("reconstruction", "swap") else d
    return out


def run_parity(checkout: Path, preset: str, resolution: int, batch: int, discriminators: bool, threads: int):
    from tcp_hub import TCPPipeline

    torch.set_num_threads(threads)
    options = SWAE_PRESETS[preset]
    model_cls = load_official(checkout)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        model = build_official(model_cls, official_options(model_cls, options, tmp, discriminators), seed=0)
        (tmp / "parity").mkdir()
        model.save(1000)  # what the official trainer writes: parity/1k_checkpoint.pth + latest_checkpoint.pth
        converted = convert_swae_checkpoint(tmp / "parity" / "latest_checkpoint.pth", preset, tmp / "converted",
                                            with_discriminators=discriminators)
        pipe = TCPPipeline.from_pretrained(tmp / "converted")
        t_convert = time.perf_counter() - t0
        x = to_model_input(test_images(batch, resolution, seed=1))
        t0 = time.perf_counter()
        ours_codes = pipe.encoder(x)
        noise = noise_for(pipe.generator, ours_codes[0])
        ours = tcp_outputs(pipe, x, noise)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        official = official_outputs(model, x, noise)
        t_official = time.perf_counter() - t0
        diffs = differences(ours, official)
        if discriminators:
            with torch.no_grad():
                diffs["D logits"] = (converted.discriminator(x) - model.D(x)).abs().max().item()
                patches = to_model_input(test_images(batch * 4, options.patch_size, seed=2)).view(
                    batch, 4, 3, options.patch_size, options.patch_size)
                refs = patches.flip(0)
                official_logits = model.Dpatch.discriminate_features(
                    model.Dpatch.extract_features(refs, aggregate=True), model.Dpatch.extract_features(patches))
                diffs["Dpatch logits"] = (converted.patch_discriminator(patches, refs).flatten()
                                          - official_logits.flatten()).abs().max().item()
    params = sum(p.numel() for m in (pipe.encoder, pipe.generator) for p in m.parameters())
    print(f"preset {preset}: {resolution} px, batch {batch}, float32, CPU ({threads} threads); "
          f"E + G {params / 1e6:.1f} M parameters")
    for k, v in diffs.items():
        unit = f" ({v * 255:.4f} / 255)" if k in ("reconstruction", "swap") else ""
        print(f"  max |tcp-hub - official| {k}: {v:.2e}{unit}")
    print(f"  build + save + convert {t_convert:.1f} s; forward (codes, reconstruction, swap): "
          f"tcp-hub {t_ours:.1f} s, official {t_official:.1f} s")
    return diffs


def make_fixtures(checkout: Path, out: Path):
    from safetensors.torch import save_file

    from tcp_hub import TCPPipeline

    out.mkdir(parents=True, exist_ok=True)
    model_cls = load_official(checkout)
    for name, (options, resolution) in FIXTURES.items():
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            model = build_official(model_cls, official_options(model_cls, options, tmp, False), seed=0)
            (tmp / "parity").mkdir()
            model.save(2000)
            shutil.copy(tmp / "parity" / "2k_checkpoint.pth", out / f"{name}_checkpoint.pth")
            convert_swae_checkpoint(out / f"{name}_checkpoint.pth", options, tmp / "converted")
            pipe = TCPPipeline.from_pretrained(tmp / "converted")
        images = test_images(2, resolution, seed=1)
        x = to_model_input(images)
        with torch.no_grad():
            noise = noise_for(pipe.generator, pipe.encoder(x)[0])
        official = official_outputs(model, x, noise)
        ours = tcp_outputs(pipe, x, noise)
        tensors = {"images": images.contiguous(), "content": official["content"].contiguous(),
                   "style": official["style"].contiguous(),
                   "reconstruction": official["reconstruction"].half().contiguous(),
                   "swap": official["swap"].half().contiguous()}
        metadata = {"noise_seed": str(NOISE_SEED), "resolution": str(resolution),
                    "swae_options": json.dumps(asdict(options)),
                    "source": "benchmarks/official_parity.py --make_fixtures"}
        save_file(tensors, str(out / f"{name}_io.safetensors"), metadata=metadata)
        print(name, {k: f"{v:.2e}" for k, v in differences(ours, official).items()},
              f"{sum(f.stat().st_size for f in out.glob(name + '*')) / 1e6:.2f} MB")
    write_official_layout(model_cls, out / "church_official_layout.json")


def write_official_layout(model_cls, path: Path):
    """The full church model's checkpoint layout: every key with its shape (and the values of the fixed blur
    kernels), so that a test can check the converter on the official names of all four networks without
    shipping their 100 M weights."""
    with tempfile.TemporaryDirectory() as tmp:
        opt = official_options(model_cls, SWAE_PRESETS["church"], Path(tmp), True)
        import builtins
        print_ = builtins.print
        builtins.print = lambda *a, **k: None
        try:
            model = model_cls(opt)
            model.initialize()
        finally:
            builtins.print = print_
    layout = {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""),
                  **({"value": v.tolist()} if k.endswith(".kernel") else {})}
              for k, v in model.state_dict().items()}
    path.write_text(json.dumps(layout, indent=0))
    print(f"{path}: {len(layout)} keys")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--official", required=True, type=Path, help="checkout of taesungp/swapping-autoencoder-pytorch")
    p.add_argument("--preset", default="church", choices=sorted(SWAE_PRESETS))
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--discriminators", action="store_true", help="also compare D's and Dpatch's logits")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--make_fixtures", type=Path, default=None, help="write the CI fixtures to this folder instead")
    args = p.parse_args()
    if args.make_fixtures:
        make_fixtures(args.official, args.make_fixtures)
    else:
        run_parity(args.official, args.preset, args.resolution, args.batch, args.discriminators, args.threads)


if __name__ == "__main__":
    main()
