"""Image datasets that decode stored files: a folder of images, and the shared rule for bad files.

A corrupt or unreadable image never stops a training run: it is skipped (the next index is
loaded instead), warned about once by name, and listed in ``skipped_files`` so the training
script can report a count at the end, also when DataLoader workers met it.
"""

import multiprocessing
import os
import struct
import warnings
import zlib
from multiprocessing.context import get_spawning_popen
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Set

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import InputError
from .transforms import make_transform

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

# What Pillow (and the codecs under it) raise for a damaged or unsupported file.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error,
                 Image.DecompressionBombError)


class UnreadableImageWarning(UserWarning):
    """An image file could not be decoded and was skipped."""


class SkippingImageDataset(Dataset):
    """Base of the file-backed datasets: ``__getitem__`` transforms item i, or the next readable one.

    Subclasses call ``super().__init__(transform, size)`` once they know their size and implement
    ``load_image(index) -> PIL.Image`` and ``describe(index) -> str`` (the file's name for messages).

    Which items are unreadable is kept in shared memory, so DataLoader workers (forked or spawned)
    tell each other and the main process: ``skipped_files`` in the training script lists what any
    worker met, and a bad file is warned about once, not once per worker.
    """

    def __init__(self, transform, size: int):
        self.transform = transform
        self._bad_flags = multiprocessing.RawArray("B", size)  # 1 = known unreadable

    def __len__(self) -> int:
        return len(self._bad_flags)

    def load_image(self, index: int) -> Image.Image:
        raise NotImplementedError

    def describe(self, index: int) -> str:
        raise NotImplementedError

    def source(self) -> str:
        """Where the images come from, for messages (``"the folder '/data/photos'"``)."""
        return "this dataset"

    @property
    def skipped_files(self) -> List[str]:
        """Names of the files found unreadable so far, in dataset order."""
        flags = np.frombuffer(self._bad_flags, dtype=np.uint8)
        return [self.describe(int(i)) for i in np.flatnonzero(flags)]

    def __getitem__(self, index: int) -> torch.Tensor:
        """Float32 ``[3, R, R]`` in [-1, 1]."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} images")
        index %= n
        for offset in range(n):
            candidate = (index + offset) % n
            if self._bad_flags[candidate]:
                continue
            try:
                image = self.load_image(candidate)
                return self.transform(image)
            except DECODE_ERRORS as error:
                self._bad_flags[candidate] = 1
                warnings.warn(f"skipping unreadable image {self.describe(candidate)!r} "
                              f"({type(error).__name__}: {error}); another image is used in its place",
                              UnreadableImageWarning, stacklevel=2)
        raise InputError(f"none of the {n} images in {self.source()} could be read (for example "
                         f"{self.describe(index)!r}); check the files or the path")

    def __getstate__(self):
        state = self.__dict__.copy()
        if get_spawning_popen() is None:  # pickled for something other than a worker: a private copy
            state["_bad_flags"] = bytearray(self._bad_flags)
        return state


def find_images(root: Path, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> List[Path]:
    """Image files under ``root``, sorted by relative path.

    The search is recursive and follows symbolic links (each real folder is visited once);
    extensions are case-insensitive; hidden files (".name", e.g. macOS "._photo.jpg") are left out.
    """
    wanted = {e.lower() for e in extensions}
    found, visited = [], set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:  # a link cycle or a second link to the same folder
            subfolders.clear()
            continue
        visited.add(real)
        found += [Path(folder, n) for n in names if not n.startswith(".") and Path(n).suffix.lower() in wanted]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


class ImageFolderDataset(SkippingImageDataset):
    """Every image file under a folder (searched recursively, see ``find_images``), preprocessed for training.

    Args:
        root: the folder.
        resolution: R; items are float32 ``[3, R, R]`` in [-1, 1].
        preset: preprocessing, "resize" | "resize_crop" | "random_crop" (see ``make_transform``).
        train: random crops and flips when True; deterministic centre crops when False.
        hflip: random horizontal flips in training.
        min_crop_fraction: smallest crop of the "random_crop" preset, as a fraction of the short side.
        exclude: file names (``"a.jpg"``) or paths relative to ``root`` (``"sub/a.jpg"``) to leave
            out, e.g. a held-out evaluation set.

    Attributes:
        files: the images used, sorted.
        excluded_files: the images that ``exclude`` removed.
        skipped_files: paths of files that could not be decoded (found while iterating).
    """

    def __init__(self, root, resolution: int, preset: str = "resize_crop", train: bool = True,
                 hflip: bool = True, min_crop_fraction: float = 0.25, exclude: Optional[Iterable[str]] = None):
        transform = make_transform(preset, resolution, train=train, hflip=hflip,
                                   min_crop_fraction=min_crop_fraction)
        self.root = Path(root).expanduser()
        searched = ", ".join(IMAGE_EXTENSIONS)
        if not self.root.exists():
            raise ValueError(f"training image folder {str(self.root)!r} does not exist")
        if not self.root.is_dir():
            raise ValueError(f"{str(self.root)!r} is a file, not a folder; pass the folder that holds "
                             f"the training images ({searched})")
        files = find_images(self.root)
        excluded = {exclude} if isinstance(exclude, str) else set(exclude or ())
        self.files = [p for p in files if not _matches(p, self.root, excluded)]
        self.excluded_files = [p for p in files if _matches(p, self.root, excluded)]
        unmatched = excluded - {n for p in self.excluded_files for n in (p.name, _relative(p, self.root))}
        if unmatched:
            warnings.warn(f"{len(unmatched)} names passed to exclude match no image under "
                          f"{str(self.root)!r}, e.g. {sorted(unmatched)[0]!r}", UserWarning, stacklevel=2)
        if not self.files:
            what = "all of them are excluded" if files else f"no files with extensions {searched}"
            raise ValueError(f"no training images in {str(self.root)!r}: {what} "
                             "(the folder is searched recursively, extensions are case-insensitive)")
        super().__init__(transform, len(self.files))

    def load_image(self, index: int) -> Image.Image:
        with Image.open(self.files[index]) as image:
            image.load()
            return image

    def describe(self, index: int) -> str:
        return str(self.files[index])

    def source(self) -> str:
        return f"the folder {str(self.root)!r}"

    def __repr__(self) -> str:
        return f"ImageFolderDataset({str(self.root)!r}, {len(self)} images, transform={self.transform!r})"


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _matches(path: Path, root: Path, names: Set[str]) -> bool:
    return path.name in names or _relative(path, root) in names
