"""Where the training loop's batches come from: DataLoader workers, or photos kept on the device.

``make_batch_source(args, accelerator, dataset, train_set)`` returns a callable; ``source(step)``
iterates over the micro-batches from optimiser step ``step`` on (a resumed run continues where the
interrupted one stopped) until the loop stops asking.
"""

import math
from typing import Callable, Iterator

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from ..data import ImageFolderDataset
from ..data.device_crops import DeviceCropSampler
from ..errors import InputError

BatchSource = Callable[[int], Iterator[torch.Tensor]]

_CROPS_STREAM = 101  # apart from the trainer's streams (tcp_hub.training.step)


def make_batch_source(args, acc: Accelerator, dataset, train_set) -> BatchSource:
    """DataLoader batches of ``train_set``, or with ``--data_on_device`` crops cut on the device from
    ``dataset``'s training photos (the first ``len(dataset) - args.holdout`` files)."""
    if args.data_on_device:
        if not isinstance(dataset, ImageFolderDataset) or args.data_preset != "random_crop":
            raise InputError("--data_on_device needs a folder of photos (--train_data_dir) and --data_preset "
                             f"random_crop; got {type(dataset).__name__} with preset {args.data_preset!r}")
        files = dataset.files[:len(dataset) - args.holdout]
        sampler = DeviceCropSampler(files, args.resolution, acc.device, min_crop_fraction=args.min_crop_fraction)
        if sampler.skipped_files:
            acc.print(f"{len(sampler.skipped_files)} unreadable image file(s) were skipped, "
                      f"e.g. {sampler.skipped_files[0]}")
        return _device_batches(sampler, args, acc)
    return _loader_batches(train_set, args, acc)


def _device_batches(sampler: DeviceCropSampler, args, acc: Accelerator) -> BatchSource:
    generator = torch.Generator(device=acc.device)
    per_step = args.gradient_accumulation_steps

    def batches(step: int) -> Iterator[torch.Tensor]:
        micro = step * per_step
        while True:  # batch k of this process depends on (seed, process, k) only
            generator.manual_seed(hash((args.seed, acc.process_index, micro, _CROPS_STREAM)) & 0x7FFF_FFFF_FFFF_FFFF)
            yield sampler.sample(args.train_batch_size, generator)
            micro += 1

    return batches


def _loader_batches(train_set, args, acc: Accelerator) -> BatchSource:
    loader = DataLoader(train_set, batch_size=args.train_batch_size, shuffle=True, drop_last=True,
                        num_workers=args.dataloader_num_workers, pin_memory=acc.device.type == "cuda",
                        persistent_workers=args.dataloader_num_workers > 0)
    loader = acc.prepare(loader)
    steps_per_epoch = len(loader) // args.gradient_accumulation_steps
    if steps_per_epoch == 0:
        n_images = len(train_set) // args.dataset_repeats
        raise InputError(f"{n_images} training images make no full batch of {args.train_batch_size} per "
                         f"process x {acc.num_processes} processes; add images or lower --train_batch_size")

    def batches(step: int) -> Iterator[torch.Tensor]:
        first_epoch = step // steps_per_epoch
        skip = (step % steps_per_epoch) * args.gradient_accumulation_steps
        for epoch in range(first_epoch, math.ceil(args.max_train_steps / steps_per_epoch) + 1):
            loader.set_epoch(epoch)  # the same order as an uninterrupted run's
            yield from (acc.skip_first_batches(loader, skip) if epoch == first_epoch and skip else loader)

    return batches
