"""Scores made elsewhere: the CSV that ``evaluate_metric_cls.py --scores FILE.csv`` reads (issue 27).

The file is UTF-8 (a byte-order mark is allowed) with one header line naming exactly the columns ``dataset``,
``model``, ``metric`` and ``score`` (case-sensitive, in any order) and one row per score::

    dataset,model,metric,score
    cifar10,resnet50,logme,1.93
    cifar10,resnet50,source_accuracy,76.1

Any metric name is accepted; the names in :data:`BASELINES` are read as the baselines (the model's own accuracy
on its source task, its number of parameters), scored and correlated like metrics. Rules, each broken rule a
``ValueError`` that names the file and the line and says what to do:

- columns: all four present, no other column (a fifth column, e.g. a note, is rejected rather than silently
  dropped, so that nothing in the file is taken to mean something it does not), each named once;
- fields: surrounding white space is removed; ``dataset``, ``model`` and ``metric`` must not be empty;
  ``score`` must be a finite number (Python's ``float``: ``1.5``, ``-2e-3``); blank lines are skipped;
- the metric names ``dataset`` and ``consensus`` are reserved (the summary's row key, and the consensus of the
  metrics that stage 3 adds);
- a (dataset, model, metric) given twice with the same score is kept once and reported in
  :attr:`ScoreTable.duplicates` (for the stage to print); with a different score it is an error naming both
  lines;
- at least one score row.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import NamedTuple

from pipeline.evaluate.uncertainty import CONSENSUS
from pipeline.models.baselines import BASELINES   # read as the baselines, not as metrics

COLUMNS = ("dataset", "model", "metric", "score")
RESERVED_METRICS = ("dataset", CONSENSUS)


class Duplicate(NamedTuple):
    """A row that repeats an earlier (dataset, model, metric) with the same score, kept once."""
    line: int
    first_line: int
    dataset: str
    model: str
    metric: str
    score: float


class ScoreTable(dict):
    """{dataset: {metric: {model: score}}}, with :attr:`duplicates`: the repeated rows that were kept once."""

    def __init__(self, *args, duplicates: list[Duplicate] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.duplicates: list[Duplicate] = list(duplicates or [])


def read_scores_csv(path) -> ScoreTable:
    """Read scores made elsewhere.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (module docstring for its format).

    Returns
    -------
    ScoreTable
        A dict {dataset: {metric: {model: score}}} in the order of first appearance, with ``.duplicates``: a list
        of :class:`Duplicate` (line, first_line, dataset, model, metric, score) for the rows given twice with the
        same score.

    Raises
    ------
    ValueError
        The file is missing or unreadable, not UTF-8, or breaks a rule of the module docstring; the message names
        the file and the line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file; give the CSV of scores (header dataset,model,metric,score) "
                         f"with --scores") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error.strerror or error}); give a readable CSV file "
                         f"with --scores") from None
    lines = []
    for number, line in enumerate(raw.splitlines(keepends=True), start=1):
        try:
            lines.append(line.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}, line {number}: not UTF-8 (byte {line[error.start]:#04x} at column "
                             f"{error.start + 1}); save the file as UTF-8") from None
    reader = csv.reader(lines, strict=True)
    try:
        header = _next_row(reader)
    except csv.Error as error:
        raise ValueError(f"{path}, line {reader.line_num}: not valid CSV ({error}); fix the quoting") from None
    if header is None:
        raise ValueError(f"{path}: empty file; the first line must be the header dataset,model,metric,score")
    where = f"{path}, line {reader.line_num}"
    names = [name.strip() for name in header]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{where}: column(s) {repeated} named more than once; the header must name each of "
                         f"{','.join(COLUMNS)} once")
    missing = [c for c in COLUMNS if c not in names]
    extra = [n for n in names if n not in COLUMNS]
    if missing or extra:
        said = "; ".join(part for part in (f"missing column(s) {missing}" if missing else "",
                                           f"unexpected column(s) {extra}" if extra else "") if part)
        raise ValueError(f"{where}: {said}; the header must be exactly {','.join(COLUMNS)} (in any order, "
                         f"case-sensitive), with no other column")
    column = {name: names.index(name) for name in COLUMNS}
    table = ScoreTable()
    first_seen: dict[tuple[str, str, str], tuple[int, float]] = {}
    rows = 0
    while True:
        try:
            row = _next_row(reader)
        except csv.Error as error:
            raise ValueError(f"{path}, line {reader.line_num}: not valid CSV ({error}); fix the quoting") from None
        if row is None:
            break
        number = reader.line_num
        where = f"{path}, line {number}"
        if len(row) != len(names):
            raise ValueError(f"{where}: {len(row)} field(s), the header has {len(names)} "
                             f"({','.join(names)}); give one value per column")
        fields = {name: row[i].strip() for name, i in column.items()}
        for name in ("dataset", "model", "metric"):
            if not fields[name]:
                raise ValueError(f"{where}: empty {name}; every row needs a dataset, a model and a metric name")
        if fields["metric"] in RESERVED_METRICS:
            raise ValueError(f"{where}: the metric name {fields['metric']!r} is reserved (the summary's "
                             f"{'row key' if fields['metric'] == 'dataset' else 'consensus of the metrics'}); "
                             f"rename the metric")
        try:
            score = float(fields["score"])
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise ValueError(f"{where}: score {fields['score']!r} is not a finite number; give a number "
                             f"(leave out the row of a model a metric could not score)")
        key = (fields["dataset"], fields["model"], fields["metric"])
        rows += 1
        if key in first_seen:
            first_line, first_score = first_seen[key]
            if score != first_score:
                raise ValueError(f"{where}: dataset {key[0]!r}, model {key[1]!r}, metric {key[2]!r} has score "
                                 f"{score!r} here and {first_score!r} on line {first_line}; keep one of the rows")
            table.duplicates.append(Duplicate(number, first_line, *key, score))
            continue
        first_seen[key] = (number, score)
        table.setdefault(key[0], {}).setdefault(key[2], {})[key[1]] = score
    if rows == 0:
        raise ValueError(f"{path}: no scores, only the header; add rows of dataset,model,metric,score")
    return table


def _next_row(reader) -> list[str] | None:
    """The next row that is not a blank line, or None at the end."""
    for row in reader:
        if len(row) > 1 or (row and row[0].strip()):
            return row
    return None


__all__ = ["BASELINES", "COLUMNS", "Duplicate", "RESERVED_METRICS", "ScoreTable", "read_scores_csv"]
