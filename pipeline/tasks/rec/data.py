"""Referring-expression datasets: a fixed order of (image, expression, box) samples, the same for stages 1 and 2.

Sources, looked up in a dataset folder (``<data_root>/<name>/`` or the folder given with ``--dataset-dir``):

- **A table of your own**, ``refs.jsonl``: one JSON object per line, ``{"image": path relative to the folder (or
  absolute), "expression": text, "bbox": [x, y, w, h] in pixels (COCO convention: top-left corner, width, height),
  "split": "train"}``; ``split`` is optional (a row without one is ``train``), no other key is read (an unknown
  key, e.g. a misspelled ``"spilt"``, makes the row bad). Order: the file's rows.
- **RefCOCO / RefCOCO+ / RefCOCOg** in the layout of their authors' toolkit (github.com/lichengunc/refer):
  ``refs(<split_by>).p`` (``unc``, ``umd`` or ``google``: a pickle of the referred objects, each with its COCO
  annotation id, its split and its sentences) and ``instances.json`` (the COCO images and annotations those refer
  to, boxes ``[x, y, w, h]``), images in COCO's ``train2014/`` (looked for in the folder, in ``<data_root>/coco/``
  and in the toolkit's ``<data_root>/images/mscoco/images/``; or ``--image-dir``). One sample per (referred
  object, sentence): the refs in file order, each ref's sentences in order; the expression is the sentence's
  ``sent`` (the toolkit's lower-cased, tokenised text; ``raw`` where there is no ``sent``). Splits as the toolkit
  has them: ``train``, ``val``, ``testA``, ``testB`` (RefCOCO/RefCOCO+ unc), ``test`` (RefCOCOg umd).
  The ``.p`` file is read by :func:`load_plain_pickle`, which refuses anything but plain built-in data (a pickle
  can name any function to call while it is read; this one names none).

Bad rows follow the policy of :mod:`pipeline.tasks.rows`: a row that cannot be a sample (malformed JSON, a
missing or unknown key, named with the expected keys; an empty expression, a box of zero or negative size or
outside the image by more than :data:`BOX_TOLERANCE_PX` pixels, a missing or unreadable image, a ref whose
annotation or image is not in ``instances.json``) and a duplicate are named by their file and place (``line N``
of refs.jsonl; ``ref N`` / ``ref N sentence M`` of the refs file, from 0), skipped and counted (``RefSet.skipped``,
recorded as ``skipped_rows``); with ``strict`` the first one raises. A duplicate is the same image, expression
(spaces collapsed) and box as an earlier sample; the first is kept. A dataset with no sample left is a ValueError
listing every bad row (the first 20 and a count) and the splits its rows have; an empty refs.jsonl says "the
table has no rows". A file that cannot be read as a whole (not UTF-8: the file and the line named) is a
ValueError naming it. A box that pokes out of the image by at most the tolerance (COCO's float boxes often end a
fraction of a pixel past the border) is clipped.

``split`` defaults to ``"train"``; ``"all"`` keeps every split. ``max_samples`` keeps the first samples of the
split, so a quick run is a prefix of the same fixed order.
"""
from __future__ import annotations

import io
import json
import math
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from pipeline.tasks import rows as bad_rows
from pipeline.tasks.rows import BadRows

REFS_TABLE = "refs.jsonl"
DEFAULT_SPLIT = "train"
SPLIT_BYS = ("unc", "umd", "google")  # the toolkit's split files, tried in this order when none is asked for
BOX_TOLERANCE_PX = 1.0
TABLE_KEYS = ("image", "expression", "bbox")
TABLE_OPTIONAL_KEYS = ("split",)
WHERE_TO_GET = ("refs(unc).p / refs(umd).p and instances.json from https://github.com/lichengunc/refer "
                "(data/refcoco.zip, refcoco+.zip, refcocog.zip) and COCO train2014 images from "
                "https://cocodataset.org/#download")


@dataclass
class RefSet:
    """(image path, expression, box) samples in a fixed order. Boxes are ``(x1, y1, x2, y2)`` in pixels inside
    the image, ``sizes`` the images' ``(width, height)``; ``image_ids`` number the distinct images in order."""
    name: str
    image_paths: list[Path]
    expressions: list[str]
    boxes: list[tuple[float, float, float, float]]
    sizes: list[tuple[int, int]]
    split: str
    source: str
    skipped: list[str] = field(default_factory=list)  # "file:row: why" of every row left out

    def __post_init__(self):
        if not (len(self.image_paths) == len(self.expressions) == len(self.boxes) == len(self.sizes)):
            raise ValueError("image_paths, expressions, boxes and sizes must have one entry per sample")
        if not self.expressions:
            raise bad_rows.none_left(f"referring-expression dataset {self.name!r} ({self.source}, split "
                                     f"{self.split!r}) holds no usable sample ({len(self.skipped)} rows skipped)",
                                     self.skipped)
        ids: dict[Path, int] = {}
        self.image_ids = [ids.setdefault(path, len(ids)) for path in self.image_paths]

    def __len__(self) -> int:
        return len(self.expressions)

    def normalised_boxes(self) -> list[tuple[float, float, float, float]]:
        """Each box's corners divided by its image's width and height: (x1/W, y1/H, x2/W, y2/H), in [0, 1]."""
        return [(x1 / w, y1 / h, x2 / w, y2 / h) for (x1, y1, x2, y2), (w, h) in zip(self.boxes, self.sizes)]

    def image(self, index: int) -> Image.Image:
        """The RGB image of sample `index`; OSError naming the sample where it cannot be read."""
        path = self.image_paths[index]
        try:
            with Image.open(path) as handle:
                return handle.convert("RGB")
        except FileNotFoundError:
            raise FileNotFoundError(f"image {path} of sample {index} is missing (read from {self.source})") from None


def box_text(box: tuple[float, float, float, float]) -> str:
    """The normalised box as the text stage 2 embeds: ``"x1=0.12 y1=0.40 x2=0.55 y2=0.98"`` (two decimals)."""
    x1, y1, x2, y2 = box
    return f"x1={x1:.2f} y1={y1:.2f} x2={x2:.2f} y2={y2:.2f}"


# ----- reading ---------------------------------------------------------------------------------------------
def load_refs(name: str | None, *, data_root: str | os.PathLike = "data", dataset_dir: str | os.PathLike | None = None,
              split: str | None = None, split_by: str | None = None, image_dir: str | os.PathLike | None = None,
              max_samples: int | None = None, say=print, strict: bool = False) -> RefSet:
    """The samples of dataset `name` under `data_root` (or of the folder / refs.jsonl `dataset_dir`). Bad rows are
    skipped, counted and reported through `say` (``strict``: the first one raises, see :mod:`pipeline.tasks.rows`)."""
    split = split or DEFAULT_SPLIT
    if max_samples is not None and (not isinstance(max_samples, int) or max_samples < 1):
        raise ValueError(f"max_samples must be a positive integer or None, got {max_samples!r}")
    if dataset_dir is not None:
        given = Path(dataset_dir).expanduser()
        table = given if given.suffix == ".jsonl" else given / REFS_TABLE
        folder = table.parent
        name = dataset_name_of(given)
    else:
        if not name:
            raise ValueError("give a referring-expression dataset name or --dataset-dir")
        folder = next((f for f in (Path(data_root) / name, Path(data_root) / name.lower()) if f.is_dir()),
                      Path(data_root) / name)
        table = folder / REFS_TABLE
    if table.is_file():
        refs = _read_table(name, table, split, max_samples, BadRows(strict))
    else:
        pickled = _refer_file(folder, split_by)
        if pickled is None:
            looked = [table] + [folder / f"refs({by}).p" for by in ((split_by,) if split_by else SPLIT_BYS)]
            raise FileNotFoundError(f"no referring expressions for dataset {name!r}: looked for "
                                    f"{', '.join(map(str, looked))}. Write a {REFS_TABLE} (one JSON object a line: "
                                    f"image, expression, bbox [x, y, w, h], split), or get {WHERE_TO_GET}")
        images = _coco_images(folder, Path(data_root), image_dir)
        refs = _read_refer(name, pickled, folder / "instances.json", images, split, max_samples, BadRows(strict))
    _report(refs, say)
    return refs


def dataset_name_of(path: str | os.PathLike) -> str:
    """The dataset name of a folder (its name) or of a .jsonl table (its stem; ``refs.jsonl``: its folder's name)."""
    path = Path(path).expanduser().resolve()
    if path.suffix == ".jsonl":
        return path.parent.name if path.name == REFS_TABLE else path.stem
    return path.name


def _report(refs: RefSet, say) -> None:
    bad_rows.report(refs.name, refs.skipped, say, kept=len(refs), what="samples")


class _Rows:
    """Collects the kept samples and the bad rows of one file, and the splits its rows are of."""

    def __init__(self, source: Path, bad: BadRows):
        self.source, self.bad = source, bad
        self.paths, self.expressions, self.boxes, self.sizes = [], [], [], []
        self.splits: set[str] = set()

    def skip(self, row, why: str) -> None:
        self.bad.skip(self.source, row, why)

    def add(self, row, image: Path, expression, bbox, size) -> None:
        """Checks the expression and the box against the image size and for a repeat, then keeps the sample or
        skips the row."""
        if not isinstance(expression, str) or not expression.strip():
            return self.skip(row, f"the expression must be a non-empty string, got {expression!r}")
        box = _checked_box(bbox, size)
        if isinstance(box, str):
            return self.skip(row, box)
        expression = " ".join(expression.split())
        if self.bad.duplicate([(("sample", image, expression, box), "the same image, expression and box")],
                              self.source, row):
            return
        self.paths.append(image)
        self.expressions.append(expression)
        self.boxes.append(box)
        self.sizes.append(size)

    def refs(self, name: str, split: str, max_samples: int | None) -> RefSet:
        if not self.paths:
            others = sorted(self.splits - {split})
            hint = (f"; its rows are of split(s) {', '.join(others)}" if others and split != "all" else
                    "; check the split name (train, val, test, testA, testB or all)" if not self.bad else "")
            raise bad_rows.none_left(f"referring-expression dataset {name!r} ({self.source}, split {split!r}) "
                                     f"holds no usable sample ({len(self.bad)} rows skipped){hint}", self.bad.rows)
        end = max_samples if max_samples is not None else len(self.paths)
        return RefSet(name, self.paths[:end], self.expressions[:end], self.boxes[:end], self.sizes[:end], split,
                      str(self.source), self.bad.lines)


def _checked_box(bbox, size: tuple[int, int]) -> tuple[float, float, float, float] | str:
    """(x1, y1, x2, y2) inside the image from [x, y, w, h], or the reason the box is unusable."""
    if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
        return f"bbox must be four numbers [x, y, w, h] in pixels, got {bbox!r}"
    x, y, w, h = map(float, bbox)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return f"bbox {list(bbox)} holds a non-finite number"
    if w <= 0 or h <= 0:
        return f"bbox {list(bbox)} has zero or negative size (w={w:g}, h={h:g})"
    width, height = size
    if x < -BOX_TOLERANCE_PX or y < -BOX_TOLERANCE_PX or x + w > width + BOX_TOLERANCE_PX \
            or y + h > height + BOX_TOLERANCE_PX:
        return (f"bbox {list(bbox)} (x2={x + w:g}, y2={y + h:g}) is outside the {width}x{height} image "
                f"(by more than {BOX_TOLERANCE_PX:g} px)")
    x1, y1, x2, y2 = max(x, 0.0), max(y, 0.0), min(x + w, float(width)), min(y + h, float(height))
    if x2 <= x1 or y2 <= y1:
        return f"bbox {list(bbox)} holds no pixel of the {width}x{height} image"
    return x1, y1, x2, y2


def _image_size(path: Path) -> tuple[int, int] | str:
    """(width, height) read from the image's header, or why it cannot be read."""
    if not path.is_file():
        return f"image {path} not found"
    try:
        with Image.open(path) as handle:
            return handle.size
    except (OSError, ValueError, SyntaxError) as error:
        return f"image {path} cannot be read ({type(error).__name__}: {error})"


def _read_table(name: str, table: Path, split: str, max_samples: int | None, bad: BadRows) -> RefSet:
    rows = _Rows(table, bad)
    sizes: dict[Path, tuple[int, int] | str] = {}
    lines = bad_rows.read_text(table).split("\n")   # not splitlines: U+2028 and the like may sit inside a string
    if not any(line.strip() for line in lines):
        raise bad_rows.no_rows(table, 'one JSON object a line: {"image", "expression", "bbox": [x, y, w, h], '
                                      '"split"}')
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            rows.skip(where, f"not JSON ({error.msg} at column {error.colno})")
            continue
        if not isinstance(row, dict):
            rows.skip(where, 'not a JSON object {"image", "expression", "bbox", "split"}, got '
                             f"{line.strip()[:80]}")
            continue
        problem = bad_rows.key_problem(row, TABLE_KEYS, TABLE_OPTIONAL_KEYS)
        if problem:
            rows.skip(where, problem)
            continue
        row_split = row.get("split", DEFAULT_SPLIT)
        if not isinstance(row_split, str) or not isinstance(row["image"], str) or not row["image"]:
            rows.skip(where, f"image and split must be strings, got {row['image']!r}, {row_split!r}")
            continue
        rows.splits.add(row_split)
        if split != "all" and row_split != split:
            continue
        image = (table.parent / row["image"]).resolve()
        size = sizes.setdefault(image, _image_size(image))
        if isinstance(size, str):
            rows.skip(where, size)
            continue
        rows.add(where, image, row["expression"], row["bbox"], size)
    return rows.refs(name, split, max_samples)


# ----- the refer toolkit's layout ------------------------------------------------------------------------
class PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data only (dicts, lists, tuples, strings, bytes, numbers, booleans, None): these need no
    class lookup, so every lookup (a class, a function such as os.system) is refused."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only plain built-in data is accepted")


def load_plain_pickle(path: str | os.PathLike):
    """The plain data of a pickle file; ValueError naming the file where it holds anything else or is broken.
    Python 2 strings (the toolkit's files) are read as latin-1 text."""
    try:
        data = Path(path).read_bytes()
        return PlainUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as error:
        raise ValueError(f"{path} is not a plain-data pickle: {error}. A pickle can run code while it is read, "
                         "so this file was not read; use the refer toolkit's refs(...).p files") from None
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, MemoryError) as error:
        raise ValueError(f"{path} is not a readable pickle ({type(error).__name__}: {error})") from None


def _refer_file(folder: Path, split_by: str | None) -> Path | None:
    if split_by is not None and split_by not in SPLIT_BYS:
        raise ValueError(f"split_by must be one of {', '.join(SPLIT_BYS)}, got {split_by!r}")
    for by in (split_by,) if split_by else SPLIT_BYS:
        path = folder / f"refs({by}).p"
        if path.is_file():
            return path
    return None


def _coco_images(folder: Path, data_root: Path, image_dir) -> Path:
    if image_dir is not None:
        return Path(image_dir).expanduser()
    places = [folder / "train2014", folder / "images" / "train2014", data_root / "coco" / "train2014",
              data_root / "images" / "mscoco" / "images" / "train2014"]
    return next((place for place in places if place.is_dir()), places[0])


def _read_refer(name: str, pickled: Path, instances: Path, images: Path, split: str,
                max_samples: int | None, bad: BadRows) -> RefSet:
    refs = load_plain_pickle(pickled)
    if not isinstance(refs, list):
        raise ValueError(f"{pickled} holds a {type(refs).__name__}; the refer toolkit's refs file is a list of refs")
    if not instances.is_file():
        raise FileNotFoundError(f"{instances} not found: the boxes of {pickled.name} are in the toolkit's "
                                f"instances.json next to it ({WHERE_TO_GET})")
    try:
        coco = json.loads(bad_rows.read_text(instances))
        image_of = {image["id"]: image for image in coco["images"]}
        annotation_of = {annotation["id"]: annotation for annotation in coco["annotations"]}
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{instances} is not a COCO instances file with 'images' and 'annotations' "
                         f"({type(error).__name__}: {error})") from None
    rows = _Rows(pickled, bad)
    present: dict[Path, bool] = {}
    for number, ref in enumerate(refs):
        row = f"ref {number}"
        if not isinstance(ref, dict) or not isinstance(ref.get("sentences"), list):
            rows.skip(row, "not a ref with 'ann_id', 'split' and a list of 'sentences'")
            continue
        rows.splits.add(str(ref.get("split")))
        if split != "all" and ref.get("split") != split:
            continue
        annotation = annotation_of.get(ref.get("ann_id"))
        image = image_of.get(annotation.get("image_id")) if annotation is not None else None
        if image is None:
            rows.skip(row, f"annotation {ref.get('ann_id')!r} or its image is not in {instances.name}")
            continue
        path = images / str(image.get("file_name"))
        if not present.setdefault(path, path.is_file()):
            rows.skip(row, f"image {path} not found ({len(ref['sentences'])} sentence(s))")
            continue
        size = (image.get("width"), image.get("height"))
        if not all(isinstance(v, int) and v > 0 for v in size):
            rows.skip(row, f"image {image.get('id')} in {instances.name} has no positive width and height")
            continue
        for sentence_number, sentence in enumerate(ref["sentences"]):
            text = sentence.get("sent") or sentence.get("raw") if isinstance(sentence, dict) else None
            rows.add(f"{row} sentence {sentence_number}", path, text, annotation.get("bbox"), size)
    return rows.refs(name, split, max_samples)


# ----- an offline example ----------------------------------------------------------------------------------
# skimage's sample photos with boxes drawn by eye ([x, y, w, h] in the photos' own pixels).
EXAMPLE = {
    "astronaut": [
        ("the woman's smiling face", [160, 30, 140, 135]),
        ("the american flag on the left", [0, 0, 95, 500]),
        ("the space shuttle model", [355, 0, 115, 285]),
        ("the black helmet at the bottom", [275, 340, 237, 172]),
        ("the round mission patch", [133, 345, 80, 80]),
        ("the astronaut in the orange suit", [20, 15, 345, 497]),
    ],
    "coffee": [
        ("the white cup of coffee", [175, 18, 235, 290]),
        ("the silver spoon", [325, 65, 100, 262]),
        ("the red saucer", [75, 75, 405, 315]),
        ("the handle of the cup", [195, 225, 60, 80]),
    ],
    "chelsea": [
        ("the cat's left eye", [135, 85, 70, 65]),
        ("the cat's right eye", [295, 105, 50, 60]),
        ("the pink nose", [240, 220, 55, 40]),
        ("the ear at the top right", [330, 0, 70, 70]),
        ("the tabby cat", [0, 0, 451, 300]),
    ],
    "rocket": [
        ("the white rocket", [300, 125, 45, 285]),
        ("the tall tower on the left", [0, 0, 90, 427]),
        ("the tower on the right edge", [555, 0, 85, 427]),
        ("the thin mast left of the rocket", [165, 120, 45, 300]),
        ("the thin mast right of the rocket", [435, 120, 45, 300]),
    ],
}


def write_example(folder: str | os.PathLike) -> Path:
    """Write the offline example (20 samples on 4 of skimage's photos, split train) as ``folder/refs.jsonl`` with
    the photos in ``folder/images/``; returns the table."""
    import skimage.data

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for photo, objects in EXAMPLE.items():
        Image.fromarray(getattr(skimage.data, photo)()).convert("RGB").save(folder / "images" / f"{photo}.png")
        lines += [json.dumps({"image": f"images/{photo}.png", "expression": text, "bbox": box, "split": "train"})
                  for text, box in objects]
    table = folder / REFS_TABLE
    table.write_text("\n".join(lines) + "\n")
    return table
