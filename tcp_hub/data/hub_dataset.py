"""Images from a Hugging Face ``datasets`` dataset (a Hub id, a local script or a packaged builder).

``datasets`` is optional (``pip install datasets``, or ``pip install tcp-hub[train]``); it is
imported only when a ``HubImageDataset`` is built. Cached datasets load offline
(``HF_DATASETS_OFFLINE=1``).
"""

import io
from typing import Any, Optional

from PIL import Image

from .folder import SkippingImageDataset
from .transforms import make_transform


def _import_datasets():
    try:
        import datasets
    except ImportError as error:
        raise ImportError("loading a dataset by name (--dataset_name) needs the optional package "
                          "`datasets`: run `pip install datasets` (or `pip install tcp-hub[train]`), "
                          "or train from a folder of images with --train_data_dir") from error
    return datasets


def find_image_column(features) -> Optional[str]:
    """Name of the first column whose feature type is ``datasets.Image``, else None."""
    datasets = _import_datasets()
    for name, feature in features.items():
        if isinstance(feature, datasets.Image):
            return name
    return None


class HubImageDataset(SkippingImageDataset):
    """One split of a ``datasets`` dataset, its images preprocessed for training.

    Args:
        dataset_name: what ``datasets.load_dataset`` takes first: a Hub id ("user/name"),
            a packaged builder ("imagefolder") or a local path.
        resolution: R; items are float32 ``[3, R, R]`` in [-1, 1].
        preset: preprocessing, "resize" | "resize_crop" | "random_crop" (see ``make_transform``).
        split: which split to use.
        image_column: the column holding the images; default: the first column of type
            ``datasets.Image``.
        train, hflip, min_crop_fraction: as for ``make_transform``.
        **load_kwargs: passed on to ``datasets.load_dataset`` (``data_dir``, ``cache_dir``,
            ``revision``, ``name``...).

    Unreadable images are skipped with one warning each and listed in ``skipped_files``.
    """

    def __init__(self, dataset_name: str, resolution: int, preset: str = "resize_crop", split: str = "train",
                 image_column: Optional[str] = None, train: bool = True, hflip: bool = True,
                 min_crop_fraction: float = 0.25, **load_kwargs: Any):
        transform = make_transform(preset, resolution, train=train, hflip=hflip,
                                   min_crop_fraction=min_crop_fraction)
        datasets = _import_datasets()
        self.dataset_name = dataset_name
        table = datasets.load_dataset(dataset_name, split=split, **load_kwargs)
        columns = {name: type(feature).__name__ for name, feature in table.features.items()}
        if image_column is None:
            image_column = find_image_column(table.features)
            if image_column is None:
                raise ValueError(f"dataset {dataset_name!r} (split {split!r}) has no column of type Image; "
                                 f"its columns are {columns}. Pass image_column (--image_column) to name "
                                 "the column holding images or image file paths")
        elif image_column not in columns:
            raise ValueError(f"dataset {dataset_name!r} (split {split!r}) has no column {image_column!r}; "
                             f"its columns are {sorted(columns)}")
        if len(table) == 0:
            raise ValueError(f"split {split!r} of dataset {dataset_name!r} is empty")
        self.image_column = image_column
        self.split = split
        # Only the image column is read per item.
        self.table = table.select_columns([image_column])
        if isinstance(table.features[image_column], datasets.Image):
            # Decode in load_image so a corrupt file is skipped like any other bad image.
            self.table = self.table.cast_column(image_column, datasets.Image(decode=False))
        super().__init__(transform, len(self.table))

    def load_image(self, index: int) -> Image.Image:
        return _open(self.table[index][self.image_column])

    def describe(self, index: int) -> str:
        value = self.table[index][self.image_column]
        path = value.get("path") if isinstance(value, dict) else value if isinstance(value, str) else None
        return f"{self.dataset_name}[{self.split}][{index}]" + (f" ({path})" if path else "")

    def source(self) -> str:
        return f"the dataset {self.dataset_name!r} (split {self.split!r})"

    def __repr__(self) -> str:
        return (f"HubImageDataset({self.dataset_name!r}, split={self.split!r}, column={self.image_column!r}, "
                f"{len(self)} images, transform={self.transform!r})")


def _open(value) -> Image.Image:
    """A cell of an image column (undecoded dict, PIL image or file path) -> loaded PIL image."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, dict):
        source = io.BytesIO(value["bytes"]) if value.get("bytes") is not None else value.get("path")
    else:
        source = value
    if source is None:
        raise ValueError("empty image cell")
    with Image.open(source) as image:
        image.load()
        return image
