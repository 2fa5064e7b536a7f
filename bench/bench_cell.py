"""score_cell against separate calls (issue 26): every per-cell metric of one synthetic cell, timed both ways.

The cells are bench_grid.py's synthetic class-structured data (``make_dataset``: float32 features of width
2048 with a decaying spectrum, balanced classes, class tables, source probabilities) at the shapes asked for, and
the metrics get the grid's options (bench_grid.OPTIONS: N-LEEP diagonal on a 10,000-sample fit, kNN on 2000
queries, PARC's 15,000-sample cap). For each cell: each metric called separately through the registry, then one
``metrics.score_cell`` of all of them (its ``seconds`` say what each metric took there; a statistic shared by
several metrics is counted in the first that needs it), and the two sets of values compared.

    python bench/bench_cell.py --sizes 20000x2048x100,5000x2048x100 --out bench/results/DATE-score-cell.md
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
import metrics  # noqa: E402
from bench_grid import OPTIONS, make_dataset  # noqa: E402
from metrics import METRICS, Needs  # noqa: E402

PER_CELL = [name for name, spec in METRICS.items() if spec.needs != Needs.ZOO_LABELS]


def options_for(name: str) -> dict:
    return dict(OPTIONS.get(name, ({}, ""))[0])


def separate(name, data) -> tuple[float, float]:
    spec = METRICS[name]
    x, labels, tables, probs = data["features"], data["labels"], data["tables"], data["probs"]
    start = time.perf_counter()
    if spec.needs == Needs.SOURCE_PROBS_LABELS:
        value = spec(probs, labels, **options_for(name))
    elif spec.needs == Needs.FEATURES_FLABELS:
        value = spec(x, tables, labels, **options_for(name))
    else:
        value = spec(x, labels, **options_for(name))
    return value, time.perf_counter() - start


def together(names, data) -> tuple[dict, dict, float]:
    seconds = {}
    start = time.perf_counter()
    values = metrics.score_cell(data["features"], data["labels"], names, flabels=data["tables"],
                                source_probs=data["probs"], options={name: options_for(name) for name in names},
                                seconds=seconds)
    return values, seconds, time.perf_counter() - start


def run_cell(n, d, n_classes, names, say) -> dict:
    data = make_dataset(n, n_classes, seed=0)
    data["features"] = np.ascontiguousarray(data["features"][:, :d])
    say(f"cell N={n} D={d} C={n_classes}: separate calls")
    alone = {}
    for name in names:
        alone[name] = separate(name, data)
        say(f"  {name}: {alone[name][1]:.2f} s")
    say("  score_cell ...")
    values, seconds, total = together(names, data)
    say(f"  score_cell: {total:.2f} s")
    return dict(n=n, d=d, c=n_classes, alone=alone, values=values, seconds=seconds, total=total)


def render(cells, meta) -> str:
    lines = [f"# score_cell against separate calls, {meta['date']}", "",
             f"`{meta['command']}`", "",
             f"{meta['started']}; {os.cpu_count()} CPUs ({platform.machine()}), numpy {np.__version__}, "
             f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}. Load average (1, 5, 15 min) "
             f"at the start {meta['load_start']}, at the end {meta['load_end']}. Code: {meta['commit']}.", "",
             "Synthetic class-structured cells of bench_grid.py (`make_dataset`, float32, balanced classes, 3 class "
             "tables of width 1024, 1000 source classes), the grid's options (N-LEEP diagonal fitted on at most "
             "10,000 samples, kNN on 2000 queries, PARC's own 15,000-sample cap). `score_cell` s: the metric's "
             "time inside one `score_cell` of all the metrics (a shared statistic is counted in the first metric "
             "that needs it, in the registry's order: logme, the first of the sharing metrics, pays for the "
             "centred copy and the raw class sums, nleep for the centred Gram and its eigh, which hscore, "
             "reg_hscore, transrate and gbc then reuse). Values: the largest relative difference between the separate call and "
             "score_cell over the metrics.", ""]
    for cell in cells:
        names = list(cell["alone"])
        alone_total = sum(seconds for _, seconds in cell["alone"].values())
        worst = max(abs(cell["values"][name] - value) / max(abs(value), 1e-300)
                    for name, (value, _) in cell["alone"].items())
        lines += [f"## N={cell['n']}, D={cell['d']}, C={cell['c']}", "",
                  f"**separate calls {alone_total:.1f} s, score_cell {cell['total']:.1f} s: "
                  f"{alone_total / cell['total']:.2f}x**; values agree to {worst:.1e} relative.", "",
                  "| metric | separate s | score_cell s | shares |", "|---|---:|---:|---|"]
        for name in names:
            shares = ("yes" if name in metrics.cell.SHARED else "")
            lines.append(f"| {name} | {cell['alone'][name][1]:.2f} | {cell['seconds'][name]:.2f} | {shares} |")
        shared = [name for name in names if name in metrics.cell.SHARED]
        lines.append(f"| **sharing metrics ({', '.join(shared)})** | "
                     f"{sum(cell['alone'][name][1] for name in shared):.2f} | "
                     f"{sum(cell['seconds'][name] for name in shared):.2f} | |")
        lines.append(f"| **total** | {alone_total:.2f} | {cell['total']:.2f} | |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000x2048x100,5000x2048x100", help="NxDxC,... (D at most 2048)")
    parser.add_argument("--metrics", default=",".join(PER_CELL))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    names = [name for name in args.metrics.split(",") if name]
    meta = dict(date=datetime.date.today().isoformat(),
                command="python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]) if argv is None else "",
                started=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                load_start=[round(value, 2) for value in os.getloadavg()], commit=_commit())
    warnings.simplefilter("ignore")
    run_cell(300, 64, 5, names, lambda text: None)   # warm-up: imports, BLAS threads (not reported)
    cells = []
    for size in args.sizes.split(","):
        n, d, c = (int(part) for part in size.split("x"))
        cells.append(run_cell(n, d, c, names, lambda text: print(text, flush=True)))
    meta["load_end"] = [round(value, 2) for value in os.getloadavg()]
    text = render(cells, meta)
    print(text)
    if args.out:
        args.out.write_text(text)


def _commit() -> str:
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BENCH,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "metrics", "bench/bench_cell.py"],
                               capture_output=True, text=True, cwd=BENCH.parent).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
