"""One policy for the rows of a dataset file that cannot be samples ("bad rows"), shared by the readers of the VQA,
captioning, text-QA and REC tasks (their ``data.py``). Standard library only: no torch, no numpy.

- **A bad row** is a row that cannot be a sample (each reader's docstring says what that is in its formats: a missing
  field, an unknown key, an empty text, a missing image, ...). It is named by its file and its place in the file:
  ``row N`` of a CSV/TSV table (the record number, the header being row 1; a quoted cell over several lines is
  one row, as a spreadsheet shows it), ``line N`` of a JSONL or line-aligned text file (from 1), or the path of
  an entry of a JSON file (``question 3``, ``article 0, paragraph 2, question 1 (id x)``, ``ref 6``). It is
  skipped and counted (:class:`BadRows`); the task records the count as ``skipped_rows`` in its settings.
- **Strict**: with ``strict=True`` (``--strict true`` of stages 1 and 2) the first bad row raises
  :class:`BadRowError` (a ValueError) naming it, and nothing is skipped.
- **A duplicate** (the same sample twice: the same id, or the same row) is a bad row: the first is kept, each
  repeat skipped as ``duplicate of <the first's place> (<what is the same>)`` (:meth:`BadRows.duplicate`). Which
  fields make "the same row" is decided per format and said in each reader's docstring.
- **One report format** (:func:`report`): ``[<dataset>] skipped <file>:<row>: <reason>`` one a line for the first
  :data:`SHOWN` bad rows, then ``[<dataset>] ... and N more bad row(s) skipped``, then
  ``[<dataset>] N bad row(s) skipped, K <samples> kept``.
- **A dataset left with no sample** raises a ValueError (:func:`none_left`) whose message lists the bad rows in the
  same ``<file>:<row>: <reason>`` form (the first :data:`SHOWN` and a count of the others): never "see above".
- **Text that is not UTF-8** is a ValueError naming the file, the line and the byte, and saying to save the file as
  UTF-8 (:func:`read_text`; a leading UTF-8 byte-order mark, as spreadsheets write, is allowed and dropped).
- **Keys** of a JSON record are checked against the expected ones (:func:`key_problem`): a missing key, and an
  unknown one (with a "did you mean" for a near miss, from :func:`difflib.get_close_matches`), named with the
  expected keys.
- **An empty table** says "the table has no rows" (:func:`no_rows`), a header alone "the table has only a header"
  (:func:`only_header`); the hint to check a split name is left to formats that have splits.
"""
from __future__ import annotations

import codecs
import csv
import difflib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Hashable, Iterable, Sequence

SHOWN = 20   # bad rows listed one a line (in the report and in a "no sample left" error); the rest are counted


@dataclass(frozen=True)
class BadRow:
    """A row left out: its file, its place in the file (``row 4``, ``line 7``, ``question 3``) and why."""
    file: str
    row: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: {self.reason}"


class BadRowError(ValueError):
    """The first bad row of a dataset read with ``strict=True``."""


class BadRows:
    """The bad rows of one dataset as a reader meets them: skipped and counted, or, when `strict`, the first one
    raises :class:`BadRowError`. Also remembers the keys of the rows kept, to skip repeats (:meth:`duplicate`)."""

    def __init__(self, strict: bool = False):
        self.strict = bool(strict)
        self.rows: list[BadRow] = []
        self._first: dict[Hashable, tuple[str, str]] = {}

    def skip(self, file: str | os.PathLike, row: str, reason: str) -> None:
        """Skip and count the row (strict: raise BadRowError naming it)."""
        bad = BadRow(str(file), str(row), reason)
        if self.strict:
            raise BadRowError(f"{bad} (--strict true stops at the first bad row; without it the row is skipped and "
                              "counted)")
        self.rows.append(bad)

    def duplicate(self, keys: Iterable[tuple[Hashable, str]], file: str | os.PathLike, row: str) -> bool:
        """Whether the row repeats a row kept before: `keys` are ``(key, what is the same)`` pairs (e.g.
        ``(("id", "q7"), "the same id 'q7'")``); a repeat of any is skipped as a bad row (``duplicate of ...``) and
        True is returned; otherwise every key is remembered as this row's and False is returned. Call it once a
        row is known to be good, so the first *good* row of a kind is the one kept."""
        keys = list(keys)
        for key, what in keys:
            if key in self._first:
                first_file, first_row = self._first[key]
                where = first_row if first_file == str(file) else f"{first_file}:{first_row}"
                self.skip(file, row, f"duplicate of {where} ({what}); the first is kept")
                return True
        for key, _ in keys:
            self._first[key] = (str(file), str(row))
        return False

    @property
    def lines(self) -> list[str]:
        """Each bad row as ``<file>:<row>: <reason>``."""
        return [str(bad) for bad in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __bool__(self) -> bool:
        return bool(self.rows)


def shown(bad: Sequence, limit: int = SHOWN) -> list[str]:
    """The first `limit` bad rows as text, then ``... and N more bad row(s)`` where there are more."""
    lines = [str(line) for line in bad[:limit]]
    if len(bad) > limit:
        lines.append(f"... and {len(bad) - limit} more bad row(s)")
    return lines


def report(dataset: str, bad: Sequence, say: Callable[[str], None] | None = None, *, kept: int | None = None,
           what: str = "samples") -> None:
    """Print (through `say`, default print) the bad rows of `dataset` in the one format of the policy:
    ``[<dataset>] skipped <file>:<row>: <reason>`` for the first :data:`SHOWN`, ``[<dataset>] ... and N more bad
    row(s) skipped``, and, where `kept` is given, ``[<dataset>] N bad row(s) skipped, K <what> kept``."""
    say = say or (lambda line: print(line, flush=True))
    for line in bad[:SHOWN]:
        say(f"[{dataset}] skipped {line}")
    if len(bad) > SHOWN:
        say(f"[{dataset}] ... and {len(bad) - SHOWN} more bad row(s) skipped")
    if bad and kept is not None:
        say(f"[{dataset}] {len(bad)} bad row(s) skipped, {kept} {what} kept")


def none_left(head: str, bad: Sequence) -> ValueError:
    """The ValueError of a dataset with no sample left: `head` (what is empty, and why where known), then every bad
    row (the first :data:`SHOWN` and a count of the others), one an indented line."""
    if not bad:
        return ValueError(head)
    listed = "every bad row" if len(bad) <= SHOWN else f"the first {SHOWN} of the {len(bad)} bad rows"
    return ValueError(f"{head}; {listed}:\n" + "\n".join(f"  {line}" for line in shown(bad)))


# ----- reading text ----------------------------------------------------------------------------------------
def read_text(path: str | os.PathLike) -> str:
    """The text of a file read as UTF-8 (a leading byte-order mark dropped); a ValueError naming the file, the line
    and the byte where it is not UTF-8, and saying to save it as UTF-8."""
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        begin = data.rfind(b"\n", 0, error.start) + 1
        end = data.find(b"\n", error.start)
        text = data[begin:end if end >= 0 else len(data)].decode("utf-8", errors="replace").rstrip("\r")
        text = text if len(text) <= 60 else text[:57] + "..."
        sheet = "a spreadsheet's 'CSV UTF-8' format, or " if path.suffix.lower() in (".csv", ".tsv", ".txt") else ""
        raise ValueError(f"{path}:line {line}: not UTF-8 text (byte 0x{data[error.start]:02x} at byte "
                         f"{error.start - begin + 1} of the line, which reads {text!r}); save the file as UTF-8 "
                         f"({sheet}iconv -f latin1 -t utf-8 {path.name} > utf8_{path.name}) and read it again") from None


def table_rows(path: str | os.PathLike, delimiter: str) -> list[tuple[int, list[str]]]:
    """(row number from 1, cells) of every record of a CSV/TSV file read as UTF-8 (:func:`read_text`), blank ones
    included (as ``[]``); a ValueError naming the file and the line where the CSV cannot be parsed."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=delimiter)
    rows = []
    try:
        for number, row in enumerate(reader, start=1):
            rows.append((number, row))
    except csv.Error as error:
        raise ValueError(f"{path}:line {reader.line_num}: not a readable {'TSV' if delimiter == chr(9) else 'CSV'} "
                         f"row ({error})") from None
    return rows


def no_rows(path: str | os.PathLike, expected: str) -> ValueError:
    """The error of a table file without a row (empty, or blank lines only)."""
    return ValueError(f"{path}: the table has no rows; expected {expected}")


def only_header(path: str | os.PathLike, expected: str) -> ValueError:
    """The error of a table file holding its header and nothing else."""
    return ValueError(f"{path}: the table has only a header, no rows; expected {expected}")


# ----- keys ------------------------------------------------------------------------------------------------
def key_problem(record: dict, required: Sequence[str], optional: Sequence[str] = (), *,
                unknown_allowed: bool = False) -> str | None:
    """Why the keys of `record` are not the expected ones, or None where they are: a missing required key, and an
    unknown key (one neither required nor optional; with ``unknown_allowed`` only those that look like a missing
    key's misspelling), each named, a near miss with "did you mean", then the expected keys."""
    expected = [*required, *optional]
    missing = [key for key in required if key not in record]
    unknown = [key for key in record if key not in expected]
    if unknown_allowed:
        unknown = [key for key in unknown if isinstance(key, str) and difflib.get_close_matches(key, missing, n=1)]
    if not missing and not unknown:
        return None
    parts = []
    if missing:
        parts.append(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    for key in unknown:
        near = difflib.get_close_matches(str(key), missing or expected, n=1)
        parts.append(f"unknown key {key!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
    keys = ", ".join(required) + (f" (optional: {', '.join(optional)})" if optional else "")
    return "; ".join(parts) + f"; expected keys: {keys}"


def column_hint(missing: Sequence[str], header: Sequence[str]) -> str:
    """``; is the column 'answr' a misspelling of 'answer'?`` for header cells that look like a missing column's
    misspelling ("" where none does)."""
    hints = []
    for column in missing:
        near = difflib.get_close_matches(column, [cell for cell in header if cell not in missing], n=1)
        if near:
            hints.append(f"is the column {near[0]!r} a misspelling of {column!r}?")
    return "; " + " ".join(hints) if hints else ""
