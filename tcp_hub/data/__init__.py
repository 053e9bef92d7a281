"""Training data: image datasets whose items are float32 ``[3, R, R]`` tensors in [-1, 1].

- ``ImageFolderDataset``: every image under a folder (``--train_data_dir``).
- ``HubImageDataset``: a Hugging Face ``datasets`` dataset (``--dataset_name``; optional dependency).
- ``SyntheticScenes``: procedural scenes with known content and style factors (``--dataset synthetic``).
- ``make_transform``: the preprocessing presets "resize" (faces), "resize_crop" (LSUN-like photos)
  and "random_crop" (large scene photos).
"""

from typing import Any, Iterable, Optional

from torch.utils.data import Dataset

from .folder import IMAGE_EXTENSIONS, ImageFolderDataset, UnreadableImageWarning
from .hub_dataset import HubImageDataset
from .synthetic import SyntheticScenes
from .transforms import PRESETS, make_transform

DATASET_KINDS = ("folder", "hub", "synthetic")


def build_dataset(train_data_dir: Optional[str] = None, dataset_name: Optional[str] = None,
                  dataset: Optional[str] = None, resolution: int = 256, preset: str = "resize_crop",
                  train: bool = True, hflip: bool = True, min_crop_fraction: float = 0.25,
                  exclude: Optional[Iterable[str]] = None, split: str = "train",
                  image_column: Optional[str] = None, synthetic_length: int = 100_000, seed: int = 0,
                  **load_kwargs: Any) -> Dataset:
    """The training dataset that the command-line options describe.

    Args:
        train_data_dir: a folder of images (searched recursively).
        dataset_name: a Hugging Face dataset id or ``datasets`` builder.
        dataset: "folder" | "hub" | "synthetic"; by default inferred from which of
            ``train_data_dir`` / ``dataset_name`` is given.
        resolution: R; items are float32 ``[3, R, R]`` in [-1, 1].
        preset, train, hflip, min_crop_fraction: preprocessing (see ``make_transform``).
        exclude: file names to hold out of a folder dataset.
        split, image_column, **load_kwargs: for a Hub dataset (see ``HubImageDataset``).
        synthetic_length, seed: size and seed of the synthetic dataset (which renders at
            ``resolution`` directly: the preprocessing options do not apply to it).
    """
    if dataset is None:
        if train_data_dir is not None and dataset_name is not None:
            raise ValueError(f"both --train_data_dir ({train_data_dir!r}) and --dataset_name "
                             f"({dataset_name!r}) are given; pass only one")
        if train_data_dir is not None:
            dataset = "folder"
        elif dataset_name is not None:
            dataset = "hub"
        else:
            raise ValueError("no training data given: pass --train_data_dir (a folder of images), "
                             "--dataset_name (a Hugging Face dataset) or --dataset synthetic")
    if dataset not in DATASET_KINDS:
        raise ValueError(f"unknown dataset kind {dataset!r}; choose one of {list(DATASET_KINDS)}")
    if dataset == "synthetic":
        return SyntheticScenes(resolution=resolution, length=synthetic_length, seed=seed, train=train)
    transform_args = dict(preset=preset, train=train, hflip=hflip, min_crop_fraction=min_crop_fraction)
    if dataset == "folder":
        if train_data_dir is None:
            raise ValueError("the folder dataset needs --train_data_dir (a folder of images)")
        return ImageFolderDataset(train_data_dir, resolution, exclude=exclude, **transform_args)
    if dataset_name is None:
        raise ValueError("the hub dataset needs --dataset_name (a Hugging Face dataset id)")
    return HubImageDataset(dataset_name, resolution, split=split, image_column=image_column,
                           **transform_args, **load_kwargs)


__all__ = ["ImageFolderDataset", "HubImageDataset", "SyntheticScenes", "UnreadableImageWarning",
           "make_transform", "build_dataset", "PRESETS", "IMAGE_EXTENSIONS", "DATASET_KINDS"]
