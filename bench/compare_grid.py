"""What an option does to the grid's numbers: two ``bench_grid.py`` runs of the same cells, compared per dataset.

    python bench/compare_grid.py A.jsonl B.jsonl [--metrics nleep]

For each dataset and metric both runs scored: the largest relative difference of a cell's value, Kendall's tau
between the models' two rankings (scipy.stats.kendalltau, tau-b) and whether both pick the same top model.
Printed as markdown. A run's row counts only where it has a value (rows written before values were recorded
have none).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_grid import read_run  # noqa: E402


def values(path: Path) -> dict:
    _, rows = read_run(path)
    return {(row["dataset"], row["metric"], row["model"]): row["value"] for row in rows
            if row.get("value") is not None}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--metrics", default="", help="only these metrics (comma-separated)")
    args = parser.parse_args(argv)
    first, second = values(args.first), values(args.second)
    wanted = set(filter(None, args.metrics.split(",")))
    print(f"`{args.first}` against `{args.second}`\n")
    print("| dataset | metric | models | max relative difference | Kendall tau-b | same top model |")
    print("|---|---|---:|---:|---:|---|")
    pairs = sorted({(dataset, metric) for dataset, metric, _ in first.keys() & second.keys()
                    if not wanted or metric in wanted})
    for dataset, metric in pairs:
        models = sorted(model for d, m, model in first.keys() & second.keys() if (d, m) == (dataset, metric))
        a = np.array([first[dataset, metric, model] for model in models])
        b = np.array([second[dataset, metric, model] for model in models])
        relative = np.max(np.abs(a - b) / np.maximum(np.abs(a), np.finfo(float).tiny))
        tau = kendalltau(a, b).statistic if len(models) > 1 else float("nan")
        same = models[int(np.argmax(a))] == models[int(np.argmax(b))]
        print(f"| {dataset} | {metric} | {len(models)} | {relative:.2e} | {tau:.3f} | {'yes' if same else 'no'} |")


if __name__ == "__main__":
    main()
