"""The training run behind ``train_accelerate.py``: data, models, loop, checkpoints, final folder, Hub push.

Read top to bottom: `train` sets up, loops over batches calling ``TCPTrainer.run_step``, logs,
checkpoints and draws samples on schedule, and finally writes the output folder:

    output_dir/
      model_index.json encoder/ generator/      a TCPPipeline (EMA weights when --use_ema)
      discriminators/discriminator/             to continue training from the published weights
      discriminators/patch_discriminator/
      README.md                                 model card (tcp_hub.hub)
      training_args.json
      checkpoint-<step>/  samples/  logs/       training leftovers (not uploaded)
"""

import contextlib
import json
import time
import traceback
from pathlib import Path
from typing import List, Optional

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, GradScalerKwargs, ProjectConfiguration, set_seed
from torch.utils.data import ConcatDataset, Subset
from tqdm.auto import tqdm

from .. import hub
from ..data import build_dataset
from ..errors import InputError
from ..models import PRESETS, TCPDiscriminator, TCPEncoder, TCPGenerator, TCPPatchDiscriminator, build_models
from ..models.presets import WIDTH_KEYS
from ..models.widen import load_widened
from ..pipeline import TCPPipeline, load_pipeline, resolve_model_path
from .batches import make_batch_source
from .checkpointing import load_checkpoint, prepare_output_dir, register_hooks, resolve_checkpoint, save_checkpoint
from .config import SpeedConfig, TrainerConfig, args_to_dict, losses_used
from .samples import sample_grid, save_grid
from .nonfinite import NonFiniteLossError
from .step import TCPTrainer


def make_accelerator(args) -> Accelerator:
    out = Path(args.output_dir)
    handlers = [GradScalerKwargs(init_scale=2.0**10)] if args.mixed_precision == "fp16" else []
    return Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(project_dir=str(out), logging_dir=str(out / args.logging_dir)),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        kwargs_handlers=handlers,
    )


def make_datasets(args):
    """``(full dataset, training subset, held-out subset or None)``."""
    dataset = build_dataset(train_data_dir=args.train_data_dir, dataset_name=args.dataset_name,
                            dataset=args.dataset, resolution=args.resolution, preset=args.data_preset,
                            synthetic_length=args.synthetic_length, seed=args.seed,
                            min_crop_fraction=args.min_crop_fraction,
                            exclude=read_exclude_list(args.exclude_list))
    n = len(dataset)
    if args.holdout < 0 or args.holdout >= n:
        raise InputError(f"--holdout {args.holdout} leaves no training images out of {n}")
    if args.dataset_repeats < 1:
        raise InputError(f"--dataset_repeats must be >= 1, got {args.dataset_repeats}")
    if args.holdout == 0:
        return dataset, _repeat(dataset, args.dataset_repeats), None
    train_set = _repeat(Subset(dataset, range(n - args.holdout)), args.dataset_repeats)
    return dataset, train_set, Subset(dataset, range(n - args.holdout, n))


def _repeat(dataset, times: int):
    return dataset if times == 1 else ConcatDataset([dataset] * times)


def read_exclude_list(path) -> Optional[List[str]]:
    """Image paths listed in ``path`` (one per line; blank lines and ``#`` comments ignored)."""
    if not path:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InputError(f"--exclude_list {path}: cannot read it ({err.strerror})") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def fresh_models(args):
    """Fresh (E, G, D, Dpatch) of ``--preset`` (default full). With ``--init_from`` and no ``--preset``, of
    that model's own architecture (e.g. a converted official model, whatever its widths): its encoder's
    and generator's configs, its discriminators' where it has them, else the full preset's. With both, the
    content code's shape and the width are ``--init_from``'s unless ``--content_stride`` /
    ``--content_channels`` / ``--width`` are given."""
    width = args.width
    if not args.init_from:
        return build_models(args.preset or "full", args.resolution, args.content_stride, args.content_channels,
                            width if width is not None else 1.0)
    if args.preset is not None:
        initial = load_pipeline(args.init_from)
        stride, channels = _content_code_shape(initial.encoder)
        models = build_models(args.preset, args.resolution,
                              args.content_stride if args.content_stride is not None else stride,
                              args.content_channels if args.content_channels is not None else channels,
                              width if width is not None else 1.0)
        if width is not None:
            return models
        # the initial model's own widths, exactly (a width multiplier read back from them may round otherwise)
        return tuple(_with_widths(model, source) for model, source in
                     zip(models[:2], (initial.encoder, initial.generator))) + models[2:]
    if args.content_stride is not None or args.content_channels is not None or width is not None:
        raise InputError("--content_stride, --content_channels and --width change a preset: with --init_from and "
                         "no --preset the networks keep the initial model's shape")
    pipe = load_pipeline(args.init_from)
    trained = _trained_discriminators(args.init_from)
    if trained is None:
        full = PRESETS["full"]
        trained = [TCPDiscriminator(resolution=args.resolution, **full["discriminator"]),
                   TCPPatchDiscriminator(**full["patch_discriminator"])]
    return tuple(type(m).from_config(m.config) for m in [pipe.encoder, pipe.generator, *trained])


def checkpoint_models(checkpoint):
    """Fresh (E, G, D, Dpatch) shaped as a training checkpoint's networks, whatever the flags of the resumed run
    (resuming loads their weights)."""
    parts = ((TCPEncoder, "encoder"), (TCPGenerator, "generator"), (TCPDiscriminator, "discriminator"),
             (TCPPatchDiscriminator, "patch_discriminator"))
    return tuple(cls.from_config(cls.load_config(Path(checkpoint) / name)) for cls, name in parts)


def _with_widths(model, source):
    """``model`` (fresh) rebuilt with ``source``'s widths (`WIDTH_KEYS`) where their depths agree."""
    keys = WIDTH_KEYS["encoder" if isinstance(model, TCPEncoder) else "generator"]
    widths = {k: source.config[k] for k in keys}
    if any(len(widths[k]) != len(model.config[k]) for k in keys if not isinstance(widths[k], int)):
        return model  # another depth: initial_models names the differing weight
    return type(model).from_config({**model.config, **widths})


def _width_against_preset(encoder, preset: Optional[str]) -> Optional[float]:
    """``encoder``'s deepest block's width against ``preset``'s (None without a preset)."""
    if preset is None:
        return None
    return encoder.config.block_out_channels[-1] / PRESETS[preset]["encoder"]["block_out_channels"][-1]


def _content_code_shape(encoder):
    """(stride, channels) of ``encoder``'s content code, the stride None where a preset cannot take it."""
    stride = encoder.downsample_factor
    return (stride if stride in (8, 16) else None), encoder.config.content_channels


def initial_models(args):
    """Fresh (E, G, D, Dpatch) (`fresh_models`); with ``--init_from``, the networks that model has start
    from its weights. Returns the models and a line saying what was initialised (``""`` without it)."""
    models = fresh_models(args)
    if not args.init_from:
        return models, ""
    pipe = load_pipeline(args.init_from)
    sources = [pipe.encoder, pipe.generator] + (_trained_discriminators(args.init_from) or [])
    widened = []
    for model, source in zip(models, sources):
        state = {k: v.float() for k, v in source.state_dict().items()}
        expected = model.state_dict()
        differing = sorted(set(state) ^ set(expected)) or \
            sorted(k for k in state if state[k].shape != expected[k].shape)
        if differing and args.width is not None and isinstance(model, (TCPEncoder, TCPGenerator)):
            try:
                load_widened(model, source)
            except ValueError as err:
                raise InputError(f"--init_from {args.init_from} --width {args.width:g}: {err}") from None
            widened.append(type(model).__name__)
            continue
        if differing:
            raise InputError(f"--init_from {args.init_from}: its {type(model).__name__} does not fit --preset "
                             f"{args.preset} (first differing weight: {differing[0]}); pass the preset (or "
                             "--config) and --width it was trained with")
        model.load_state_dict(state)
    what = "encoder, generator and discriminators" if len(sources) == 4 else \
        "encoder and generator (it has no discriminators: they start fresh)"
    said = f"initialised the {what} from {args.init_from}"
    if widened:
        said += (f" ({' and '.join(widened)} widened to x {args.width:g} the preset's widths: the new channels "
                 "start with no effect on the output)")
    return models, said


def _trained_discriminators(source) -> Optional[list]:
    """D and Dpatch of ``--init_from``'s model: an output folder keeps them in ``discriminators/``, a
    training checkpoint at its top level, a Hub repo like an output folder; None where it has none."""
    path = Path(resolve_model_path(source))
    for folder in (path / "discriminators", path):
        if (folder / "discriminator").is_dir() and (folder / "patch_discriminator").is_dir():
            return [TCPDiscriminator.from_pretrained(folder / "discriminator"),
                    TCPPatchDiscriminator.from_pretrained(folder / "patch_discriminator")]
    if path.exists():
        return None
    try:  # a Hub repo id
        return [TCPDiscriminator.from_pretrained(source, subfolder="discriminators/discriminator"),
                TCPPatchDiscriminator.from_pretrained(source, subfolder="discriminators/patch_discriminator")]
    except OSError:  # diffusers' "no such file" for repos published without them
        return None


def describe_data(args, n_train: int) -> str:
    if args.dataset == "synthetic":
        return f"{n_train:,} procedural synthetic scenes (tcp_hub.data.SyntheticScenes)"
    if args.dataset_name:
        return f"the Hub dataset `{args.dataset_name}` ({n_train:,} images)"
    return f"a folder of {n_train:,} images (`{Path(args.train_data_dir).name}`, preprocessing `{args.data_preset}`)"


def _sample_images(dataset, count: int) -> torch.Tensor:
    return torch.stack([dataset[i] for i in range(min(count, len(dataset)))])


def _write_samples(trainer, images, step, out, acc, report_to) -> None:
    grid = sample_grid(trainer.publishable("encoder"), trainer.publishable("generator"), images)
    save_grid(grid, out / "samples" / f"step-{step:07d}.png")
    if report_to == "tensorboard":
        picture = ((grid.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).cpu().numpy()[None]
        acc.get_tracker("tensorboard").log_images({"samples": picture}, step=step, dataformats="NHWC")


def train(args) -> Path:
    """Run the training that ``args`` (from `tcp_hub.training.config.parse_args`) describes."""
    acc = make_accelerator(args)
    try:
        return _train(args, acc)
    except BaseException as err:
        # the stopped run's frames, held by the traceback, would keep its DDP models (and their process group)
        traceback.clear_frames(err.__traceback__)
        raise
    finally:
        # Also on errors: trackers are flushed, and the models and the process group are released before
        # exiting: a process that exits with them alive can abort in Gloo's teardown (SIGABRT) instead of
        # returning (tests/test_train_script.py runs it).
        acc.free_memory()
        acc.end_training()


def _train(args, acc: Accelerator) -> Path:
    out = Path(args.output_dir)
    prepare_output_dir(out, acc.is_main_process)
    set_seed(args.seed)
    dataset, train_set, holdout = make_datasets(args)
    checkpoint = resolve_checkpoint(out, args.resume_from_checkpoint)
    if checkpoint is not None:  # the checkpoint holds the weights: --init_from is not loaded
        models = checkpoint_models(checkpoint)
        initialised = ""
    else:
        models, initialised = initial_models(args)
    models[0].register_to_config(sample_size=args.resolution)  # the pipeline's default working size
    trainer = TCPTrainer(*models, TrainerConfig.from_args(args), acc, speed=SpeedConfig.from_args(args))
    register_hooks(trainer)
    batches = make_batch_source(args, acc, dataset, train_set)

    if initialised:
        acc.print(initialised)
    if checkpoint is not None:
        load_checkpoint(trainer, checkpoint)
        acc.print(f"resumed from {checkpoint} at step {trainer.global_step}")
    elif args.resume_from_checkpoint:
        acc.print(f"no checkpoint in {out}; starting a new run")

    if acc.is_main_process:
        scalars = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
        acc.init_trackers("tcp", config=scalars)
    samples = _sample_images(holdout if holdout is not None else train_set, args.num_samples)
    images_per_step = args.train_batch_size * args.gradient_accumulation_steps * acc.num_processes

    progress = tqdm(total=args.max_train_steps, initial=trainer.global_step, desc="training",
                    disable=not acc.is_local_main_process)
    last_log = (time.perf_counter(), trainer.global_step)
    deadline = time.perf_counter() + 60 * args.max_train_minutes if args.max_train_minutes else None
    out_of_time = False
    try:  # a run stopped by an error still closes its progress bar and mask worker
        for images in batches(trainer.global_step):
            if trainer.global_step >= args.max_train_steps:
                break
            with _stop_on_non_finite(trainer, out, args, acc):
                terms = trainer.run_step(images)
            if not acc.sync_gradients:
                continue
            step = trainer.global_step
            progress.update(1)
            if step % args.logging_steps == 0 or step == args.max_train_steps:
                values = dict(zip(terms, torch.stack([v.float() for v in terms.values()]).tolist()))
                now = time.perf_counter()
                values["images_per_second"] = (step - last_log[1]) * images_per_step / max(now - last_log[0], 1e-9)
                values["lr"] = trainer.opt_g.param_groups[0]["lr"]
                last_log = (now, step)
                acc.log(values, step=step)
                progress.set_postfix(rec=f"{values['reconstruction']:.3f}", d=f"{values['d_total']:.3f}",
                                     g=f"{values['g_total']:.3f}", img_s=f"{values['images_per_second']:.0f}")
            if step % args.checkpointing_steps == 0 and step < args.max_train_steps:
                save_checkpoint(trainer, out, args.checkpoints_total_limit)
            if args.sample_steps and step % args.sample_steps == 0 and acc.is_main_process:
                _write_samples(trainer, samples, step, out, acc, args.report_to)
            if deadline is not None and step % args.logging_steps == 0 and _all_past(acc, deadline):
                acc.print(f"--max_train_minutes {args.max_train_minutes:g} reached at step {step}; finishing")
                out_of_time = True
            if step >= args.max_train_steps or out_of_time:
                break
    finally:
        progress.close()
        trainer.masks.close()

    with _stop_on_non_finite(trainer, out, args, acc):
        trainer.check_finite()  # the steps since the last read-back
    save_checkpoint(trainer, out, args.checkpoints_total_limit)
    if acc.is_main_process:
        write_output_folder(trainer, args, out, describe_data(args, len(train_set) // args.dataset_repeats))
    acc.wait_for_everyone()
    skipped = getattr(dataset, "skipped_files", None)
    if skipped:
        acc.print(f"{len(skipped)} unreadable image file(s) were skipped, e.g. {skipped[0]}")
    return out


@contextlib.contextmanager
def _stop_on_non_finite(trainer: TCPTrainer, out: Path, args, acc):
    """A NaN/inf loss ends the run with a checkpoint of the weights as they are: the trainer does not
    apply the update of a step with a non-finite loss (see `TCPTrainer`)."""
    try:
        yield
    except NonFiniteLossError as err:
        path = save_checkpoint(trainer, out, args.checkpoints_total_limit)
        acc.print(f"stopped: {err}\nthe last good state is saved in {path}")
        raise


def _all_past(acc, deadline: float) -> bool:
    """Whether any process is past ``deadline`` (all processes must stop at the same step)."""
    late = torch.tensor(float(time.perf_counter() >= deadline), device=acc.device)
    return bool(acc.reduce(late, reduction="max") > 0)


def write_output_folder(trainer: TCPTrainer, args, out: Path, data: str) -> Optional[str]:
    """Save the pipeline, discriminators, card and arguments into ``out``; push it when asked."""
    pipe = TCPPipeline(encoder=trainer.publishable("encoder"), generator=trainer.publishable("generator"))
    pipe.save_pretrained(out)
    for name in ("discriminator", "patch_discriminator"):
        trainer.unwrapped(name).save_pretrained(out / "discriminators" / name)
    (out / "training_args.json").write_text(json.dumps(args_to_dict(args), indent=2))

    repo_id = args.hub_model_id or out.resolve().name
    if args.push_to_hub:
        repo_id = hub.create_model_repo(repo_id, private=args.hub_private)
    metrics_file = out / "metrics.json"
    width = _width_against_preset(pipe.encoder, args.preset)
    info = hub.CardInfo(
        repo_id=repo_id, data=data, resolution=args.resolution,
        preset=(args.preset or (f"that of `{args.init_from}`" if args.init_from else "full"))
        + (f", widths x {width:.3g}" if width not in (None, 1) else ""),
        parameters=sum(p.numel() for m in (pipe.encoder, pipe.generator) for p in m.parameters()),
        steps=trainer.global_step,
        images_seen=trainer.global_step * args.train_batch_size * args.gradient_accumulation_steps
        * trainer.accelerator.num_processes,
        global_batch=args.train_batch_size * args.gradient_accumulation_steps * trainer.accelerator.num_processes,
        mixed_precision=trainer.accelerator.mixed_precision, ablation=args.ablation, ema=args.use_ema,
        losses=losses_used(trainer.config), license=args.license,
        metrics=json.loads(metrics_file.read_text()) if metrics_file.is_file() else {},
        datasets=[args.dataset_name] if args.dataset_name else [], init_from=args.init_from or "")
    hub.write_model_card(out, info)
    if args.push_to_hub:
        hub.upload_model_folder(out, repo_id)
        print(f"uploaded {out} to https://huggingface.co/{repo_id}")
        return repo_id
    return None
