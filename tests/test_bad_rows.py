"""Issue 25 point 6: the one bad-row policy of pipeline/tasks/rows.py as the VQA, captioning, text-QA and REC readers
apply it. Each test pins the exact messages: a bad row named by file and place, skipped and counted (or, strict, the
first raising BadRowError), duplicates skipped with the first kept, the report format, non-UTF-8 files named with
the line, empty / header-only tables said, a dataset with no sample left listing every bad row. Tiny datasets of
8x8 PNG images; no model is loaded (the stage-2 runs fail on the data before the bundled MiniLM would be)."""
from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from conftest import run_script
from pipeline.models.text import minilm_path
from pipeline.tasks.captioning.data import load_captions
from pipeline.tasks.rec.data import load_refs
from pipeline.tasks.rows import BadRowError
from pipeline.tasks.tqa import _report_skipped
from pipeline.tasks.tqa.data import load_qa
from pipeline.tasks.vqa.data import load_vqa

TASKS = ("vqa", "captioning", "tqa", "rec")
STRICT_TAIL = " (--strict true stops at the first bad row; without it the row is skipped and counted)"


# ----- tiny datasets -----------------------------------------------------------------------------------------
def images(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (255, 0, 0)).save(folder / "a.png")
    Image.new("RGB", (8, 8), (0, 0, 255)).save(folder / "b.png")
    return folder


def table(path: Path, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


CONTEXT = "the red cat sat on the blue mat"


def qa(question, answer, **more):
    return {"context": CONTEXT, "question": question, "answer": answer, **more}


def ref(image, expression, bbox):
    return {"image": image, "expression": expression, "bbox": bbox}


def write(task: str, folder: Path, rows) -> Path:
    """The dataset file of `task` in `folder` (with a.png and b.png beside it) holding `rows` (a table's rows after
    its header, or JSONL records)."""
    images(folder)
    if task == "vqa":
        return table(folder / "questions.csv", [("image", "question", "answer"), *rows])
    if task == "captioning":
        return table(folder / "caps.csv", [("image", "caption"), *rows])
    if task == "tqa":
        return jsonl(folder / "qa.jsonl", rows)
    return jsonl(folder / "refs.jsonl", rows)


def load(task: str, path: Path, strict: bool = False):
    """(dataset name, what was kept, the lines the loader reported)."""
    said: list[str] = []
    if task == "vqa":
        data = load_vqa(None, dataset_dir=path, say=said.append, strict=strict)
        kept = [(row.image.name, row.question, row.answer) for row in data.rows]
    elif task == "captioning":
        data = load_captions(None, caption_file=path, say=said.append, strict=strict)
        kept = [(image.name, caption) for image, caption in zip(data.image_paths, data.captions)]
    elif task == "tqa":
        data = load_qa(None, qa_file=path, strict=strict)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            _report_skipped(data)   # what the task prints after load_qa
        said = printed.getvalue().splitlines()
        kept = [(record.question, record.answer) for record in data.records]
    else:
        data = load_refs(None, dataset_dir=path.parent, say=said.append, strict=strict)
        kept = [(image.name, expression) for image, expression in zip(data.image_paths, data.expressions)]
    return data.name, kept, said


# One good row, one bad row (the second row of the data), one good row; the bad row's place and reason; what is kept.
GOOD_BAD_GOOD = {
    "vqa": ([("a.png", "what colour?", "Red"), ("a.png", "is it big?", ""), ("b.png", "what colour?", "blue")],
            "row 3", "no answer", [("a.png", "what colour?", "red"), ("b.png", "what colour?", "blue")]),
    "captioning": ([("a.png", "a red square"), ("a.png", "  "), ("b.png", "a blue square")],
                   "row 3", "empty caption", [("a.png", "a red square"), ("b.png", "a blue square")]),
    "tqa": ([qa("who sat?", "cat"), qa(" ", "mat"), qa("where?", "mat")],
            "line 2", "empty question", [("who sat?", "cat"), ("where?", "mat")]),
    "rec": ([ref("a.png", "the red one", [0, 0, 4, 4]), ref("a.png", "flat", [0, 0, 0, 4]),
             ref("b.png", "the blue one", [1, 1, 6, 6])],
            "line 2", "bbox [0, 0, 0, 4] has zero or negative size (w=0, h=4)",
            [("a.png", "the red one"), ("b.png", "the blue one")]),
}
KEPT_WORD = {"vqa": "questions", "captioning": "pairs", "tqa": "questions", "rec": "samples"}

# The same sample twice (second row repeats the first); the reason; what is kept.
DUPLICATES = {
    "vqa": ([("a.png", "what colour?", "red"), ("a.png", "what colour?", "blue"), ("b.png", "what colour?", "blue")],
            "row 3", "duplicate of row 2 (the same image and question); the first is kept",
            [("a.png", "what colour?", "red"), ("b.png", "what colour?", "blue")]),
    "captioning": ([("a.png", "a red square"), ("a.png", " a red square "), ("b.png", "a red square")],
                   "row 3", "duplicate of row 2 (the same image and caption); the first is kept",
                   [("a.png", "a red square"), ("b.png", "a red square")]),
    "tqa": ([qa("who sat?", "cat", id="q1"), qa("what sat?", "cat", id="q1"), qa("where?", "mat", id="q2")],
            "line 2", "duplicate of line 1 (the same id 'q1'); the first is kept",
            [("who sat?", "cat"), ("where?", "mat")]),
    "rec": ([ref("a.png", "the red one", [0, 0, 4, 4]), ref("a.png", "the  red one ", [0, 0, 4, 4]),
             ref("b.png", "the red one", [0, 0, 4, 4])],
            "line 2", "duplicate of line 1 (the same image, expression and box); the first is kept",
            [("a.png", "the red one"), ("b.png", "the red one")]),
}


# ----- the report format, skipping and counting -------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_a_bad_row_is_named_skipped_counted_and_reported_in_the_one_format(task, tmp_path):
    rows, place, reason, kept = GOOD_BAD_GOOD[task]
    path = write(task, tmp_path / "set", rows)
    name, got, said = load(task, path)
    assert got == kept
    assert said[0] == f"[{name}] skipped {path}:{place}: {reason}"
    assert said[0].startswith(f"[{name}] skipped {path}:")
    if task == "tqa":
        assert said[1:] == [f"[{name}] 2 questions kept, 1 bad row(s) skipped, 0 unanswerable dropped "
                            "(--unanswerable drop)"]
    else:
        assert said[1:] == [f"[{name}] 1 bad row(s) skipped, 2 {KEPT_WORD[task]} kept"]


@pytest.mark.parametrize("task", TASKS)
def test_strict_stops_at_the_first_bad_row_naming_it(task, tmp_path):
    rows, place, reason, _ = GOOD_BAD_GOOD[task]
    rows = [*rows, rows[1]]   # a second bad row after the first: only the first is named
    path = write(task, tmp_path / "set", rows)
    with pytest.raises(BadRowError) as raised:
        load(task, path, strict=True)
    assert str(raised.value) == f"{path}:{place}: {reason}{STRICT_TAIL}"
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("task", TASKS)
def test_the_same_sample_twice_is_a_duplicate_and_the_first_is_kept(task, tmp_path):
    rows, place, reason, kept = DUPLICATES[task]
    path = write(task, tmp_path / "set", rows)
    name, got, said = load(task, path)
    assert got == kept
    assert said[0] == f"[{name}] skipped {path}:{place}: {reason}"


def test_text_qa_repeated_row_without_id_is_a_duplicate(tmp_path):
    path = write("tqa", tmp_path / "set", [qa("who sat?", "cat"), qa("who sat?", "cat"), qa("where?", "mat")])
    data = load_qa(None, qa_file=path)
    assert data.skipped == [f"{path}:line 2: duplicate of line 1 (the same context, question and answer); the "
                            "first is kept"]
    assert data.ids == ["line 1", "line 3"]


# ----- captioning: one bad pair no longer rejects the dataset ------------------------------------------------
@pytest.mark.parametrize("bad, reason", [
    (("absent.png", "a green square"), "image {folder}/absent.png not found (image paths are relative to {folder})"),
    (("a.png", ""), "empty caption"),
], ids=["missing image", "empty caption"])
def test_caption_missing_image_or_empty_caption_skips_that_row_only(bad, reason, tmp_path):
    folder = images(tmp_path / "set")
    path = table(folder / "caps.csv", [("image", "caption"), ("a.png", "a red square"), bad,
                                       ("b.png", "a blue square")])
    said: list[str] = []
    data = load_captions(None, caption_file=path, say=said.append)
    assert data.captions == ["a red square", "a blue square"]
    assert [p.name for p in data.image_paths] == ["a.png", "b.png"] and data.image_ids == [0, 1]
    assert data.skipped == [f"{path}:row 3: {reason.format(folder=folder)}"]
    assert said == [f"[caps] skipped {path}:row 3: {reason.format(folder=folder)}",
                    "[caps] 1 bad row(s) skipped, 2 pairs kept"]


# ----- text that is not UTF-8 --------------------------------------------------------------------------------
LATIN1 = {   # (file name, the file's bytes: line 3 holds the latin-1 byte 0xe9, at byte 10 of that line)
    "vqa": ("questions.csv", b"image,question,answer\na.png,what colour?,red\nb.png,caf\xe9?,blue\n"),
    "captioning": ("caps.csv", b"image,caption\na.png,a red square\nb.png,caf\xe9\n"),
    "tqa": ("qa.jsonl", b'{"context": "x y", "question": "y?", "answer": "y"}\n'
                        b'{"context": "x z", "question": "z?", "answer": "z"}\n{"context":\xe9}\n'),
    "rec": ("refs.jsonl", b'{"image": "a.png", "expression": "red", "bbox": [0, 0, 4, 4]}\n\n{"image":"\xe9"}\n'),
}


@pytest.mark.parametrize("task", TASKS)
def test_a_file_that_is_not_utf8_is_named_with_its_line(task, tmp_path):
    folder = images(tmp_path / "set")
    filename, data = LATIN1[task]
    path = folder / filename
    path.write_bytes(data)
    with pytest.raises(ValueError) as raised:
        load(task, path)
    message = str(raised.value)
    byte = data.split(b"\n")[2].index(b"\xe9") + 1
    assert message.startswith(f"{path}:line 3: not UTF-8 text (byte 0xe9 at byte {byte} of the line")
    assert "save the file as UTF-8" in message and f"iconv -f latin1 -t utf-8 {filename}" in message
    assert "codec can't decode" not in message


@pytest.mark.parametrize("task, script, flag", [("vqa", "Label_embedding/bert.py", "--dataset-dir"),
                                                ("captioning", "Label_embedding/bert_sentence.py", "--caption-file")])
def test_stage2_on_a_file_that_is_not_utf8_names_the_file_and_line(task, script, flag, tmp_path, monkeypatch,
                                                                    capsys):
    folder = images(tmp_path / "set")
    filename, data = LATIN1[task]
    path = folder / filename
    path.write_bytes(data)
    code = run_script(script, ["--task", task, flag, str(path), "--model", str(minilm_path()),
                               "--results", str(tmp_path / "results"), "--device", "cpu"], monkeypatch)
    printed = capsys.readouterr()
    assert code == 1
    assert f"skipped {path}: {path}:line 3: not UTF-8 text (byte 0xe9" in printed.err
    assert printed.err.strip().splitlines()[-1] == f"1 dataset(s) could not be read: {path}"
    assert "could not be read: None" not in printed.err and "codec can't decode" not in printed.err
    assert not list((tmp_path / "results").rglob("*.npy"))   # nothing written, and no encoder was loaded


# ----- text QA: a misspelled key is a bad row, not an unanswerable question ----------------------------------
@pytest.mark.parametrize("unanswerable", ["drop", "keep"])
def test_text_qa_misspelled_answer_key_is_a_named_bad_row(unanswerable, tmp_path):
    path = write("tqa", tmp_path / "set", [{"context": CONTEXT, "question": "who sat?", "answers": "cat"},
                                           qa("where?", "mat")])
    data = load_qa(None, qa_file=path, unanswerable=unanswerable)
    assert data.skipped == [f"{path}:line 1: missing key 'answer'; unknown key 'answers' (did you mean 'answer'?); "
                            "expected keys: context, question, answer (optional: answer_start, id)"]
    assert data.answers == ["mat"] and data.ids == ["line 2"] and data.unanswerable_dropped == 0


# ----- empty and header-only tables --------------------------------------------------------------------------
EMPTY = {   # (file name, header, what the reader expects)
    "vqa": ("questions.csv", "image,question,answer\n", "a header image,question,answer and one question a row"),
    "captioning": ("caps.csv", "image,caption\n", "one (image path, caption) pair a row, after an optional header"),
    "tqa": ("qa.jsonl", None, "one JSON object a line with the keys context, question, answer"),
    "rec": ("refs.jsonl", None, 'one JSON object a line: {"image", "expression", "bbox": [x, y, w, h], "split"}'),
}


@pytest.mark.parametrize("task, content", [(task, content) for task in TASKS for content in ("", "\n\n")]
                         + [(task, "header") for task in ("vqa", "captioning")])
def test_an_empty_or_header_only_table_says_so(task, content, tmp_path):
    folder = images(tmp_path / "set")
    filename, header, expected = EMPTY[task]
    path = folder / filename
    path.write_text(header if content == "header" else content, encoding="utf-8")
    with pytest.raises(ValueError) as raised:
        load(task, path)
    said = "the table has only a header, no rows" if content == "header" else "the table has no rows"
    assert str(raised.value) == f"{path}: {said}; expected {expected}"
    assert "check the split" not in str(raised.value)


# ----- a dataset with no sample left lists every bad row -----------------------------------------------------
def test_rec_with_every_row_bad_lists_every_reason(tmp_path):
    path = write("rec", tmp_path / "set", [ref("absent.png", "gone", [0, 0, 4, 4]), ref("a.png", "flat", [0, 0, 0, 4]),
                                           {"image": "a.png", "expresion": "typo", "bbox": [0, 0, 4, 4]},
                                           ref("a.png", "", [0, 0, 4, 4])])
    with pytest.raises(ValueError) as raised:
        load_refs(None, dataset_dir=path.parent)
    reasons = [f"line 1: image {path.parent.resolve()}/absent.png not found",
               "line 2: bbox [0, 0, 0, 4] has zero or negative size (w=0, h=4)",
               "line 3: missing key 'expression'; unknown key 'expresion' (did you mean 'expression'?); expected keys: "
               "image, expression, bbox (optional: split)",
               "line 4: the expression must be a non-empty string, got ''"]
    assert str(raised.value) == (f"referring-expression dataset 'set' ({path}, split 'train') holds no usable sample "
                                 "(4 rows skipped); every bad row:\n" + "\n".join(f"  {path}:{r}" for r in reasons))
    assert "see above" not in str(raised.value)


def test_rec_with_more_than_20_bad_rows_lists_the_first_20_and_counts_the_rest(tmp_path):
    path = write("rec", tmp_path / "set", [ref("a.png", f"box {n}", [0, 0, n, 0]) for n in range(1, 26)])
    with pytest.raises(ValueError) as raised:
        load_refs(None, dataset_dir=path.parent)
    lines = str(raised.value).split("\n")
    assert lines[0] == (f"referring-expression dataset 'set' ({path}, split 'train') holds no usable sample (25 rows "
                        "skipped); the first 20 of the 25 bad rows:")
    assert lines[1:21] == [f"  {path}:line {n}: bbox [0, 0, {n}, 0] has zero or negative size (w={n}, h=0)"
                           for n in range(1, 21)]
    assert lines[21:] == ["  ... and 5 more bad row(s)"]


ALL_BAD = {   # two bad rows; the head of the error; each row's place and reason ({folder}: the dataset's folder)
    "vqa": ([("a.png", "is it big?", ""), ("", "is it big?", "yes")],
            "VQA dataset 'set' ({path}) has no readable question", ["row 2: no answer", "row 3: no image"]),
    "captioning": ([("a.png", ""), ("absent.png", "a green square")],
                   "caption dataset 'caps' ({path}) has no usable pair",
                   ["row 2: empty caption",
                    "row 3: image {folder}/absent.png not found (image paths are relative to {folder})"]),
    "tqa": ([qa(" ", "cat"), qa("who?", "dog")],
            "QA dataset 'set' ({path}) holds no usable question: 2 bad row(s), 0 unanswerable dropped "
            "(--unanswerable keep keeps those)",
            ["line 1: empty question", "line 2: answer 'dog' is not in its context"]),
}


@pytest.mark.parametrize("task", sorted(ALL_BAD))
def test_a_dataset_with_every_row_bad_lists_every_reason(task, tmp_path):
    rows, head, reasons = ALL_BAD[task]
    path = write(task, tmp_path / "set", rows)
    with pytest.raises(ValueError) as raised:
        load(task, path)
    folder = path.parent
    assert str(raised.value) == (head.format(path=path) + "; every bad row:\n"
                                 + "\n".join(f"  {path}:{r.format(folder=folder)}" for r in reasons))
