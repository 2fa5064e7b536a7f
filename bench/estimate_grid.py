"""Estimate the whole grid's time from the cells that were measured (one or more ``bench_grid.py`` JSON-lines).

    python bench/estimate_grid.py bench/results/A.jsonl [B.jsonl ...]

For each metric, the seconds of a call are fitted, over the measured cells, as a non-negative combination of
N D^2 (the Gram-like products), D^3 (the decompositions), N C D (class sums, N-LEEP's and LEEP-like per-class
work), N^2/N_cap (kNN's queries against all N) and 1 (overhead), with ``scipy.optimize.nnls``; each unmeasured
cell of the 11 x 11 grid is predicted from that fit (N-LEEP from its work, as ``bench_grid`` does). The fit's
error is shown on the measured cells of the largest datasets (leave those out with ``--hold-out`` to see how
well the small ones predict them). Printed as markdown. An estimate, not a measurement: the file says so.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_grid import DATASETS, WIDTHS, ZOO_METRICS, nleep_work, read_run  # noqa: E402


def terms(metric: str, n: int, d: int, c: int, work: float | None = None) -> np.ndarray:
    """The cost terms of one cell; N-LEEP's ``work`` as its row recorded it (rows of full-N fits predate the
    grid's fit cap), else as the grid runs it now."""
    if metric == "nleep":
        return np.array([work or nleep_work(n, c, d), 1.0])
    return np.array([n * d * d, d ** 3, n * c * d, n * min(n, 2000), 1.0])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jsonl", nargs="+", type=Path)
    parser.add_argument("--hold-out", default="", help="datasets whose cells are not used to fit (to test the fit)")
    args = parser.parse_args(argv)
    held = set(filter(None, args.hold_out.split(",")))
    rows = [row for path in args.jsonl for row in read_run(path)[1]]
    measured_rows = {(r["dataset"], r["model"], r["metric"]): r for r in rows
                     if r.get("seconds") is not None and not r.get("error") and r["model"] in WIDTHS}
    timed = {key: row["seconds"] for key, row in measured_rows.items()}
    metrics = sorted({m for _, _, m in timed} - {"floor", "reference_emms"})
    print("| metric | measured cells | measured s | estimated cells | estimated s | fit error on held-out cells |")
    print("|---|---:|---:|---:|---:|---|")
    grand_measured = grand_estimated = 0.0
    for metric in metrics:
        fit_cells = [(ds, model) for ds, model, m in timed if m == metric and ds not in held]
        a = np.array([terms(metric, DATASETS[ds][0], WIDTHS[model], DATASETS[ds][1],
                            measured_rows[ds, model, metric].get("work")) for ds, model in fit_cells])
        b = np.array([timed[ds, model, metric] for ds, model in fit_cells])
        scale = a.max(axis=0)
        coef = nnls(a / scale, b)[0] / scale
        measured = estimated = 0.0
        n_est = 0
        errors = []
        for ds, (n, c) in DATASETS.items():
            for model, d in WIDTHS.items():
                predicted = float(terms(metric, n, d, c) @ coef)
                if (ds, model, metric) in timed:
                    measured += timed[ds, model, metric]
                    if ds in held:
                        errors.append(predicted / timed[ds, model, metric])
                else:
                    estimated += predicted
                    n_est += 1
        error = f"predicted / measured {min(errors):.2f}-{max(errors):.2f}" if errors else ""
        n_measured = sum(1 for ds, model, m in timed if m == metric)
        print(f"| {metric} | {n_measured} | {measured:.0f} | {n_est} | {estimated:.0f} | {error} |")
        grand_measured += measured
        grand_estimated += estimated
    total = grand_measured + grand_estimated
    print(f"\n**Per-cell metrics over the whole grid: {grand_measured:.0f} s measured + {grand_estimated:.0f} s "
          f"estimated = {total:.0f} s ({total / 60:.0f} min)**, not counting {', '.join(ZOO_METRICS)} (once per "
          f"dataset on the zoo); N-LEEP's estimate covers every cell it did not run, its skipped ones included.")


if __name__ == "__main__":
    main()
