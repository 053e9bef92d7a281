"""Training options: what the trainer learns (`TrainerConfig`), how fast it runs (`SpeedConfig`), and the
script's command line built from them.

``--config FILE`` reads a JSON object whose keys are argument names (``"train_batch_size": 16``;
keys starting with ``_`` are comments); flags given on the command line override it.
"""

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from ..errors import InputError
from .diffaugment import check_policy


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def _opt(default, help: str, **kw):
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainerConfig:
    """Everything `TCPTrainer` needs to know: loss weights, schedules and optimiser settings.

    Defaults follow the official Swapping Autoencoder where known; TCP's paper leaves some values
    open, and those are our choices.
    """

    ablation: str = _opt("tcp", "'tcp' trains with code consistency and content alignment; 'swae' turns both "
                                "off (the Swapping Autoencoder baseline)", choices=("tcp", "swae"))
    learning_rate: float = _opt(0.002, "Adam learning rate of encoder + generator (discriminators: x 16/17 "
                                       "for lazy R1)")
    adam_beta1: float = _opt(0.0, "Adam beta1")
    adam_beta2: float = _opt(0.99, "Adam beta2")
    reconstruction_weight: float = _opt(1.0, "weight of L1(G(c, s), x)")
    gan_rec_weight: float = _opt(0.5, "generator's GAN weight on reconstructions")
    gan_swap_weight: float = _opt(1.0, "generator's GAN weight on swaps (and region-mixed images)")
    d_rec_weight: float = _opt(0.5, "discriminator's weight on reconstructions as fakes")
    d_swap_weight: float = _opt(0.5, "discriminator's weight on swaps (and region-mixed images) as fakes")
    patch_gan_weight: float = _opt(1.0, "weight of the co-occurrence (patch) GAN loss")
    perceptual_weight: float = _opt(0.0, "weight of the perceptual reconstruction loss (EfficientNet-Lite0 features, "
                                         "tcp_hub.perceptual; needs the 'train' extra); 0: off")
    diffaugment: str = _opt("", "DiffAugment policy for every discriminator input, real and fake, in both steps: a "
                                "comma-separated subset of color,translation,cutout ('' off); the patch "
                                "discriminator's crops and references share one colour transform per image")
    code_consistency_weight: float = _opt(1.0, "TCP code consistency weight")
    code_consistency_style_weight: float = _opt(1.0, "lambda_style: weight of L1(sg, s') inside code consistency")
    code_consistency_interval: int = _opt(16, "compute code consistency every K generator steps")
    alignment_weight: float = _opt(1.0, "TCP content alignment weight")
    alignment_band: float = _opt(1 / 32, "band around the mask edge left out of content alignment, as a "
                                         "fraction of the image side")
    r1_gamma: float = _opt(10.0, "R1 gamma of the image discriminator")
    patch_r1_gamma: float = _opt(1.0, "R1 gamma of the patch discriminator")
    r1_interval: int = _opt(16, "lazy R1 every N discriminator steps (scaled by N)")
    num_crops: int = _opt(8, "random crops per image for the patch discriminator")
    crop_size_min: float = _opt(1 / 8, "smallest crop side, as a fraction of the image side")
    crop_size_max: float = _opt(1 / 4, "largest crop side, as a fraction of the image side")
    use_ema: bool = _opt(False, "keep an exponential moving average of encoder and generator; it is what "
                                "gets published")
    ema_decay: float = _opt(0.999, "EMA decay per optimiser step")
    ema_warmup: bool = _opt(False, "ramp the EMA decay up as min(ema_decay, (1 + n) / (10 + n)) after n optimiser "
                                   "steps of the run, so a short run's average is not held by its starting weights "
                                   "(with 0.999 alone they still weigh 27 % after 1,300 steps)")
    seed: int = _opt(0, "seed of weights, data order and every random draw of training")

    def __post_init__(self):
        if self.ablation not in ("tcp", "swae"):
            raise InputError(f"ablation must be 'tcp' or 'swae', got {self.ablation!r}")
        for name in ("code_consistency_interval", "r1_interval", "num_crops"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.perceptual_weight < 0:
            raise InputError(f"perceptual_weight must be >= 0, got {self.perceptual_weight}")
        self.diffaugment = check_policy(self.diffaugment)
        if not 0 < self.crop_size_min <= self.crop_size_max <= 1:
            raise InputError(f"crop sizes must satisfy 0 < crop_size_min <= crop_size_max <= 1, got "
                             f"{self.crop_size_min}, {self.crop_size_max}")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "TrainerConfig":
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


@dataclass
class SpeedConfig:
    """How fast `TCPTrainer` runs, not what it learns: memory layout, compilation, how often the loss
    terms are read back, and the mask worker. Every setting gives the same training up to rounding."""

    channels_last: bool = _opt(False, "channels-last memory format (faster convolutions on recent GPUs)")
    compile: bool = _opt(False, "torch.compile the four networks (dynamic=False); R1 steps run the image/patch "
                                "discriminators' real-image pass eagerly because compiled graphs have no "
                                "double backward")
    compile_mode: str = _opt("default", "torch.compile's mode with --compile; 'reduce-overhead' also replays the "
                                        "compiled graphs as CUDA graphs (less CPU time launching kernels)",
                             choices=COMPILE_MODES)
    nan_check_steps: int = _opt(16, "with fused Adam (CUDA) a step whose gradients are not finite updates "
                                    "nothing, and the loss terms are read back every N steps (one GPU sync), "
                                    "stopping the run at the first NaN/inf; without (CPU) the terms are checked "
                                    "before every update and N is not used")
    mask_workers: int = _opt(-1, "processes that draw TCP's random training masks one step ahead (0: drawn in "
                                 "the training process, which then launches no GPU work meanwhile); -1: one on "
                                 "CUDA, none elsewhere. The masks are the same either way")

    def __post_init__(self):
        if self.nan_check_steps < 1:
            raise InputError(f"nan_check_steps must be >= 1, got {self.nan_check_steps}")
        if self.mask_workers < -1:
            raise InputError(f"mask_workers must be -1 (automatic), 0 or more, got {self.mask_workers}")
        if self.compile_mode not in COMPILE_MODES:
            raise InputError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}; got {self.compile_mode!r}")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "SpeedConfig":
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Train a TCP (or Swapping Autoencoder) model with Accelerate.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", default=None, help="JSON file of argument values; command-line flags override it")
    data = p.add_argument_group("data")
    data.add_argument("--train_data_dir", default=None, help="folder of training images (searched recursively)")
    data.add_argument("--dataset_name", default=None, help="a Hugging Face dataset id with an image column")
    data.add_argument("--dataset", default=None, choices=("folder", "hub", "synthetic"),
                      help="kind of data (default: from --train_data_dir / --dataset_name); 'synthetic' trains on "
                           "procedural scenes, no files needed")
    data.add_argument("--data_preset", default="resize_crop", choices=("resize", "resize_crop", "random_crop"),
                      help="preprocessing: 'resize' (aligned faces), 'resize_crop' (LSUN-like), 'random_crop' "
                           "(large scene photos)")
    data.add_argument("--min_crop_fraction", type=float, default=0.25,
                      help="'random_crop': smallest crop side, as a fraction of the photo's short side")
    data.add_argument("--data_on_device", action=argparse.BooleanOptionalAction, default=False,
                      help="decode the training photos once and keep them on the training device, where the "
                           "random crops and flips are cut (folder data, 'random_crop' preset; no loader workers). "
                           "For small models on a few hundred photos, whose runs otherwise wait for PIL")
    data.add_argument("--synthetic_length", type=int, default=100_000, help="images in the synthetic dataset")
    data.add_argument("--resolution", type=int, default=256, help="training image side in pixels")
    data.add_argument("--holdout", type=int, default=0,
                      help="keep the last N images out of training; sample grids use them")
    data.add_argument("--exclude_list", default=None,
                      help="text file of image paths (relative to --train_data_dir, one per line, '#' comments) "
                           "to keep out of training, e.g. a held-out evaluation set")
    data.add_argument("--dataset_repeats", type=int, default=1,
                      help="pass over every training image N times per epoch: with a few dozen photos and "
                           "random crops, epochs of a few batches restart the loader's queues every few steps "
                           "(not used with --data_on_device, which draws every batch afresh)")
    data.add_argument("--dataloader_num_workers", type=int, default=0)
    run = p.add_argument_group("run")
    run.add_argument("--output_dir", default="tcp-model")
    run.add_argument("--preset", default=None, choices=("full", "small", "tiny"),
                     help="model size (default full; with --init_from, default: that model's own architecture, "
                          "e.g. a converted official Swapping Autoencoder)")
    run.add_argument("--content_stride", type=int, default=None, choices=(8, 16),
                     help="content code at H/8 or H/16 (default: --init_from's, else the preset's 16): 8 keeps "
                          "more detail")
    run.add_argument("--content_channels", type=int, default=None,
                     help="channels of the content code (default: --init_from's, else the preset's 8)")
    run.add_argument("--width", type=float, default=None,
                     help="multiply the preset's encoder and generator convolution widths (up to width^2 the "
                          "parameters; default: --init_from's, else 1; the small preset with a content code at "
                          "1/8 x 16 stays under 20 MB of fp16 up to 1.75)")
    run.add_argument("--train_batch_size", type=int, default=16, help="images per process per step (even)")
    run.add_argument("--max_train_steps", type=int, default=100_000, help="optimiser steps")
    run.add_argument("--max_train_minutes", type=float, default=None,
                     help="also stop (checkpoint, write the output folder) after this many minutes of "
                          "training, checked at logging steps: for time-limited machines")
    run.add_argument("--gradient_accumulation_steps", type=int, default=1)
    run.add_argument("--mixed_precision", default=None, choices=("no", "fp16", "bf16"),
                     help="default: accelerate's config (no if none)")
    run.add_argument("--checkpointing_steps", type=int, default=5000)
    run.add_argument("--checkpoints_total_limit", type=int, default=None, help="keep at most this many checkpoints")
    run.add_argument("--resume_from_checkpoint", default=None, help="'latest' or a checkpoint folder")
    run.add_argument("--init_from", default=None,
                     help="start a new run from a trained model's weights (bundled name, pipeline or output "
                          "folder, Hub id): encoder and generator, and the discriminators when the folder has "
                          "them; optimiser state and step count start fresh. Ignored when resuming (a checkpoint "
                          "keeps its own networks)")
    run.add_argument("--report_to", default="tensorboard", choices=("tensorboard", "none"))
    run.add_argument("--logging_dir", default="logs", help="TensorBoard folder, relative to output_dir")
    run.add_argument("--logging_steps", type=int, default=10, help="log losses every N steps")
    run.add_argument("--sample_steps", type=int, default=1000, help="save a sample grid every N steps (0: never)")
    run.add_argument("--num_samples", type=int, default=8, help="images in a sample grid (even)")
    hub = p.add_argument_group("hub")
    hub.add_argument("--push_to_hub", action="store_true")
    hub.add_argument("--hub_model_id", default=None, help="user/name of the model repo (default: output_dir's name)")
    hub.add_argument("--hub_private", action="store_true")
    hub.add_argument("--license", default="apache-2.0", help="license of the published weights (card front matter)")
    _add_fields(p.add_argument_group("losses and optimisation"), TrainerConfig)
    _add_fields(p.add_argument_group("speed (the same training, faster)"), SpeedConfig)
    return p


def _add_fields(group, config_class) -> None:
    """One ``--name`` flag per field of the dataclass ``config_class``."""
    for f in dataclasses.fields(config_class):
        kw = dict(default=f.default, help=f.metadata["help"])
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
        if f.type is bool:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = f.type
        group.add_argument(f"--{f.name}", **kw)


def load_config_file(path: str, parser: argparse.ArgumentParser) -> dict:
    """Read ``--config``'s JSON object and check its keys are argument names."""
    try:
        values = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"config file {path} does not exist") from None
    except json.JSONDecodeError as e:
        raise InputError(f"config file {path} is not valid JSON: {e}") from None
    if not isinstance(values, dict):
        raise InputError(f"config file {path} must hold a JSON object of argument names and values")
    values = {k: v for k, v in values.items() if not k.startswith("_")}  # "_comment" keys are notes
    known = {a.dest for a in parser._actions}
    unknown = sorted(set(values) - known - {"config"})
    if unknown:
        raise InputError(f"config file {path} has unknown keys {unknown}; keys are the script's argument names "
                         "without '--' (see --help)")
    return values


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line (and ``--config``) into the training arguments."""
    parser = build_parser()
    first, _ = parser.parse_known_args(argv)
    if first.config:
        parser.set_defaults(**load_config_file(first.config, parser))
    args = parser.parse_args(argv)
    check_args(args)
    return args


def check_args(args: argparse.Namespace) -> None:
    if args.dataset != "synthetic" and not (args.train_data_dir or args.dataset_name):
        raise InputError("no training data given: pass --train_data_dir (a folder of images), --dataset_name "
                         "(a Hugging Face dataset) or --dataset synthetic")
    if args.train_batch_size < 2 or args.train_batch_size % 2:
        raise InputError(f"--train_batch_size is {args.train_batch_size}; it must be even and >= 2 because each "
                         "image's style is swapped with another image of the same batch")
    if args.num_samples < 2 or args.num_samples % 2:
        raise InputError(f"--num_samples must be even and >= 2, got {args.num_samples}")
    if args.resolution % 16 or args.resolution & (args.resolution - 1):
        raise InputError(f"--resolution must be a power of two (e.g. 256), got {args.resolution}")
    TrainerConfig.from_args(args)
    SpeedConfig.from_args(args)


def args_to_dict(args: argparse.Namespace) -> dict:
    """The arguments as a JSON-ready dict (what ``training_args.json`` stores)."""
    return {k: v for k, v in sorted(vars(args).items())}


def losses_used(config: TrainerConfig) -> List[Tuple[str, float]]:
    """``(term, weight)`` of every loss a run with ``config`` optimises (for the model card)."""
    terms = [("reconstruction L1", config.reconstruction_weight),
             ("perceptual reconstruction (EfficientNet-Lite0 features)", config.perceptual_weight),
             ("GAN on reconstructions", config.gan_rec_weight),
             ("GAN on swaps", config.gan_swap_weight),
             ("patch co-occurrence GAN", config.patch_gan_weight),
             (f"R1 on D (gamma, lazy every {config.r1_interval})", config.r1_gamma),
             (f"R1 on Dpatch (gamma, lazy every {config.r1_interval})", config.patch_r1_gamma)]
    if config.ablation == "tcp":
        terms += [(f"code consistency (every {config.code_consistency_interval} steps, "
                   f"lambda_style {config.code_consistency_style_weight:g})", config.code_consistency_weight),
                  ("content alignment (+ GAN on region-mixed images)", config.alignment_weight)]
    if config.diffaugment:
        terms.append((f"DiffAugment ({config.diffaugment}) on every discriminator input", 1.0))
    return [(name, weight) for name, weight in terms if weight]
