"""Checkpoints: ``output_dir/checkpoint-{step}`` folders written by ``accelerator.save_state``.

Each model is stored with ``save_pretrained`` (``encoder/``, ``generator/``, ``discriminator/``,
``patch_discriminator/``, plus ``ema_encoder/`` and ``ema_generator/`` with EMA), next to
accelerate's optimiser, scaler and per-process RNG files. A checkpoint is written into a hidden
temporary folder and renamed when complete, so a crash never leaves a half-written latest one; a
failed write removes its temporary folder, and `prepare_output_dir` clears those a killed run left.
"""

import json
import os
import pickle
import re
import shutil
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

from safetensors import SafetensorError

from ..errors import InputError
from .step import TCPTrainer

MODEL_NAMES = ("encoder", "generator", "discriminator", "patch_discriminator")
_PATTERN = re.compile(r"^checkpoint-(\d+)$")
STATE_FILE = "trainer_state.json"
TMP_PREFIX = ".tmp-checkpoint-"
# What a full disk (or another failed write) raises while saving: OSError (ENOSPC), torch.save's
# RuntimeError ("[enforce fail at inline_container.cc] unexpected pos"), safetensors' own error.
WRITE_ERRORS = (OSError, RuntimeError, SafetensorError)


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (typically a full disk); the message names the path."""


def prepare_output_dir(output_dir, main_process: bool = True) -> None:
    """Create ``output_dir`` and check it is writable before training starts (`InputError` naming it if
    not); on the main process, remove the temporary checkpoint folders a killed run left there."""
    root = Path(output_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as err:
        reason = err.strerror or str(err)
        what = "it is a file, not a folder" if root.exists() and not root.is_dir() else reason
        raise InputError(f"--output_dir {root}: cannot write there ({what}); pass a folder you can write "
                         "to") from None
    if main_process:
        for stale in root.glob(TMP_PREFIX + "*"):
            shutil.rmtree(stale, ignore_errors=True)


def _write_failed(tmp: Path, output_dir, err: BaseException) -> CheckpointWriteError:
    """The error for a failed checkpoint write, with the free space and the size of the last checkpoint."""
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    found = list_checkpoints(output_dir)
    try:
        free = f"{shutil.disk_usage(output_dir).free / 1e6:,.0f} MB are free"
    except OSError:
        free = "the free space is unknown"
    if found:
        size = sum(f.stat().st_size for f in found[-1][1].rglob("*") if f.is_file())
        need = (f"; a checkpoint needs about {size / 1e6:,.0f} MB. The last complete checkpoint, {found[-1][1]}, "
                "is untouched")
    else:
        need = ""
    return CheckpointWriteError(f"could not write the checkpoint {tmp} ({reason}): the disk may be full "
                                f"({free}{need}). Free some space or pass another --output_dir, then resume "
                                "with --resume_from_checkpoint latest")


def _name_of(trainer: TCPTrainer, model) -> str:
    bare = trainer.accelerator.unwrap_model(model)
    for name in MODEL_NAMES:
        if trainer.unwrapped(name) is bare:
            return name
    raise RuntimeError(f"unexpected model {type(bare).__name__} in the accelerator's state")


def register_hooks(trainer: TCPTrainer) -> None:
    """Make ``save_state``/``load_state`` store every model (and the EMA) with ``save_pretrained``."""
    acc = trainer.accelerator

    def save_hook(models, weights, output_dir):
        if acc.is_main_process:
            for model in models:
                acc.unwrap_model(model).save_pretrained(os.path.join(output_dir, _name_of(trainer, model)))
            for name, ema in trainer.ema.items():
                ema.model.save_pretrained(os.path.join(output_dir, f"ema_{name}"))
        weights.clear()  # saved above; accelerate must not write them again as pickles

    def load_hook(models, input_dir):
        while models:
            model = models.pop()
            name = _name_of(trainer, model)
            bare = acc.unwrap_model(model)
            bare.load_state_dict(type(bare).from_pretrained(os.path.join(input_dir, name)).state_dict())
        for name, ema in trainer.ema.items():
            folder = os.path.join(input_dir, f"ema_{name}")
            source = folder if os.path.isdir(folder) else os.path.join(input_dir, name)
            ema.load_weights(type(ema.model).from_pretrained(source))

    acc.register_save_state_pre_hook(save_hook)
    acc.register_load_state_pre_hook(load_hook)


def list_checkpoints(output_dir) -> List[Tuple[int, Path]]:
    """Complete checkpoints in ``output_dir`` as ``(step, path)``, oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _PATTERN.match(p.name))]
    return sorted(found)


def save_checkpoint(trainer: TCPTrainer, output_dir, total_limit: Optional[int] = None) -> Path:
    """Write ``checkpoint-{global_step}`` atomically (all processes must call), then prune old ones."""
    acc = trainer.accelerator
    step = trainer.global_step
    final = Path(output_dir) / f"checkpoint-{step}"
    tmp = Path(output_dir) / f"{TMP_PREFIX}{step}"
    if acc.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    acc.wait_for_everyone()
    try:
        acc.save_state(str(tmp))
        acc.wait_for_everyone()
        if acc.is_main_process:
            (tmp / STATE_FILE).write_text(json.dumps({"global_step": step}))
    except WRITE_ERRORS as err:
        error = _write_failed(tmp, output_dir, err)
        shutil.rmtree(tmp, ignore_errors=True)
        raise error from None
    if acc.is_main_process:
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        if total_limit is not None and total_limit > 0:
            for _, old in list_checkpoints(output_dir)[:-total_limit]:
                shutil.rmtree(old, ignore_errors=True)
    acc.wait_for_everyone()
    return final


def resolve_checkpoint(output_dir, resume_from: Optional[str]) -> Optional[Path]:
    """``"latest"`` -> newest complete checkpoint in ``output_dir`` (None if there is none); a path -> itself."""
    if not resume_from:
        return None
    if resume_from == "latest":
        found = list_checkpoints(output_dir)
        return found[-1][1] if found else None
    path = Path(resume_from)
    if not path.is_dir() and (Path(output_dir) / resume_from).is_dir():
        path = Path(output_dir) / resume_from
    if not (path / STATE_FILE).is_file():
        raise InputError(f"--resume_from_checkpoint {resume_from}: no complete checkpoint there (expected a "
                         f"checkpoint-<step> folder with {STATE_FILE}); use 'latest' to pick the newest in output_dir")
    return path


def load_checkpoint(trainer: TCPTrainer, path) -> int:
    """Restore models, optimisers, EMA and RNG from ``path``; sets and returns ``trainer.global_step``.

    Pickled files (optimiser, RNG states) load with ``weights_only``: one that needs code to load is
    refused with an `InputError`.
    """
    try:
        trainer.accelerator.load_state(str(path))
    except pickle.UnpicklingError as err:
        found = [line.strip() for line in str(err).splitlines() if "Unsupported" in line]  # torch names the code
        reason = f" ({found[0].split('. ')[0]})" if found else ""
        raise InputError(f"--resume_from_checkpoint: {path} holds a pickle that needs code to load, which is "
                         f"refused for safety{reason}. Resume only from checkpoints this trainer wrote, or "
                         "start a new run in another --output_dir") from None
    trainer.global_step = json.loads((Path(path) / STATE_FILE).read_text())["global_step"]
    return trainer.global_step
