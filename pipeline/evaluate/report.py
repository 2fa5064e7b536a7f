"""Tables (markdown, CSV, JSON) and plots (PNG) of stage 3; written through the store.

A :class:`Table` is a title, column names and rows of cells (text, numbers, or None / NaN for "no value").
Plots use matplotlib's object API (``matplotlib.figure.Figure``, Agg canvas), so nothing here changes the
global pyplot state or needs a display.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from pipeline.store import Store, save_bytes, save_text

MISSING = "—"


@dataclass(frozen=True)
class Marked:
    """A number shown with a mark (e.g. "0.5614*"), explained in its table's note; CSV and JSON keep the number."""
    value: float
    mark: str = "*"


@dataclass(frozen=True)
class Interval:
    """An interval [low, high] in one cell: printed "[low, high]", written to JSON as {"low", "high"}."""
    low: float
    high: float

    @classmethod
    def of(cls, low, high) -> "Interval | None":
        """The interval, or None (no value) where an end is missing or NaN."""
        if low is None or high is None or math.isnan(low) or math.isnan(high):
            return None
        return cls(float(low), float(high))


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    digits: int = 4
    note: str = ""     # printed under the table where a cell is marked (what a mark means)
    legend: str = ""   # printed under the table always (what a column means)

    def cell(self, value: Any) -> str:
        if isinstance(value, Interval):
            return f"[{value.low:.{self.digits}f}, {value.high:.{self.digits}f}]"
        if isinstance(value, Marked):
            return self.cell(value.value) + value.mark
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        if isinstance(value, float):
            return f"{value:.{self.digits}f}"
        return str(value)

    def markdown(self) -> str:
        body = [[self.cell(v) for v in row] for row in self.rows]
        widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(self.columns)]
        numeric = [i > 0 and all(isinstance(r[i], (int, float, Marked)) or r[i] is None for r in self.rows)
                   for i in range(len(self.columns))]  # numbers right-aligned, text (names) left

        def line(cells):
            return "| " + " | ".join(c.rjust(w) if right else c.ljust(w)
                                     for c, w, right in zip(cells, widths, numeric)) + " |"
        rule = "|" + "|".join("-" * (w + 1) + ":" if right else ":" + "-" * (w + 1)
                              for w, right in zip(widths, numeric)) + "|"
        note = [f"\n{self.note}"] if self.note and any(isinstance(v, Marked) for r in self.rows for v in r) else []
        note += [f"\n{self.legend}"] if self.legend else []
        return "\n".join([f"### {self.title}", "", line(self.columns), rule, *map(line, body), *note]) + "\n"

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, [_plain(v) for v in row])) for row in self.rows]

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            values = [self.cell(v) if isinstance(v, Interval) else _plain(v) for v in row]
            writer.writerow(["" if self.cell(v) == MISSING else (repr(v) if isinstance(v, float) else v) for v in values])
        return buffer.getvalue()


def _plain(value: Any) -> Any:
    """A cell's value for CSV and JSON: a marked number's number, an interval's {"low", "high"}."""
    if isinstance(value, Marked):
        return value.value
    if isinstance(value, Interval):
        return {"low": value.low, "high": value.high}
    return value


def json_ready(obj: Any) -> Any:
    """NaN and inf become None (JSON has no NaN); tuples become lists; keys become strings."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


def write_table(store: Store, name: str, table: Table) -> list[Path]:
    """results/tables/<name>.md, .csv and .json (title + one object per row); returns the paths."""
    paths = [store.table_path(f"{name}.md"), store.table_path(f"{name}.csv")]
    save_text(paths[0], table.markdown())
    save_text(paths[1], table.csv())
    return paths + [write_json(store, name, {"title": table.title, "rows": table.records()})]


def write_json(store: Store, name: str, obj: Any) -> Path:
    path = store.table_path(f"{name}.json")
    save_text(path, json.dumps(json_ready(obj), indent=2) + "\n")
    return path


def scatter_plot(store: Store, name: str, title: str, panels: Sequence[dict],
                 y_label: str = "fine-tuned result") -> Path:
    """One subplot per metric: its score (x) against the fine-tuned result (y), one labelled point per model.

    ``panels``: [{"metric": str, "scores": {model: score}, "truth": {model: value}, "weighted_tau": float}]."""
    from matplotlib.figure import Figure  # imported here: the tables need no matplotlib

    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(4.6 * columns, 3.9 * rows), layout="constrained")
    figure.suptitle(title, fontsize=13)
    for index, panel in enumerate(panels):
        axes = figure.add_subplot(rows, columns, index + 1)
        models = sorted(set(panel["scores"]) & set(panel["truth"]))
        x = [panel["scores"][m] for m in models]
        y = [panel["truth"][m] for m in models]
        axes.scatter(x, y, s=22, color="tab:blue", zorder=2)
        for model, xi, yi in zip(models, x, y):
            axes.annotate(model, (xi, yi), xytext=(3, 3), textcoords="offset points", fontsize=7)
        tau = panel.get("weighted_tau")
        shown = MISSING if tau is None or math.isnan(tau) else f"{tau:.3f}"
        axes.set_title(f"{panel['metric']}   weighted τ = {shown}", fontsize=10)
        axes.set_xlabel(f"{panel['metric']} score", fontsize=8)
        axes.set_ylabel(y_label, fontsize=8)
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3, zorder=0)
        axes.margins(x=0.18, y=0.12)  # room for the labels of the outermost points
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    path = store.table_path(f"{name}.png")
    save_bytes(path, buffer.getvalue())
    return path
