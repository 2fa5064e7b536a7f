"""Extractive question-answering datasets: a fixed order of (context, question, answer, answer start) records,
the same for stage 1 (``forward_feature_tqa.py``) and stage 2 (``Label_embedding/*_sentence.py --task tqa``).

Sources, looked up under ``<data_root>/<name>/`` (or one file given by path, ``qa_file``):

- **SQuAD JSON** (``data[].paragraphs[].context``, ``qas[].id``, ``qas[].question``, ``qas[].answers[].text``
  and ``.answer_start``, v2.0's ``is_impossible``) named as SQuAD names its files (``train-v1.1.json``,
  ``dev-v1.1.json``, ``train-v2.0.json``, ``dev-v2.0.json``) or ``<split>.json``. The first answer is the gold one
  (SQuAD's dev files list several). Order: articles, paragraphs, questions as in the file.
- **A table** ``qa.jsonl``: one JSON object a line with ``context``, ``question``, ``answer`` and optionally
  ``answer_start`` (without it, the answer's first occurrence in the context) and ``id`` (default: the line
  number). An empty or null answer marks an unanswerable question. Order: the lines. A table has no split.

A record's *group* (the stored label) is the index of its context: SQuAD's paragraph in file order, or a table's
distinct context in order of first appearance, so questions on the same passage share a label.

Unanswerable questions (SQuAD v2.0 ``is_impossible``, or no answer): ``unanswerable="drop"`` (default) leaves
them out; ``"keep"`` keeps them with the answer text :data:`NO_ANSWER_TEXT` (what stage 2 embeds) and
``answer_start = -1`` (stage 1 then pools the model's [CLS] token, where SQuAD v2.0 models point for "no answer").

Bad rows never stop a run: a row that is not JSON, lacks a field, has an empty context or question, or whose
answer is not in its context (or not at its ``answer_start``) is named with its file and line (or article,
paragraph and question id), skipped and counted (:attr:`QASet.skipped`). A file that cannot be read as a whole
(not JSON, not SQuAD's layout) is a ValueError naming the file.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SPLIT = "train"
UNANSWERABLE = ("drop", "keep")
NO_ANSWER_TEXT = "no answer"   # the F-label text of a kept unanswerable question
TABLE_NAME = "qa.jsonl"
SQUAD_VERSIONS = ("v2.0", "v1.1")
SQUAD_URL = "https://rajpurkar.github.io/SQuAD-explorer/dataset/"


@dataclass(frozen=True)
class QARecord:
    """One question: ``answer_start`` is the character offset of ``answer`` in ``context`` (-1: unanswerable,
    kept with the text :data:`NO_ANSWER_TEXT`); ``group`` is the index of its context."""
    id: str
    context: str
    question: str
    answer: str
    answer_start: int
    group: int

    @property
    def answerable(self) -> bool:
        return self.answer_start >= 0

    @property
    def answer_end(self) -> int:
        return self.answer_start + len(self.answer)


@dataclass
class QASet:
    """The records of a dataset in their fixed order, and what was left out: ``skipped`` names each bad row
    (file and line, or article/paragraph/question) with the reason; ``unanswerable_dropped`` counts the
    unanswerable questions left out."""
    name: str
    records: list[QARecord]
    split: str | None
    source: str
    unanswerable: str = "drop"
    skipped: list[str] = field(default_factory=list)
    unanswerable_dropped: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> QARecord:
        return self.records[index]

    @property
    def answers(self) -> list[str]:
        return [record.answer for record in self.records]

    @property
    def groups(self) -> list[int]:
        return [record.group for record in self.records]

    @property
    def ids(self) -> list[str]:
        return [record.id for record in self.records]

    @property
    def digest(self) -> str:
        """A digest of every record's context, question, answer and answer start (what stage 1 reads)."""
        digest = hashlib.sha1()
        for record in self.records:
            digest.update(json.dumps([record.context, record.question, record.answer, record.answer_start]).encode())
        return digest.hexdigest()[:16]


def load_qa(name: str | None, *, data_root: str | os.PathLike = "data", qa_file: str | os.PathLike | None = None,
            split: str | None = None, unanswerable: str = "drop", max_samples: int | None = None) -> QASet:
    """The QA dataset `name` under `data_root` (or the file `qa_file`) as a :class:`QASet`; ``max_samples``
    keeps the first records of the fixed order (after bad rows and dropped unanswerable questions)."""
    split = split or DEFAULT_SPLIT
    if unanswerable not in UNANSWERABLE:
        raise ValueError(f"unanswerable must be one of {', '.join(UNANSWERABLE)}, got {unanswerable!r}")
    if max_samples is not None and (not isinstance(max_samples, int) or max_samples < 1):
        raise ValueError(f"max_samples must be a positive integer or None, got {max_samples!r}")
    if qa_file is not None:
        path = Path(qa_file).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"QA file {path} not found (expected a SQuAD-format .json or a {TABLE_NAME} "
                                    "table of {\"context\", \"question\", \"answer\"} lines)")
        name = name or dataset_name_of(path)
    elif not name:
        raise ValueError("give a QA dataset name or a QA file")
    else:
        path = _find_source(name, Path(data_root), split)
    reader = _read_table if path.suffix.lower() == ".jsonl" else _read_squad
    rows, skipped = reader(path)
    kept = [row for row in rows if row.answerable or unanswerable == "keep"]
    dropped = len(rows) - len(kept)
    if max_samples is not None:
        kept = kept[:max_samples]
    if not kept:
        raise ValueError(f"QA dataset {name!r} ({path}) holds no usable question: {len(skipped)} bad row(s), "
                         f"{dropped} unanswerable dropped (--unanswerable keep keeps those)")
    return QASet(name, kept, None if reader is _read_table else split, str(path.resolve()), unanswerable,
                 skipped, dropped)


def dataset_name_of(path: str | os.PathLike) -> str:
    """The dataset name of a QA file: its folder's name for the standard file names (``qa.jsonl``, SQuAD's
    ``train-v1.1.json`` ..., ``<split>.json`` for train/dev/val/validation/test), else the file's stem."""
    path = Path(path).expanduser()
    standard = {TABLE_NAME, *(f"{split}-{version}.json" for split in ("train", "dev") for version in SQUAD_VERSIONS),
                *(f"{split}.json" for split in ("train", "dev", "val", "validation", "test"))}
    return path.resolve().parent.name if path.name in standard else path.stem


def _find_source(name: str, data_root: Path, split: str) -> Path:
    folder = data_root / name
    looked = [folder / f"{split}.json", *(folder / f"{split}-{version}.json" for version in SQUAD_VERSIONS)]
    found = [path for path in looked if path.is_file()]
    if len(found) > 1:
        raise ValueError(f"QA dataset {name!r}: {folder} holds several files of split {split!r} "
                         f"({', '.join(p.name for p in found)}); keep one per folder (e.g. squad/ for v1.1, "
                         "squad_v2/ for v2.0) or pass --qa-file PATH")
    if found:
        return found[0]
    if (folder / TABLE_NAME).is_file():
        return folder / TABLE_NAME
    raise FileNotFoundError(f"no QA data for dataset {name!r}: looked for "
                            f"{', '.join(str(p) for p in [*looked, folder / TABLE_NAME])}. Put SQuAD's "
                            f"{split}-v1.1.json or {split}-v2.0.json (from {SQUAD_URL}) or a {TABLE_NAME} table "
                            f"in {folder}/, or pass --qa-file PATH")


# ----- SQuAD JSON ---------------------------------------------------------------------------------------------
def _read_squad(path: Path) -> tuple[list[QARecord], list[str]]:
    try:
        with open(path, encoding="utf-8") as handle:
            articles = json.load(handle).get("data")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); expected SQuAD's layout "
                         "{\"data\": [{\"paragraphs\": [{\"context\", \"qas\": [...]}]}]}") from None
    except AttributeError:
        articles = None
    if not isinstance(articles, list):
        raise ValueError(f"{path} is not a SQuAD file: no 'data' list of articles ({{\"data\": [{{\"paragraphs\": "
                         "[{\"context\", \"qas\"}]}]})")
    rows: list[QARecord] = []
    skipped: list[str] = []
    group = 0
    for a, article in enumerate(articles):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            skipped.append(f"{path}: article {a}: no 'paragraphs' list")
            continue
        for p, paragraph in enumerate(paragraphs):
            where = f"{path}: article {a}, paragraph {p}"
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("qas"), list):
                skipped.append(f"{where}: no 'qas' list")
                continue
            for q, qa in enumerate(paragraph["qas"]):
                qid = str(qa.get("id", f"{a}/{p}/{q}")) if isinstance(qa, dict) else f"{a}/{p}/{q}"
                try:
                    rows.append(_squad_record(qa, paragraph.get("context"), qid, group))
                except ValueError as error:
                    skipped.append(f"{where}, question {q} (id {qid}): {error}")
            group += 1
    return rows, skipped


def _squad_record(qa, context, qid: str, group: int) -> QARecord:
    if not isinstance(qa, dict):
        raise ValueError("not an object")
    question = _text(qa.get("question"), "question")
    context = _text(context, "context")
    answers = qa.get("answers")
    if qa.get("is_impossible") or answers == []:
        return QARecord(qid, context, question, NO_ANSWER_TEXT, -1, group)
    if not isinstance(answers, list) or not isinstance(answers[0], dict):
        raise ValueError("no 'answers' list of {\"text\", \"answer_start\"}")
    return _located(qid, context, question, answers[0].get("text"), answers[0].get("answer_start"), group)


# ----- qa.jsonl -----------------------------------------------------------------------------------------------
def _read_table(path: Path) -> tuple[list[QARecord], list[str]]:
    rows: list[QARecord] = []
    skipped: list[str] = []
    groups: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error}); expected one JSON object a line") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object {\"context\", \"question\", \"answer\"}")
            context = _text(row.get("context"), "context")
            question = _text(row.get("question"), "question")
            qid = str(row.get("id", f"line {number}"))
            group = groups.get(context, len(groups))   # numbered among the rows kept
            if row.get("answer") in (None, ""):
                rows.append(QARecord(qid, context, question, NO_ANSWER_TEXT, -1, group))
            else:
                rows.append(_located(qid, context, question, row["answer"], row.get("answer_start"), group))
            groups.setdefault(context, group)
        except json.JSONDecodeError as error:
            skipped.append(f"{path}: line {number}: not JSON ({error.msg} at column {error.colno})")
        except ValueError as error:
            skipped.append(f"{path}: line {number}: {error}")
    return rows, skipped


# ----- shared checks ------------------------------------------------------------------------------------------
def _text(value, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"no {what} (expected a string, got {type(value).__name__})")
    if not value.strip():
        raise ValueError(f"empty {what}")
    return value


def _located(qid: str, context: str, question: str, answer, answer_start, group: int) -> QARecord:
    """The record with the answer's character offset: `answer_start` checked to point at the answer, or the
    answer's first occurrence where none is given; whitespace around the answer is left out of it (and its
    offset moved past the leading part), so that the answer's tokens are its words."""
    answer = _text(answer, "answer text")
    if answer_start is None:
        answer_start = context.find(answer)
        if answer_start < 0:
            raise ValueError(f"answer {_short(answer)} is not in its context")
    elif isinstance(answer_start, bool) or not isinstance(answer_start, int):
        raise ValueError(f"answer_start must be an integer, got {answer_start!r}")
    elif context[answer_start:answer_start + len(answer)] != answer:
        found = context.find(answer)
        hint = f"; it occurs at {found}" if found >= 0 else "; it is not in the context"
        raise ValueError(f"answer {_short(answer)} is not at answer_start {answer_start}{hint}")
    leading = len(answer) - len(answer.lstrip())
    return QARecord(qid, context, question, answer.strip(), answer_start + leading, group)


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
