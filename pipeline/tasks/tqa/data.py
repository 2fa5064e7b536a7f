"""Extractive question-answering datasets: a fixed order of (context, question, answer, answer start) records,
the same for stage 1 (``forward_feature_tqa.py``) and stage 2 (``Label_embedding/*_sentence.py --task tqa``).

Sources, looked up under ``<data_root>/<name>/`` (or one file given by path, ``qa_file``):

- **SQuAD JSON** (``data[].paragraphs[].context``, ``qas[].id``, ``qas[].question``, ``qas[].answers[].text``
  and ``.answer_start``, v2.0's ``is_impossible``) named as SQuAD names its files (``train-v1.1.json``,
  ``dev-v1.1.json``, ``train-v2.0.json``, ``dev-v2.0.json``) or ``<split>.json``. The first answer is the gold one
  (SQuAD's dev files list several). Order: articles, paragraphs, questions as in the file.
- **A table** ``qa.jsonl``: one JSON object a line with the keys ``context``, ``question``, ``answer`` and
  optionally ``answer_start`` (without it, the answer's first occurrence in the context) and ``id`` (default:
  ``line N``), and no other key. An empty or null answer marks an unanswerable question; a line without the key
  ``answer`` (e.g. ``"answers"``, misspelled) is a bad row. Order: the lines. A table has no split.

A record's *group* (the stored label) is the index of its context: SQuAD's paragraph in file order, or a table's
distinct context in order of first appearance, so questions on the same passage share a label.

Unanswerable questions (SQuAD v2.0 ``is_impossible``, or no answer): ``unanswerable="drop"`` (default) leaves
them out; ``"keep"`` keeps them with the answer text :data:`NO_ANSWER_TEXT` (what stage 2 embeds) and
``answer_start = -1`` (stage 1 then pools the model's [CLS] token, where SQuAD v2.0 models point for "no answer").

Bad rows follow the policy of :mod:`pipeline.tasks.rows`: a row that is not JSON, misses a key or has an unknown
one (named with the expected keys, a near miss with "did you mean"), has an empty context or question, or whose
answer is not in its context (or not at its ``answer_start``), and a duplicate, is named by its file and place
(``line N`` of a table; ``article A, paragraph P, question Q (id X)`` of a SQuAD file, from 0), skipped and counted
(:attr:`QASet.skipped`, recorded as ``skipped_rows``); with ``strict`` the first one raises. A duplicate is a
record with the id of an earlier one (SQuAD's ``id``, a table's ``id`` key), or the same context, question,
answer and answer offset as an earlier one (the same row); the first is kept. A dataset with no question left is
a ValueError listing every bad row (the first 20 and a count); an empty table says "the table has no rows". A
file that cannot be read as a whole (not UTF-8: the file and the line named; not JSON; not SQuAD's layout) is a
ValueError naming the file.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.tasks import rows as bad_rows
from pipeline.tasks.rows import BadRows

DEFAULT_SPLIT = "train"
UNANSWERABLE = ("drop", "keep")
NO_ANSWER_TEXT = "no answer"   # the F-label text of a kept unanswerable question
TABLE_NAME = "qa.jsonl"
SQUAD_VERSIONS = ("v2.0", "v1.1")
SQUAD_URL = "https://rajpurkar.github.io/SQuAD-explorer/dataset/"
TABLE_KEYS = ("context", "question", "answer")
TABLE_OPTIONAL_KEYS = ("answer_start", "id")
SQUAD_KEYS = ("question", "answers")
SQUAD_OPTIONAL_KEYS = ("id", "is_impossible", "plausible_answers")


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
            split: str | None = None, unanswerable: str = "drop", max_samples: int | None = None,
            strict: bool = False) -> QASet:
    """The QA dataset `name` under `data_root` (or the file `qa_file`) as a :class:`QASet`; ``max_samples``
    keeps the first records of the fixed order (after bad rows and dropped unanswerable questions). Bad rows are
    skipped and counted in :attr:`QASet.skipped` (``strict``: the first one raises, see :mod:`pipeline.tasks.rows`);
    the task prints them."""
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
    bad = BadRows(strict)
    rows = reader(path, bad)
    kept = [row for row in rows if row.answerable or unanswerable == "keep"]
    dropped = len(rows) - len(kept)
    if max_samples is not None:
        kept = kept[:max_samples]
    if not kept:
        raise bad_rows.none_left(f"QA dataset {name!r} ({path}) holds no usable question: {len(bad)} bad row(s), "
                                 f"{dropped} unanswerable dropped (--unanswerable keep keeps those)", bad.rows)
    return QASet(name, kept, None if reader is _read_table else split, str(path.resolve()), unanswerable,
                 bad.lines, dropped)


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
def _read_squad(path: Path, bad: BadRows) -> list[QARecord]:
    text = bad_rows.read_text(path)
    try:
        articles = json.loads(text).get("data")
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); expected SQuAD's layout "
                         "{\"data\": [{\"paragraphs\": [{\"context\", \"qas\": [...]}]}]}") from None
    except AttributeError:
        articles = None
    if not isinstance(articles, list):
        raise ValueError(f"{path} is not a SQuAD file: no 'data' list of articles ({{\"data\": [{{\"paragraphs\": "
                         "[{\"context\", \"qas\"}]}]})")
    rows: list[QARecord] = []
    group = 0
    for a, article in enumerate(articles):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            bad.skip(path, f"article {a}", "no 'paragraphs' list")
            continue
        for p, paragraph in enumerate(paragraphs):
            where = f"article {a}, paragraph {p}"
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("qas"), list):
                bad.skip(path, where, "no 'qas' list")
                continue
            for q, qa in enumerate(paragraph["qas"]):
                qid = str(qa.get("id", f"{a}/{p}/{q}")) if isinstance(qa, dict) else f"{a}/{p}/{q}"
                row = f"{where}, question {q} (id {qid})"
                try:
                    record = _squad_record(qa, paragraph.get("context"), qid, group)
                except ValueError as error:
                    bad.skip(path, row, str(error))
                    continue
                if not bad.duplicate(_same(record, "id" in qa), path, row):
                    rows.append(record)
            group += 1
    return rows


def _same(record: QARecord, has_id: bool) -> list[tuple]:
    """The keys of a record that a later one may not repeat: its id (where the file gives one) and its content."""
    content = (("row", record.context, record.question, record.answer, record.answer_start),
               "the same context, question and answer")
    return ([(("id", record.id), f"the same id {record.id!r}")] if has_id else []) + [content]


def _squad_record(qa, context, qid: str, group: int) -> QARecord:
    if not isinstance(qa, dict):
        raise ValueError("not an object")
    question = _text(qa.get("question"), "question")
    context = _text(context, "context")
    answers = qa.get("answers")
    if "answers" not in qa and not qa.get("is_impossible"):
        raise ValueError(bad_rows.key_problem(qa, SQUAD_KEYS, SQUAD_OPTIONAL_KEYS, unknown_allowed=True))
    if qa.get("is_impossible") or answers == []:
        return QARecord(qid, context, question, NO_ANSWER_TEXT, -1, group)
    if not isinstance(answers, list) or not isinstance(answers[0], dict):
        raise ValueError("no 'answers' list of {\"text\", \"answer_start\"}")
    return _located(qid, context, question, answers[0].get("text"), answers[0].get("answer_start"), group)


# ----- qa.jsonl -----------------------------------------------------------------------------------------------
def _read_table(path: Path, bad: BadRows) -> list[QARecord]:
    rows: list[QARecord] = []
    groups: dict[str, int] = {}
    lines = bad_rows.read_text(path).split("\n")   # not splitlines: U+2028 and the like may sit inside a JSON string
    if not any(line.strip() for line in lines):
        raise bad_rows.no_rows(path, "one JSON object a line with the keys context, question, answer")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object {\"context\", \"question\", \"answer\"}")
            problem = bad_rows.key_problem(row, TABLE_KEYS, TABLE_OPTIONAL_KEYS)
            if problem:
                raise ValueError(problem)
            context = _text(row.get("context"), "context")
            question = _text(row.get("question"), "question")
            qid = str(row.get("id", f"line {number}"))
            group = groups.get(context, len(groups))   # numbered among the rows kept
            if row["answer"] in (None, ""):
                record = QARecord(qid, context, question, NO_ANSWER_TEXT, -1, group)
            else:
                record = _located(qid, context, question, row["answer"], row.get("answer_start"), group)
        except json.JSONDecodeError as error:
            bad.skip(path, f"line {number}", f"not JSON ({error.msg} at column {error.colno})")
            continue
        except ValueError as error:
            bad.skip(path, f"line {number}", str(error))
            continue
        if not bad.duplicate(_same(record, "id" in row), path, f"line {number}"):
            rows.append(record)
            groups.setdefault(context, group)
    return rows


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
