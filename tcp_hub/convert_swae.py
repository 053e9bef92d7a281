"""The official Swapping Autoencoder's trained models as tcp-hub models (``tcp-hub convert-swae``).

The official trainer (taesungp/swapping-autoencoder-pytorch, ``BaseModel.save``) writes its whole
model's ``state_dict()`` to ``<N>k_checkpoint.pth`` (``latest_checkpoint.pth`` links the last one):
the encoder ``E.*``, generator ``G.*``, image discriminator ``D.*``, patch discriminator
``Dpatch.*`` and the step counter ``num_discriminator_iters``. `convert_swae_checkpoint` reads it
(tensors only, ``weights_only=True``), maps every key onto tcp-hub's networks (the table below),
checks every shape against the preset and writes a `TCPPipeline` folder:

    DIR/model_index.json encoder/ generator/   a TCPPipeline (safetensors)
    DIR/discriminators/{discriminator,patch_discriminator}/   with_discriminators: what --init_from reads
    DIR/README.md                              model card: source file, preset, the weights' licence

Widths follow the official formulas (`SwaeOptions`); the full preset is this architecture at 256 px.
"""

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import torch

from .errors import InputError

LICENSE_NOTE = ("The weights are the official Swapping Autoencoder's (Park et al., NeurIPS 2020), released under "
                "the Adobe Research License: noncommercial research use only. tcp-hub's code is Apache-2.0; the "
                "Adobe licence governs these weights and anything generated with them.")
STEP_COUNTER = "num_discriminator_iters"


@dataclass(frozen=True)
class SwaeOptions:
    """The official options that set the networks' shapes (defaults: the official defaults)."""

    crop_size: int = 256
    spatial_code_ch: int = 8
    global_code_ch: int = 2048
    netE_scale_capacity: float = 1.0
    netE_num_downsampling_sp: int = 4
    netE_num_downsampling_gl: int = 2
    netE_nc_steepness: float = 2.0
    netG_scale_capacity: float = 1.0
    netG_num_base_resnet_layers: int = 2
    netD_scale_capacity: float = 1.0
    netPatchD_scale_capacity: float = 4.0
    netPatchD_max_nc: int = 384
    patch_size: int = 128


# The official launchers' options (experiments/*_pretrained_launcher.py).
SWAE_PRESETS: Dict[str, SwaeOptions] = {
    "church": SwaeOptions(),
    "bedroom": SwaeOptions(),
    "afhq": SwaeOptions(),
    "mountain": SwaeOptions(crop_size=512),
    "ffhq512": SwaeOptions(crop_size=512),
    "ffhq1024": SwaeOptions(crop_size=768, netG_scale_capacity=0.8, netE_num_downsampling_sp=5,
                            netE_scale_capacity=0.4, global_code_ch=1536, patch_size=256),
}


# ---- widths, from the official formulas ------------------------------------------------------------

def _encoder_width(opt: SwaeOptions, idx: int) -> int:
    """``StyleGAN2ResnetEncoder.nc``: width after ``idx`` down-samplings."""
    nc = opt.netE_nc_steepness ** (5 + idx) * opt.netE_scale_capacity
    return round(min(opt.global_code_ch, int(round(nc))))


def _generator_width(opt: SwaeOptions, num_up: int) -> int:
    """``StyleGAN2ResnetGenerator.nf``: width after ``num_up`` up-samplings."""
    return int(min(512, 128 * 2 ** (opt.netE_num_downsampling_sp - num_up)) * opt.netG_scale_capacity)


def encoder_config(opt: SwaeOptions) -> dict:
    sp, gl = opt.netE_num_downsampling_sp, opt.netE_num_downsampling_gl
    return dict(stem_channels=_encoder_width(opt, 0),
                block_out_channels=[_encoder_width(opt, i + 1) for i in range(sp)],
                content_channels=opt.spatial_code_ch,
                style_block_channels=[_encoder_width(opt, sp + i + 1) for i in range(gl)],
                style_dim=opt.global_code_ch, blur_taps=[1, 2, 1], padding_mode="reflect", style_padding=0)


def generator_config(opt: SwaeOptions) -> dict:
    n = opt.netG_num_base_resnet_layers
    head = [max(opt.spatial_code_ch, round((i + 1) / n * _generator_width(opt, 0))) for i in range(n)]
    return dict(content_channels=opt.spatial_code_ch, style_dim=opt.global_code_ch, head_channels=head,
                block_out_channels=[_generator_width(opt, j + 1) for j in range(opt.netE_num_downsampling_sp)],
                use_noise=True, demodulation="weight")


def discriminator_config(opt: SwaeOptions) -> dict:
    if opt.crop_size & (opt.crop_size - 1):
        raise InputError(f"this model's image discriminator was trained on {opt.crop_size} px crops; tcp-hub's "
                         "discriminator (and trainer) take power-of-two sides only. Convert without "
                         "--with_discriminators: fine-tuning then starts with fresh discriminators")
    return dict(resolution=opt.crop_size, channel_multiplier=2.0 * opt.netD_scale_capacity, max_channels=512,
                stddev_group=0)


def patch_discriminator_config(opt: SwaeOptions) -> dict:
    return dict(patch_size=opt.patch_size, channel_multiplier=opt.netPatchD_scale_capacity,
                max_channels=opt.netPatchD_max_nc, mlp_channels=[2048, 2048, 1024])


# ---- the key table ------------------------------------------------------------------------------------
# official key -> tcp-hub key, or a FixedFilter: a blur kernel the official layers keep as a buffer
# (tcp-hub's filters are fixed in code; the buffer is only checked).

@dataclass(frozen=True)
class FixedFilter:
    taps: Tuple[int, ...]
    gain: float = 1.0

    def kernel(self) -> torch.Tensor:
        k = torch.tensor(self.taps, dtype=torch.float32)
        return torch.outer(k, k) / k.sum() ** 2 * self.gain


KeyTable = Dict[str, Union[str, FixedFilter]]
_AA, _ENC_AA, _NONE = (1, 3, 3, 1), (1, 2, 1), (1,)


def _conv_layer(off: str, ours: str, blur: Optional[Tuple[int, ...]] = None, ours_has_blur: bool = True,
                activate: bool = True, bias: bool = True) -> KeyTable:
    """Official ``ConvLayer`` (``Blur``, ``Conv``, ``Act``) -> ours (``[Blur,] conv, act`` by index)."""
    conv = 1 if blur is not None and ours_has_blur else 0
    table: KeyTable = {f"{off}.Conv.weight": f"{ours}.{conv}.weight"}
    if blur is not None:
        table[f"{off}.Blur.kernel"] = FixedFilter(blur)
    if activate and bias:
        table[f"{off}.Act.bias"] = f"{ours}.{conv + 1}.bias"
    elif bias:
        table[f"{off}.Conv.bias"] = f"{ours}.{conv}.bias"
    return table


def _res_block(off: str, ours: str, blur: Tuple[int, ...], downsample: bool = True) -> KeyTable:
    return {**_conv_layer(f"{off}.conv1", f"{ours}.conv1"),
            **_conv_layer(f"{off}.conv2", f"{ours}.conv2", blur if downsample else None),
            **_conv_layer(f"{off}.skip", f"{ours}.skip", blur if downsample else None, activate=False, bias=False)}


def _linear(off: str, ours: str) -> KeyTable:
    return {f"{off}.weight": f"{ours}.weight", f"{off}.bias": f"{ours}.bias"}


def _styled_conv(off: str, ours: str, upsample: bool = False) -> KeyTable:
    table = {f"{off}.conv.weight": f"{ours}.conv.weight",
             **_linear(f"{off}.conv.modulation", f"{ours}.conv.modulation"),
             f"{off}.noise.weight": f"{ours}.noise.weight", f"{off}.activate.bias": f"{ours}.bias"}
    if upsample:
        table[f"{off}.conv.blur.kernel"] = FixedFilter(_AA, gain=4.0)
    return table


def encoder_keys(opt: SwaeOptions) -> KeyTable:
    sp, gl = opt.netE_num_downsampling_sp, opt.netE_num_downsampling_gl
    table = _conv_layer("E.FromRGB", "from_rgb")
    for i in range(sp):
        table.update(_res_block(f"E.DownToSpatialCode.ResBlockDownBy{2 ** i}", f"trunk.{i}", _ENC_AA))
    table.update(_conv_layer("E.ToSpatialCode.0", "content_head.0"))
    table.update(_conv_layer("E.ToSpatialCode.1", "content_head.1", activate=False))
    for i in range(gl):
        table.update(_conv_layer(f"E.DownToGlobalCode.ConvLayerDownBy{2 ** (sp + i)}", f"style_convs.{i}",
                                 _NONE, ours_has_blur=False))
    table.update(_linear("E.ToGlobalCode.0", "style_linear"))
    return table


def generator_keys(opt: SwaeOptions) -> KeyTable:
    cfg = generator_config(opt)
    table = {**_linear("G.SpatialCodeModulation.scale", "content_modulation.scale"),
             **_linear("G.SpatialCodeModulation.bias", "content_modulation.bias")}
    ch, i = opt.spatial_code_ch, 0
    for h, out in enumerate(cfg["head_channels"]):
        off = f"G.HeadResnetBlock{h}"
        table.update({**_styled_conv(f"{off}.conv1", f"blocks.{i}.conv1"),
                      **_styled_conv(f"{off}.conv2", f"blocks.{i}.conv2")})
        if ch != out:
            table.update(_conv_layer(f"{off}.skip", f"blocks.{i}.skip", activate=False, bias=False))
        ch, i = out, i + 1
    for j, out in enumerate(cfg["block_out_channels"]):
        off = f"G.UpsamplingResBlock{2 ** (4 + j)}"
        table.update({**_styled_conv(f"{off}.conv1", f"blocks.{i}.conv1", upsample=True),
                      **_styled_conv(f"{off}.conv2", f"blocks.{i}.conv2")})
        if ch != out:
            table.update(_conv_layer(f"{off}.skip", f"blocks.{i}.skip"))
        ch, i = out, i + 1
    table.update({"G.ToRGB.conv.weight": "to_rgb.conv.weight", "G.ToRGB.bias": "to_rgb.bias",
                  **_linear("G.ToRGB.conv.modulation", "to_rgb.conv.modulation"),
                  "G.ToRGB.upsample.kernel": FixedFilter(_AA, gain=4.0)})
    return table


def _stylegan2_block_names(size: int, top: int) -> List[str]:
    """Names of the official residual blocks from ``size`` down to 8 px: ``str(top - log2)`` up to 2**(top - 1)
    px, ``"<s>x<s>"`` above (StyleGAN2's discriminator naming)."""
    names = []
    for i in range(size.bit_length() - 1, 2, -1):
        names.append(str(top - i) if i <= top - 1 else f"{2 ** i}x{2 ** i}")
    return names


def discriminator_keys(opt: SwaeOptions) -> KeyTable:
    off = "D.stylegan2_D"
    table = _conv_layer(f"{off}.convs.0", "convs.0")
    for k, name in enumerate(_stylegan2_block_names(opt.crop_size, top=9), 1):
        table.update(_res_block(f"{off}.convs.{name}", f"convs.{k}", _AA))
    table.update(_conv_layer(f"{off}.final_conv", "final_conv"))
    table.update({**_linear(f"{off}.final_linear.0", "final_linear.0"),
                  **_linear(f"{off}.final_linear.1", "final_linear.1")})
    return table


def patch_discriminator_keys(opt: SwaeOptions) -> KeyTable:
    table = _conv_layer("Dpatch.convs.0", "encoder.0")
    names = _stylegan2_block_names(opt.patch_size, top=7)
    for k, name in enumerate(names, 1):
        table.update(_res_block(f"Dpatch.convs.{name}", f"encoder.{k}", _AA))
    table.update(_res_block("Dpatch.convs.5", f"encoder.{len(names) + 1}", _AA, downsample=False))
    table.update(_conv_layer("Dpatch.convs.6", f"encoder.{len(names) + 2}"))
    for k in range(4):
        table.update(_linear(f"Dpatch.pairlinear.{k}", f"mlp.{k}"))
    return table


# ---- reading, checking, writing ---------------------------------------------------------------------------

def read_checkpoint(path: Union[str, Path]) -> Dict[str, torch.Tensor]:
    """The official checkpoint's tensors; a file that needs pickled code to load is refused."""
    import pickle

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; pass the official trainer's checkpoint (e.g. "
                         "checkpoints/church_pretrained/latest_checkpoint.pth)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise InputError(f"{path}: loading it would run pickled code ({str(err).splitlines()[0][:200]}); tcp-hub only "
                         "reads checkpoints that hold plain tensors (torch.load(..., weights_only=True)), as the "
                         "official trainer writes them") from None
    except (RuntimeError, EOFError, OSError) as err:
        raise InputError(f"{path}: not a PyTorch checkpoint ({str(err).splitlines()[0][:200]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path}: expected the official model's state_dict (names -> tensors), got "
                         f"{type(state).__name__}")
    return state


def convert_state(state: Dict[str, torch.Tensor], table: KeyTable, model: torch.nn.Module, what: str
                  ) -> Dict[str, torch.Tensor]:
    """``model``'s state dict from the official ``state`` through ``table``; every key of ``table`` must be in
    ``state`` and every shape must match ``model``'s, else an `InputError` names the key."""
    expected = model.state_dict()
    prefix = next(iter(table)).split(".")[0] + "."
    missing = sorted(k for k in table if k not in state)
    if missing:
        raise InputError(f"the checkpoint has no {missing[0]} ({len(missing)} {what} weights missing): it is not an "
                         "official Swapping Autoencoder checkpoint of this preset")
    extra = sorted(k for k in state if k.startswith(prefix) and k not in table)
    if extra:
        raise InputError(f"the checkpoint's {extra[0]} ({len(extra)} {what} keys in all) has no place in tcp-hub's "
                         f"{what}: is --preset right?")
    out = {}
    for off, ours in table.items():
        value = state[off]
        if isinstance(ours, FixedFilter):
            if value.shape != ours.kernel().shape or not torch.allclose(value.float(), ours.kernel(), atol=1e-6):
                raise InputError(f"{off} is not the official fixed filter {list(ours.taps)}: the checkpoint was made "
                                 "with other options (use_antialias=False is not supported)")
            continue
        target = expected[ours].shape
        if off.endswith(".conv.weight") and value.ndim == 5:  # modulated convs store [1, out, in, k, k]
            value = value[0]
        if value.shape != target:
            raise InputError(f"{off} has shape {tuple(state[off].shape)} but the preset's {what} needs "
                             f"{tuple(target)} (at {ours}): is --preset right?")
        out[ours] = value.float()
    unset = sorted(set(expected) - set(out))
    if unset:  # the table is incomplete: a bug here, not the user's
        raise RuntimeError(f"the {what} weight {unset[0]} has no official key")
    return out


@dataclass
class ConvertedModels:
    """What `convert_swae_checkpoint` wrote."""

    output_dir: Path
    encoder: torch.nn.Module
    generator: torch.nn.Module
    discriminator: Optional[torch.nn.Module] = None
    patch_discriminator: Optional[torch.nn.Module] = None
    steps: Optional[int] = None


def convert_swae_checkpoint(checkpoint: Union[str, Path], preset: Union[str, SwaeOptions], output_dir: Union[str, Path],
                            fp16: bool = False, with_discriminators: bool = False) -> ConvertedModels:
    """Convert an official Swapping Autoencoder checkpoint into a `TCPPipeline` folder.

    Args:
        checkpoint: the official trainer's ``latest_checkpoint.pth`` or ``<N>k_checkpoint.pth``.
        preset: the official model it belongs to (``church``, ``bedroom``, ``mountain``, ``ffhq512``,
            ``ffhq1024``, ``afhq``; see `SWAE_PRESETS`), or `SwaeOptions` for another configuration.
        output_dir: the folder to write (``TCPPipeline.from_pretrained(output_dir)`` loads it).
        fp16: store the weights in float16 (half the size; float32 otherwise).
        with_discriminators: also convert ``D`` and ``Dpatch`` into ``output_dir/discriminators/``,
            where ``train_accelerate.py --init_from output_dir`` finds them.

    Raises:
        InputError: the file is not an official checkpoint of that preset (the message names the key).
    """
    from .models import TCPDiscriminator, TCPEncoder, TCPGenerator, TCPPatchDiscriminator
    from .pipeline import TCPPipeline

    opt = _options(preset)
    if with_discriminators:
        discriminator_config(opt)  # refuse before any work
    state = read_checkpoint(checkpoint)
    known = ("E.", "G.", "D.", "Dpatch.")
    stray = sorted(k for k in state if k != STEP_COUNTER and not k.startswith(known))
    if stray:
        raise InputError(f"{checkpoint}: {stray[0]} ({len(stray)} keys in all) belongs to none of the official "
                         "networks E, G, D, Dpatch: not an official Swapping Autoencoder checkpoint")
    encoder, generator = TCPEncoder(**encoder_config(opt)), TCPGenerator(**generator_config(opt))
    encoder.load_state_dict(convert_state(state, encoder_keys(opt), encoder, "encoder"))
    generator.load_state_dict(convert_state(state, generator_keys(opt), generator, "generator"))
    out = Path(output_dir)
    TCPPipeline(encoder=_stored(encoder, fp16), generator=_stored(generator, fp16)).save_pretrained(out)
    result = ConvertedModels(out, encoder, generator, steps=int(state[STEP_COUNTER]) if STEP_COUNTER in state else None)
    if with_discriminators:
        if not any(k.startswith(("D.", "Dpatch.")) for k in state):
            raise InputError(f"{checkpoint} holds no discriminators (no D.* or Dpatch.* keys; the official test "
                             "downloads include only E and G): convert without --with_discriminators")
        d = TCPDiscriminator(**discriminator_config(opt))
        dp = TCPPatchDiscriminator(**patch_discriminator_config(opt))
        d.load_state_dict(convert_state(state, discriminator_keys(opt), d, "image discriminator"))
        dp.load_state_dict(convert_state(state, patch_discriminator_keys(opt), dp, "patch discriminator"))
        _stored(d, fp16).save_pretrained(out / "discriminators" / "discriminator")
        _stored(dp, fp16).save_pretrained(out / "discriminators" / "patch_discriminator")
        result.discriminator, result.patch_discriminator = d, dp
    write_card(out, Path(checkpoint), preset if isinstance(preset, str) else "custom", opt, result)
    return result


def _stored(model: torch.nn.Module, fp16: bool) -> torch.nn.Module:
    return (model.half() if fp16 else model).eval()


def _options(preset: Union[str, SwaeOptions]) -> SwaeOptions:
    if isinstance(preset, SwaeOptions):
        return preset
    if preset not in SWAE_PRESETS:
        raise InputError(f"unknown official preset {preset!r}; choose one of {', '.join(SWAE_PRESETS)}")
    return SWAE_PRESETS[preset]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_card(out: Path, checkpoint: Path, preset: str, opt: SwaeOptions, result: ConvertedModels) -> Path:
    """``out/README.md``: where the weights come from, the preset, and their licence."""
    from huggingface_hub import ModelCard, ModelCardData

    from .hub import LIBRARY_NAME, TAGS

    data = ModelCardData(license="other", license_name="adobe-research-license", library_name=LIBRARY_NAME,
                         pipeline_tag="image-to-image", tags=TAGS + ["swae-official-weights"])
    n_params = sum(p.numel() for m in (result.encoder, result.generator) for p in m.parameters())
    steps = f"{result.steps:,} discriminator iterations" if result.steps is not None else "not recorded"
    networks = "encoder, generator and both discriminators (`discriminators/`)" if result.discriminator is not None \
        else "encoder and generator"
    body = f"""# Swapping Autoencoder ({preset}), converted for tcp-hub

The official Swapping Autoencoder model `{preset}` (taesungp/swapping-autoencoder-pytorch), converted with
`tcp-hub convert-swae {checkpoint.name} --preset {preset}`. It computes what the official code computes
(tcp-hub's parity test: codes within 1e-4, images within 2/255).

| | |
|---|---|
| source file | `{checkpoint.name}` (SHA-256 `{_sha256(checkpoint)}`) |
| official preset | `{preset}` (trained on {opt.crop_size} px crops; content code {opt.spatial_code_ch} x \
H/{2 ** opt.netE_num_downsampling_sp}, style {opt.global_code_ch}) |
| networks | {networks}, {n_params / 1e6:.1f} M parameters in encoder + generator |
| training | {steps} (official trainer) |

## Licence

{LICENSE_NOTE}

## Use

```python
from tcp_hub import TCPPipeline
pipe = TCPPipeline.from_pretrained("{out.name}")
edited = pipe("photo.jpg", style="reference.jpg").images[0]
```

Region-wise edits (`mask=`), the app (`python app.py --allow-local-models`, then this folder in the Model
box) and fine-tuning with TCP's losses (`accelerate launch train_accelerate.py --init_from {out.name} ...`)
work as with tcp-hub's own models.
"""
    path = out / "README.md"
    ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}").save(path)
    return path


def reduced(preset: str, **changes) -> SwaeOptions:
    """An official preset with some options changed (e.g. ``*_scale_capacity`` for small test models)."""
    return replace(_options(preset), **changes)

