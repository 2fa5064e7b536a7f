"""Caption datasets: a fixed order of (image, caption) pairs, the same for stage 1c and stage 2.

Stage 1c (``forward_feature_caption.py``) stores one feature row per pair and stage 2
(``Label_embedding/*_sentence.py``) one F-label row per pair, so both must see the pairs in the same
order; :func:`load_captions` is that order. The stored "label" of a pair is its image index
(``CaptionSet.image_ids``): pairs of the same image share an id.

Sources, looked up under ``<data_root>/<name>/``:

- **Karpathy split files** (Flickr8k, Flickr30k, RSICD, COCO, and any dataset given in that format):
  ``dataset_<name>.json`` with ``images[].filename``, ``images[].split`` (train/val/test/restval),
  ``images[].sentences[].raw`` and, for COCO, ``images[].filepath``; images in the dataset's usual
  folder (``Flicker8k_Dataset``, ``flickr30k-images``, ``RSICD_images``, ``images``, ...).
  Order: the file's image order, each image's sentences in order.
- **COCO captions** (``coco`` without a Karpathy file): ``annotations/captions_<split>2017.json`` and
  ``<split>2017/``; the order of ``torchvision.datasets.CocoCaptions`` (images by ascending id, each
  image's captions in file order). Deliberate difference: the JSON is read directly, so pycocotools,
  which CocoCaptions imports, is not needed.
- **A table of your own**: ``caption_file=path`` (or ``<data_root>/<name>/captions.csv|.tsv``), one
  (image path, caption) pair per row, comma-separated for ``.csv``, tab-separated for ``.tsv``/``.txt``;
  image paths relative to the table's folder (or absolute); further columns are ignored. A first row whose
  first cell has no file suffix (e.g. ``image,caption``) is a header and skipped. Order: the table's rows.
  The dataset is named after the file's stem unless a name is given (a Karpathy file given as
  ``caption_file`` too, less its ``dataset_`` prefix: ``dataset_flickr8k.json`` -> ``flickr8k``).
  This is also how to run FlickrStyle10k (``flickr10kH``/``flickr10kR``), which has no standard split file.

``split`` defaults to ``"train"`` (a user choosing a model has the training captions, not the test
ones); ``"all"`` keeps every split. ``max_per_image`` keeps each image's first captions, ``max_samples``
the first pairs, both after the split, so a quick run is a prefix of the same fixed order.

Bad rows follow the policy of :mod:`pipeline.tasks.rows`: a pair whose image file is missing, whose caption is
empty, or that is not (image path, caption), and a duplicate, is named by its file and place (``row N`` of a
table, a header being row 1; ``image N`` / ``image N sentence M`` of a Karpathy file; ``annotation N`` of a COCO
file, from 0), skipped and counted (``CaptionSet.skipped``, recorded as ``skipped_rows``), never a reason to
reject the dataset; with ``strict`` the first one raises. A Karpathy image entry whose image is missing is one bad
row (its captions go with it). A duplicate is the same (image file, caption) pair again; the first is kept (an
image's several different captions are the dataset, not duplicates). A dataset with no pair left is a ValueError
listing every bad row (the first 20 and a count); an empty table says "the table has no rows", a header alone
"only a header"; a split with no image says to check the split name. Files are read as UTF-8: one that is not is
a ValueError naming the file and the line. What stops a dataset as a whole: a file not found, a file that is not
JSON, a Karpathy dataset none of whose first images is in one of its image folders, a COCO split without its
image folder (not downloaded, rather than bad rows).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from PIL import Image
from torch.utils.data import Dataset

from pipeline.tasks import rows as bad_rows
from pipeline.tasks.rows import BadRows

DEFAULT_SPLIT = "train"
TABLE_DELIMITERS = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
KARPATHY_URL = "https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip"
FOLDER_PROBE = 10  # a Karpathy file's image folder is the usual one holding one of its first images

# Folders each dataset's images usually come in (as unpacked from its download), tried in order.
IMAGE_FOLDERS = {
    "flickr8k": ("Flicker8k_Dataset", "Flickr8k_Dataset", "Images", "images"),
    "flickr30k": ("flickr30k-images", "flickr30k_images", "Images", "images"),
    "rsicd": ("RSICD_images", "RSICDimages", "images"),
    "coco": ("",),  # the Karpathy COCO file names a filepath (train2014/val2014) per image
}
WHERE_TO_GET = {
    "flickr8k": f"split file dataset_flickr8k.json from {KARPATHY_URL}; images (Flicker8k_Dataset/) from "
                "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_Dataset.zip",
    "flickr30k": f"split file dataset_flickr30k.json from {KARPATHY_URL}; images (flickr30k-images/) from "
                 "https://shannon.cs.illinois.edu/DenotationGraph/",
    "rsicd": "dataset_rsicd.json and RSICD_images/ from https://github.com/201528014227051/RSICD_optimal",
    "coco": "train2017/ and annotations/captions_train2017.json from https://cocodataset.org/#download "
            f"(or dataset_coco.json from {KARPATHY_URL} with train2014/ and val2014/)",
    "flickr10kh": "the humorous captions of FlickrStyle10K (Gan et al., StyleNet, CVPR 2017) with their Flickr30k "
                  "images, written as a table captions.csv of (image path, caption) rows",
    "flickr10kr": "the romantic captions of FlickrStyle10K (Gan et al., StyleNet, CVPR 2017) with their Flickr30k "
                  "images, written as a table captions.csv of (image path, caption) rows",
}


class CaptionSet(Dataset):
    """(image, caption, image index) pairs in a fixed order; the image is a PIL RGB image, or
    ``transform(image)`` when a transform is set."""

    def __init__(self, name: str, captions: list[str], image_paths: list[Path], image_ids: list[int], *,
                 split: str, source: str, transform: Callable | None = None, skipped: list[str] | None = None):
        if not (len(captions) == len(image_paths) == len(image_ids)):
            raise ValueError("captions, image_paths and image_ids must have one entry per pair")
        if not captions:
            raise ValueError(f"caption dataset {name!r} ({source}) holds no pairs")
        self.name = name
        self.skipped = list(skipped or [])   # "<file>:<row>: <reason>" of each bad row left out
        self.captions = list(captions)
        self.image_paths = list(image_paths)
        self.image_ids = list(image_ids)
        self.split = split
        self.source = source
        self.transform = transform

    def __len__(self) -> int:
        return len(self.captions)

    def __getitem__(self, index: int):
        path = self.image_paths[index]
        try:
            with Image.open(path) as handle:
                image = handle.convert("RGB")
        except FileNotFoundError:
            raise FileNotFoundError(f"image {path} of caption dataset {self.name!r} (pair {index}) is missing; "
                                    f"captions come from {self.source}") from None
        if self.transform is not None:
            image = self.transform(image)
        return image, self.captions[index], self.image_ids[index]

    def __repr__(self) -> str:
        return (f"CaptionSet({self.name!r}, split={self.split!r}, pairs={len(self)}, "
                f"images={len(set(self.image_ids))}, source={self.source})")


def load_captions(name: str | None, *, data_root: str | os.PathLike = "data",
                  caption_file: str | os.PathLike | None = None, split: str | None = None,
                  max_per_image: int | None = None, max_samples: int | None = None,
                  transform: Callable | None = None, strict: bool = False,
                  say: Callable[[str], None] = print) -> CaptionSet:
    """The caption dataset `name` (or the table/split file `caption_file`) as a :class:`CaptionSet`. Bad rows
    are skipped, counted and reported through `say` (``strict``: the first one raises, see
    :mod:`pipeline.tasks.rows`)."""
    split = split or DEFAULT_SPLIT
    for option, value in (("max_per_image", max_per_image), ("max_samples", max_samples)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{option} must be a positive integer or None, got {value!r}")
    if caption_file is not None:
        path = Path(caption_file)
        if not path.is_file():
            raise FileNotFoundError(f"caption file {path} not found (expected a .csv/.tsv table of "
                                    "(image path, caption) rows or a Karpathy dataset_<name>.json)")
        name = name or dataset_name_of(path)
        bad = BadRows(strict)
        records, source = _read_file(path, name, split, bad)
    else:
        if not name:
            raise ValueError("give a caption dataset name or a caption file")
        bad = BadRows(strict)
        records, source = _find_source(name, Path(data_root), split, bad)
    if not records:
        if bad:
            raise bad_rows.none_left(f"caption dataset {name!r} ({source}) has no usable pair", bad.rows)
        raise ValueError(f"caption dataset {name!r} ({source}, split {split!r}) holds no pairs; check the split "
                         "name (train, val, test, restval or all)")
    records = _limit(records, max_per_image, max_samples)
    bad_rows.report(name, bad.rows, say, kept=len(records), what="pairs")
    ids: dict[Path, int] = {}
    image_ids = [ids.setdefault(image, len(ids)) for image, _ in records]
    return CaptionSet(name, [caption for _, caption in records], [image for image, _ in records], image_ids,
                      split=split, source=str(source), transform=transform, skipped=bad.lines)


def dataset_name_of(caption_file: str | os.PathLike) -> str:
    """The dataset name of a caption file: its stem, less a Karpathy file's ``dataset_`` prefix
    (``captions.csv`` -> ``captions``, ``dataset_flickr8k.json`` -> ``flickr8k``)."""
    path = Path(caption_file)
    return path.stem.removeprefix("dataset_") if path.suffix.lower() == ".json" else path.stem


def _find_source(name: str, data_root: Path, split: str, bad: BadRows) -> tuple[list[tuple[Path, str]], Path]:
    folder = next((f for f in (data_root / name, data_root / name.lower()) if f.is_dir()), data_root / name)
    karpathy = folder / f"dataset_{name.lower()}.json"
    tables = [folder / f"captions{suffix}" for suffix in (".csv", ".tsv")]
    if karpathy.is_file():
        return _read_karpathy(karpathy, name, split, bad), karpathy
    for table in tables:
        if table.is_file():
            return _read_table(table, bad), table
    if name.lower() == "coco":
        annotations = folder / "annotations" / f"captions_{split}2017.json"
        if annotations.is_file():
            return _read_coco(annotations, folder / f"{split}2017", bad), annotations
    where = WHERE_TO_GET.get(name.lower(), "a Karpathy split file or a table of (image path, caption) rows")
    looked = [karpathy, *tables] + ([folder / "annotations" / f"captions_{split}2017.json"]
                                    if name.lower() == "coco" else [])
    raise FileNotFoundError(f"no captions for dataset {name!r}: looked for {', '.join(map(str, looked))}. "
                            f"Get {where}, and put them in {folder}/ (or pass --caption-file PATH)")


def _read_file(path: Path, name: str, split: str, bad: BadRows) -> tuple[list[tuple[Path, str]], Path]:
    if path.suffix.lower() == ".json":
        return _read_karpathy(path, name, split, bad), path
    if path.suffix.lower() not in TABLE_DELIMITERS:
        raise ValueError(f"caption file {path}: expected .csv, .tsv, .txt or a Karpathy .json, got {path.suffix!r}")
    return _read_table(path, bad), path


def _json(path: Path):
    try:
        return json.loads(bad_rows.read_text(path))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None


class _Pairs:
    """The pairs kept from one file, in order: each checked for a caption, an existing image, and a repeat."""

    def __init__(self, path: Path, bad: BadRows):
        self.path, self.bad, self.records = path, bad, []
        self._exists: dict[Path, bool] = {}

    def exists(self, image: Path) -> bool:
        return self._exists.setdefault(image, image.is_file())

    def add(self, row: str, image: Path, caption, missing_hint: str = "") -> None:
        if caption is None or not isinstance(caption, str) or not caption.strip():
            why = "no caption" if caption is None else "empty caption" if isinstance(caption, str) else \
                f"the caption is not text ({caption!r})"
            return self.bad.skip(self.path, row, why)
        if not self.exists(image):
            return self.bad.skip(self.path, row, f"image {image} not found{missing_hint}")
        caption = caption.strip()
        if not self.bad.duplicate([(("pair", image, caption), "the same image and caption")], self.path, row):
            self.records.append((image, caption))


def _read_karpathy(path: Path, name: str, split: str, bad: BadRows) -> list[tuple[Path, str]]:
    data = _json(path)
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise ValueError(f"{path} is not a Karpathy split file (no 'images' list)")
    chosen = [(number, image) for number, image in enumerate(images)
              if split == "all" or (isinstance(image, dict) and image.get("split") == split)]
    whole = [(number, image) for number, image in chosen if isinstance(image, dict)
             and isinstance(image.get("filename"), str) and image["filename"]
             and isinstance(image.get("filepath", ""), str) and isinstance(image.get("sentences"), list)]
    root = _karpathy_image_folder(path.parent, name, [image for _, image in whole[:FOLDER_PROBE]])
    pairs = _Pairs(path, bad)
    kept = {number for number, _ in whole}
    for number, image in chosen:
        if number not in kept:
            bad.skip(path, f"image {number}", "not an image entry with a 'filename' and a list of 'sentences'")
            continue
        file = root / image.get("filepath", "") / image["filename"]
        if not pairs.exists(file):
            bad.skip(path, f"image {number}", f"image {file} not found ({len(image['sentences'])} caption(s))")
            continue
        for sentence_number, sentence in enumerate(image["sentences"]):
            raw = sentence.get("raw") if isinstance(sentence, dict) else None
            pairs.add(f"image {number} sentence {sentence_number}", file, raw)
    return pairs.records


def _karpathy_image_folder(folder: Path, name: str, first: list[dict]) -> Path:
    """The folder (among the dataset's usual ones) that holds one of the first images; the first of them where
    there is no image entry. None holding any: FileNotFoundError (the images are not there at all)."""
    candidates = [folder / sub for sub in IMAGE_FOLDERS.get(name.lower(), ("images", ""))]
    if first:
        relatives = [Path(image.get("filepath", "")) / image["filename"] for image in first]
        for candidate in candidates:
            if any((candidate / relative).is_file() for relative in relatives):
                return candidate
        raise FileNotFoundError(f"images of {name!r} not found: looked for {relatives[0]} in "
                                f"{', '.join(str(c) for c in candidates)}. "
                                f"Get {WHERE_TO_GET.get(name.lower(), 'the images')} and unpack them in {folder}/")
    return candidates[0]


def _read_table(path: Path, bad: BadRows) -> list[tuple[Path, str]]:
    delimiter = TABLE_DELIMITERS.get(path.suffix.lower(), ",")
    rows = [(number, row) for number, row in bad_rows.table_rows(path, delimiter) if any(c.strip() for c in row)]
    expected = "one (image path, caption) pair a row, after an optional header"
    if not rows:
        raise bad_rows.no_rows(path, expected)
    if not Path(rows[0][1][0].strip()).suffix:
        if len(rows) == 1:
            raise bad_rows.only_header(path, expected)
        rows = rows[1:]
    pairs = _Pairs(path, bad)
    for number, row in rows:
        if len(row) < 2 or not row[0].strip():
            bad.skip(path, f"row {number}", f"{row!r} is not (image path, caption); quote captions that contain "
                                            "the delimiter")
            continue
        pairs.add(f"row {number}", path.parent / row[0].strip(), row[1],
                  f" (image paths are relative to {path.parent})")
    return pairs.records


def _read_coco(annotations: Path, image_folder: Path, bad: BadRows) -> list[tuple[Path, str]]:
    if not image_folder.is_dir():
        raise FileNotFoundError(f"{image_folder}/ not found: the images of {annotations.name} "
                                f"({WHERE_TO_GET['coco']})")
    coco = _json(annotations)
    try:
        files = {image["id"]: image["file_name"] for image in coco["images"]}
        listed = list(coco["annotations"])
    except (KeyError, TypeError) as error:
        raise ValueError(f"{annotations} is not a COCO captions file with 'images' (id, file_name) and "
                         f"'annotations' ({type(error).__name__}: {error})") from None
    captions: dict[int, list[tuple[int, object]]] = {}
    for number, annotation in enumerate(listed):
        image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
        if image_id not in files:
            bad.skip(annotations, f"annotation {number}", f"image_id {image_id!r} is not among the 'images'")
            continue
        captions.setdefault(image_id, []).append((number, annotation.get("caption")))
    pairs = _Pairs(annotations, bad)
    for image_id in sorted(files):
        for number, caption in captions.get(image_id, []):
            pairs.add(f"annotation {number}", image_folder / files[image_id], caption)
    return pairs.records


def _limit(records: list[tuple[Path, str]], max_per_image: int | None,
           max_samples: int | None) -> list[tuple[Path, str]]:
    if max_per_image is not None:
        seen: dict[Path, int] = {}
        kept = []
        for image, caption in records:
            seen[image] = seen.get(image, 0) + 1
            if seen[image] <= max_per_image:
                kept.append((image, caption))
        records = kept
    return records[:max_samples] if max_samples is not None else records
