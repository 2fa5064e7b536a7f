"""The paper's whole grid at its real shapes: every metric timed, with peak memory, and the re-based targets.

    python bench/bench_grid.py                      # full grid: 11 datasets x 11 CNNs, every metric (~1.6 h here)
    python bench/bench_grid.py --scale 0.1          # the quick run: every dataset's N times 0.1
    python bench/bench_grid.py --targets            # the re-based targets and float32 vs float64, sizes S and M
    python bench/bench_grid.py --score-cell --separate-models resnet50   # each cell by one score_cell, and beside
                                                    # it the separate calls on one model of every dataset

Grid. Synthetic class-structured float32 features at the shapes stage 1 produces: for each of the paper's 11
classification datasets its default split's size and class count (DATASETS, as
``pipeline.tasks.classification.datasets`` loads them), and for each of the 11 supervised CNNs of
``data/ground_truth/cnn_supervised.json`` its feature width (WIDTHS; ``--check-widths`` builds each random-init
network of ``pipeline.models.image_models`` at 224 px and checks them).
With ``--scale s`` every N becomes max(round(s N), 5 C) (5 per class, so that N-LEEP's 5 C components fit).
Features: class centres plus noise, scaled per column so that the variance decays like a CNN's
(``SPECTRUM_DECAY``: 80% of the variance in about the first 200 of 2048 directions), one (N, 2048) array per
dataset whose first D columns are the model of width D. F-labels: K=3 class tables of width 1024. Source
probabilities: softmax of random logits over 1000 ImageNet classes.

``--device cuda`` runs the dense metrics (DENSE_METRICS) on that device, ``--precision float32`` their
products in float32 (both default to numpy float64).

Per cell (dataset x model) every metric that takes one model's features is called once, on its own, with the
registry's defaults (``metrics.METRICS``) except where OPTIONS says otherwise (the documented faster options, each
with what it does to the numbers); NCTI and ETran are called once per dataset on the zoo of its 11 models. With
``--score-cell`` a cell's metrics are scored by one ``metrics.score_cell``, as the evaluate stage scores them (each
shared statistic computed once; its ``seconds`` give each metric's time inside the call, a shared statistic
counted in the first metric that needs it), and ``--separate-models`` also calls them one by one on those models'
cells: the report then compares the two cell by cell. Beside EMMS: one float64 XᵀX of the same features (the
floor; conversion to float64 included, as EMMS pays it), and, with the separate calls, the released EMMS
algorithm (``bench/reference_emms.py``, on the expanded per-sample F-labels) on cells with N <=
``--reference-max-n``. Before the first cell every metric runs once on a tiny cell, untimed (imports, first calls).

Measured: wall-clock seconds of one call; peak numpy memory of that call (tracemalloc, running during the
timed call: it sees numpy's allocations, not BLAS/LAPACK workspace; inputs made before are not counted);
peak resident memory of the process during the call (Linux VmHWM after a reset through
/proc/self/clear_refs; it includes the inputs already resident). ``os.getloadavg()`` is recorded at the start
and the end: on a shared machine the wall-clock times are only as good as that load. On an oversubscribed
machine run it with ``OPENBLAS_NUM_THREADS=1``: there OpenBLAS's 2-thread products ran 20x slower than one
thread (H-score at N=667, D=1280: 43 s against 1.8 s, load average 20 on 2 cores); the header records it.

Each finished call (with the number it returned) is appended to a JSON-lines file as it ends (``--jsonl``), so
an interrupted run keeps what it measured; ``--render FILE.jsonl`` writes the markdown of such a file without
measuring anything, and ``--render A.jsonl B.jsonl --out whole.md`` puts runs of parts of the grid together (a
cell of a later file replaces the same cell of an earlier one). ``bench/compare_grid.py`` compares two runs'
numbers, e.g. with and without an option of ``--metric-options``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import metrics  # noqa: E402
from bench_metrics import _load  # noqa: E402

# name: (N of the default split stage 1 loads, classes); sizes from the datasets' own documentation
DATASETS = {
    "aircraft": (6667, 100),     # FGVC-Aircraft trainval, variants
    "caltech101": (8677, 101),   # torchvision Caltech101, all
    "cars": (8144, 196),         # Stanford Cars train
    "cifar10": (50000, 10),
    "cifar100": (50000, 100),
    "dtd": (3760, 47),           # DTD partition 1 train+val
    "flowers": (2040, 102),      # Flowers102 train+val
    "food": (75750, 101),        # Food-101 train
    "pets": (3680, 37),          # Oxford-IIIT Pet trainval
    "sun397": (108754, 397),     # torchvision SUN397, all (the pipeline's only split)
    "voc2007": (5011, 20),       # VOC2007 trainval, first positive class
}
WIDTHS = {  # penultimate feature width of each CNN of pipeline.models.names.CNN_SUPERVISED (--check-widths)
    "inception_v3": 2048, "mobilenet_v2": 1280, "mnasnet1_0": 1280, "densenet121": 1024, "densenet169": 1664,
    "densenet201": 1920, "resnet34": 512, "resnet50": 2048, "resnet101": 2048, "resnet152": 2048,
    "googlenet": 1024,
}
N_FLABELS, FLABEL_WIDTH, N_SOURCE_CLASSES = 3, 1024, 1000
SPECTRUM_DECAY = 1.1       # column j's standard deviation is (1 + j)^(-SPECTRUM_DECAY / 2) times the class structure
KNN_QUERIES = 2000         # kNN in the grid: an unbiased estimate from this many queries (standard error <= 0.011)
NLEEP_FIT_SAMPLES = 10000  # N-LEEP fits its mixture on at most this many samples (seeded, stratified)
OPTIONS = {   # metric: (keyword arguments the grid passes beyond the registry's, what they do to the numbers)
    "nleep": ({"covariance_type": "diag", "max_fit_samples": NLEEP_FIT_SAMPLES, "em_precision": "float32"},
              "diagonal covariance: the published full covariance runs for hours from size S on (bench_metrics.py, "
              "NLEEP_FULL_SIZES); a different number, not an approximation. The mixture is fitted on a seeded "
              f"stratified subsample of {NLEEP_FIT_SAMPLES} samples where N > {NLEEP_FIT_SAMPLES} (cifar10, "
              "cifar100, food, sun397), every sample scored with it; fitted on all N, N-LEEP over the grid was "
              "estimated at 2.5 h (bench/results/2026-12-02-grid-estimate.md). The EM and the posteriors in float32 "
              "(em_precision, from the float64 k-means start): the score moves by ~1e-7 relative "
              "(bench/results/2026-12-03-nleep-float32.md)"),
    "knn": ({"max_queries": KNN_QUERIES}, f"{KNN_QUERIES} seeded queries against all N samples where N > "
            f"{KNN_QUERIES}: an unbiased estimate of the exact leave-one-out accuracy, standard error <= "
            f"{0.5 / np.sqrt(KNN_QUERIES):.3f}; the exact score costs N / {KNN_QUERIES} times as much"),
    "parc": ({}, "the metric's own default: a seeded stratified subsample of 15000 samples where N > 15000 "
             "(the published threshold)"),
}
ZOO_METRICS = ("ncti", "etran")
DENSE_METRICS = ("emms", "logme", "hscore", "reg_hscore", "transrate")   # take device= and precision=
SIZES = {"S": (5000, 2048, 100), "M": (20000, 2048, 100)}


# ---------------------------------------------------------------------------------------------- data

def column_scale(width: int) -> np.ndarray:
    return ((1.0 + np.arange(width)) ** (-SPECTRUM_DECAY / 2)).astype(np.float32)


def make_dataset(n: int, n_classes: int, seed: int) -> dict:
    """Features (n, 2048) float32, balanced labels, K class tables (C, 1024), source probabilities (n, 1000)."""
    rng = np.random.default_rng(seed)
    width = max(WIDTHS.values())
    labels = rng.permutation(np.arange(n) % n_classes)
    centres = rng.standard_normal((n_classes, width), np.float32)
    scale = column_scale(width)
    features = np.empty((n, width), np.float32)
    for start in range(0, n, 8192):
        stop = min(start + 8192, n)
        block = centres[labels[start:stop]] + 2 * rng.standard_normal((stop - start, width), np.float32)
        features[start:stop] = block * scale
    projection = rng.standard_normal((width, FLABEL_WIDTH), np.float32) / np.sqrt(width)
    tables = [centres @ projection + rng.standard_normal((n_classes, FLABEL_WIDTH), np.float32)
              for _ in range(N_FLABELS)]
    logits = rng.standard_normal((n_classes, N_SOURCE_CLASSES), np.float32)[labels] + \
        rng.standard_normal((n, N_SOURCE_CLASSES), np.float32)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True), dtype=np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    return dict(features=features, labels=labels, tables=tables, probs=probs)


# ---------------------------------------------------------------------------------------------- measuring

def _peak_rss_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_gib() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return None


def measure(call) -> dict:
    """Seconds, peak numpy MiB (tracemalloc) and peak process RSS GiB of one call, and the number it returned or
    the error it raised."""
    resettable = _peak_rss_reset()
    tracemalloc.start()
    started = time.perf_counter()
    value = error = None
    try:
        value = _number(call())
    except Exception as exc:  # a benchmark reports a failing metric and goes on
        error = f"{type(exc).__name__}: {exc}"[:160]
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return dict(seconds=seconds, peak_mib=peak, rss_gib=_peak_rss_gib() if resettable else None, error=error,
                value=value)


def one_gram(features) -> None:
    """One float64 XᵀX of the features, conversion included (the floor of any exact least squares on X)."""
    x = np.asarray(features, dtype=np.float64)
    x.T @ x


def nleep_work(n: int, n_classes: int, width: int, fit_samples: int | None = NLEEP_FIT_SAMPLES) -> float:
    """Samples the mixture is fitted on x mixture components x PCA dimensions kept (80% of the variance of the
    synthetic spectrum): what N-LEEP's EM costs in proportion to."""
    variance = (1.0 + np.arange(width)) ** -SPECTRUM_DECAY
    dims = int(np.searchsorted(np.cumsum(variance) / variance.sum(), 0.8)) + 1
    return min(n, fit_samples or n) * 5 * n_classes * dims


# ---------------------------------------------------------------------------------------------- the grid

def grid(args, out) -> None:
    references = _load("reference_emms")
    cell_metrics = [name for name in args.metrics if name not in ZOO_METRICS]
    zoo_metrics = [name for name in args.metrics if name in ZOO_METRICS]
    warm_up(cell_metrics, args)
    for dataset in args.datasets:
        full_n, n_classes = DATASETS[dataset]
        n = max(round(args.scale * full_n), 5 * n_classes)
        print(f"[{dataset}] N={n} C={n_classes}: making data ...", file=sys.stderr, flush=True)
        data = make_dataset(n, n_classes, args.seed)
        labels, tables, probs = data["labels"], data["tables"], data["probs"]
        parts = {name: {} for name in zoo_metrics}   # --score-cell: each model's components of the zoo metrics
        part_seconds = dict.fromkeys(zoo_metrics, 0.0)
        for model in args.models:
            width = WIDTHS[model]
            x = np.ascontiguousarray(data["features"][:, :width])
            record = dict(dataset=dataset, model=model, n=n, d=width, c=n_classes)
            if args.score_cell:
                together(x, labels, tables, probs, cell_metrics, zoo_metrics, args, dict(record, mode="cell"),
                         out, parts, part_seconds)
                out(dict(record, mode="cell", metric="floor", **measure(lambda: one_gram(x))))
            if not args.score_cell or model in args.separate_models:
                separately(x, labels, tables, probs, cell_metrics, args, references, record, out)
        for name in zoo_metrics if len(args.models) >= 2 else []:
            row = dict(dataset=dataset, model=f"zoo of {len(args.models)}", n=n, d=None, c=n_classes, metric=name)
            if args.score_cell:   # the components' seconds inside each cell's score_cell, and their combination
                result = measure(lambda: metrics.cell.combine_zoo(name, parts[name]))
                out(dict(row, mode="cell", **dict(result, seconds=result["seconds"] + part_seconds[name],
                                                  peak_mib=None, rss_gib=None)))   # memory: in the score_cell rows
                continue
            zoo = {model: data["features"][:, :WIDTHS[model]] for model in args.models}
            print(f"[{dataset}] {name} on the zoo ...", file=sys.stderr, flush=True)
            out(dict(row, **measure(lambda: metrics.METRICS[name](zoo, labels))))
        del data


def warm_up(names, args) -> None:
    """Every metric once on a tiny cell, untimed: imports and first-call costs are not the first cell's."""
    small = make_dataset(300, 5, args.seed)
    x = np.ascontiguousarray(small["features"][:, :64])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics.score_cell(x, small["labels"], names, flabels=small["tables"], source_probs=small["probs"],
                           options={name: cell_options(name, args) for name in names})


def together(x, labels, tables, probs, names, zoo_names, args, record, out, parts, part_seconds) -> None:
    """One ``metrics.score_cell`` of the cell's metrics and of the zoo metrics' components (into ``parts``, their
    seconds added to ``part_seconds``): a row for the whole call (metric "score_cell": its seconds, those of the
    zoo components apart as ``zoo_seconds``, and its peak memory) and one per cell metric (its seconds inside
    the call, its value)."""
    seconds, errors, components = {}, {}, {}
    print(f"[{record['dataset']} x {record['model']}] score_cell ...", file=sys.stderr, flush=True)
    scores = {}

    def call():
        scores.update(metrics.score_cell(x, labels, names + zoo_names, flabels=tables, source_probs=probs,
                                         seconds=seconds, errors=errors, zoo_components=components, device=args.device,
                                         options={name: cell_options(name, args) for name in names}))

    result = measure(call)
    out(dict(record, metric="score_cell", zoo_seconds=sum(seconds.get(name, 0.0) for name in zoo_names), **result))
    for name in names:
        error = errors.get(name)
        out(dict(record, metric=name, seconds=seconds.get(name), value=_number(scores.get(name)),
                 error=f"{type(error).__name__}: {error}"[:160] if error else result["error"]))
    for name in zoo_names:
        parts[name][record["model"]] = components.get(name)
        part_seconds[name] += seconds.get(name, 0.0)


def cell_options(name: str, args) -> dict:
    """What the grid passes to a metric in score_cell: the grid's options and, for the dense metrics, the
    device and precision asked for."""
    extra = grid_options(name, args)
    if name in DENSE_METRICS:
        extra.update(device=args.device, precision=args.precision)
    return extra


def separately(x, labels, tables, probs, names, args, references, record, out) -> None:
    """Each metric of the cell called on its own, as the evaluate stage called them before score_cell, beside the
    floor (one XᵀX) and the released EMMS."""
    n, n_classes, width = record["n"], record["c"], record["d"]
    nleep_fit = grid_options("nleep", args).get("max_fit_samples")
    for name in names + ["floor", "reference_emms"]:
        row = dict(record, metric=name)
        if name == "floor":
            call = lambda: one_gram(x)  # noqa: E731
        elif name == "reference_emms":
            if n > args.reference_max_n or references is None:
                continue
            per_sample = np.stack([table[labels] for table in tables], axis=2)
            call = lambda: references.published_emms(x, per_sample)  # noqa: E731
        elif name == "nleep" and nleep_work(n, n_classes, width, nleep_fit) > args.nleep_max_work:
            work = nleep_work(n, n_classes, width, nleep_fit)
            out(dict(row, skipped=f"work {work:.2g} > {args.nleep_max_work:.0e}", work=work))
            continue
        else:
            call = metric_call(name, x, labels, tables, probs, args)
        print(f"[{record['dataset']} x {record['model']}] {name} ...", file=sys.stderr, flush=True)
        result = measure(call)
        if name == "nleep":
            result["work"] = nleep_work(n, n_classes, width, nleep_fit)
        out(dict(row, **result))
        if name == "reference_emms":
            del per_sample


def grid_options(name: str, args) -> dict:
    """The keyword arguments the grid passes to a metric: OPTIONS, overridden by --metric-options."""
    return dict(OPTIONS.get(name, ({}, ""))[0], **args.metric_options.get(name, {}))


def metric_call(name: str, x, labels, tables, probs, args):
    spec = metrics.METRICS[name]
    extra = cell_options(name, args)
    if spec.needs == "features+flabels":
        return lambda: spec(x, tables, labels, **extra)
    if spec.needs == "source_probs+labels":
        return lambda: spec(probs, labels, **extra)
    return lambda: spec(x, labels, **extra)


# ---------------------------------------------------------------------------------------------- targets

def targets(args, out) -> None:
    """Back-to-back ratios at S and M: EMMS vs its floor, per-sample EMMS vs its products, LogME vs its
    per-class loop, float32 vs float64, kNN sampled vs exact. Median of --repeats, interleaved."""
    slow = _load("reference_logme_transrate")
    for size in args.sizes:
        n, width, n_classes = SIZES[size]
        data = make_dataset(n, n_classes, args.seed)
        x, labels, tables = data["features"][:, :width].copy(), data["labels"], data["tables"]
        per_sample = np.stack([table[labels] for table in tables], axis=2)
        flat = np.ascontiguousarray(per_sample.reshape(n, -1), dtype=np.float64)

        def products():
            x64 = np.asarray(x, dtype=np.float64) - x.mean(axis=0)
            x64.T @ x64
            x64.T @ flat

        pairs = {
            "emms class tables / XᵀX floor": (lambda: metrics.emms(x, tables, labels), lambda: one_gram(x)),
            "emms per-sample / its products (XᵀX + XᵀY)": (lambda: metrics.emms(x, per_sample), products),
            "logme / per-class loop": (lambda: metrics.logme(x, labels),
                                        lambda: slow.logme_per_class_loop(x, labels)),
        }
        for name, fn in (("emms", lambda p: metrics.emms(x, tables, labels, precision=p)),
                         ("emms per-sample", lambda p: metrics.emms(x, per_sample, precision=p)),
                         ("logme", lambda p: metrics.logme(x, labels, precision=p)),
                         ("hscore", lambda p: metrics.hscore(x, labels, precision=p)),
                         ("reg_hscore", lambda p: metrics.reg_hscore(x, labels, precision=p)),
                         ("transrate", lambda p: metrics.transrate(x, labels, precision=p))):
            pairs[f"{name} float64 / float32"] = (lambda fn=fn: fn("float64"), lambda fn=fn: fn("float32"))
        pairs[f"knn exact / {KNN_QUERIES} queries"] = (lambda: metrics.knn(x, labels),
                                                       lambda: metrics.knn(x, labels, max_queries=KNN_QUERIES))
        for name, (first, second) in pairs.items():
            if args.only and not any(word in name for word in args.only):
                continue
            print(f"[{size}] {name} ...", file=sys.stderr, flush=True)
            values, times = [None, None], [[], []]
            for repeat in range(args.repeats + 1):   # the first round is a warm-up
                for index, call in enumerate((first, second)):
                    started = time.perf_counter()
                    value = call()
                    if repeat:
                        times[index].append(time.perf_counter() - started)
                    values[index] = value
            out(dict(size=size, n=n, d=width, c=n_classes, pair=name,
                     first_s=statistics.median(times[0]), second_s=statistics.median(times[1]),
                     first_value=_number(values[0]), second_value=_number(values[1])))
        del data, x, per_sample, flat


def _number(value):
    return float(value) if isinstance(value, (int, float, np.floating)) else None


# ---------------------------------------------------------------------------------------------- report

def _s(value, pattern="{:.2f}") -> str:
    return "" if value is None else pattern.format(value)


LOADED = ("the machine was shared and loaded (other agents' tests and a fine-tuning job on the same 2 cores): "
          "wall-clock times are upper bounds of an idle machine's, and only ratios measured back to back in one "
          "process are comparable.")   # what the runs that predate --conditions ran under


def render(rows: list[dict], meta: dict) -> str:
    lines = [f"# {meta['title']}", "", f"`{meta['command']}`", ""]
    for part in meta.get("parts", [meta]):
        lines += [("" if part is meta else f"- `{part['file']}`: `{part['command']}`. ") +
                  f"{part['date']}; {part['machine']}. Load average (1, 5, 15 min) at the start "
                  f"{part['load_start']}, at the end {part.get('load_end', '(run not finished)')}. "
                  f"Code: {part.get('commit', 'not recorded')}. **Conditions**: {part.get('conditions', LOADED)} "
                  + part.get("note", "")]
    lines += ["", meta["note_combined"]] if "note_combined" in meta else []
    lines.append("")
    cell_rows = [row for row in rows if "metric" in row and row.get("mode") == "cell"]
    separate_rows = [row for row in rows if "metric" in row and row.get("mode") != "cell"]
    if cell_rows:
        lines += ["# Through score_cell: every cell's metrics in one call", ""] + grid_tables(cell_rows, meta)
        lines += comparison_table(cell_rows, separate_rows)
    if separate_rows:
        lines += (["# Separate calls", ""] if cell_rows else []) + grid_tables(separate_rows, meta)
    target_rows = [row for row in rows if "pair" in row]
    if target_rows:
        lines += ["## Back-to-back ratios (median of the repeats, interleaved)", "",
                  "| size | pair | first s | second s | first / second | first value | second value | "
                  "relative difference |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        for row in target_rows:
            a, b = row["first_value"], row["second_value"]
            diff = abs(a - b) / abs(a) if a and b is not None else None
            lines.append(f"| {row['size']} (N={row['n']}, D={row['d']}, C={row['c']}) | {row['pair']} | "
                         f"{row['first_s']:.3f} | {row['second_s']:.3f} | {row['first_s'] / row['second_s']:.2f} | "
                         f"{_s(a, '{:.10g}')} | {_s(b, '{:.10g}')} | {_s(diff, '{:.1e}')} |")
        lines.append("")
    return "\n".join(lines)


NOT_METRICS = ("floor", "reference_emms", "score_cell")   # rows beside the metrics, not summed with them


def comparison_table(cell_rows: list[dict], separate_rows: list[dict]) -> list[str]:
    """score_cell against the separate calls of the same metrics, on the cells where both ran."""
    together = {(row["dataset"], row["model"]): row for row in cell_rows if row["metric"] == "score_cell"}
    names = {row["metric"] for row in cell_rows if row["metric"] not in NOT_METRICS and row["d"] is not None}
    separate = {}
    for row in separate_rows:
        if row["metric"] in names and row.get("seconds") is not None and not row.get("error"):
            separate.setdefault((row["dataset"], row["model"]), []).append(row["seconds"])
    both = [cell for cell in together if len(separate.get(cell, ())) == len(names)]
    if not both:
        return []
    lines = ["## score_cell against the separate calls of the same metrics, cell by cell", "",
             "score_cell s: the call less the zoo metrics' components it also computed.", "",
             "| dataset | model | N | D | separate s | score_cell s | separate / score_cell | "
             "score_cell peak RSS GiB |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for cell in both:
        row, alone = together[cell], sum(separate[cell])
        mine = row["seconds"] - row.get("zoo_seconds", 0.0)   # the zoo metrics' components are not compared
        lines.append(f"| {cell[0]} | {cell[1]} | {row['n']} | {row['d']} | {alone:.1f} | {mine:.1f} | "
                     f"{alone / mine:.2f}x | {_s(row.get('rss_gib'))} |")
    return lines + [""]


def options_text() -> str:
    """What the grid's OPTIONS do, as a run records it (a later render shows the options the run had)."""
    return "; ".join(f"{name}: {note}" for name, (_, note) in OPTIONS.items())


def grid_tables(rows: list[dict], meta: dict) -> list[str]:
    timed = [row for row in rows if row.get("seconds") is not None and not row.get("error")]
    metric_names = list(dict.fromkeys(row["metric"] for row in rows))
    datasets = list(dict.fromkeys(row["dataset"] for row in rows))
    total = sum(row["seconds"] for row in timed if row["metric"] not in NOT_METRICS)
    cells = {(row["dataset"], row["model"]) for row in rows if row["d"] is not None}
    lines = [f"## Grid: {len(datasets)} datasets, {len(cells)} cells", "",
             f"**Every metric over the grid: {total:.0f} s ({total / 60:.1f} min)**, beside the floor, the "
             f"released EMMS and the whole score_cell call, which are not metrics of the grid. "
             f"Options: {meta.get('options', options_text())}.", "",
             "| metric | total s | share | slowest call s | where | max peak numpy MiB | max peak RSS GiB | "
             "calls | errors / skipped |", "|---|---:|---:|---:|---|---:|---:|---:|---|"]
    for name in metric_names:
        mine = [row for row in timed if row["metric"] == name]
        bad = [row for row in rows if row["metric"] == name and (row.get("error") or row.get("skipped"))]
        if not mine and not bad:
            continue
        seconds = sum(row["seconds"] for row in mine)
        slowest = max(mine, key=lambda row: row["seconds"], default=None)
        share = seconds / total if name not in NOT_METRICS and total else None
        rss = [row["rss_gib"] for row in mine if row.get("rss_gib") is not None]
        peaks = [row["peak_mib"] for row in mine if row.get("peak_mib") is not None]
        problems = "; ".join(sorted({(row.get("error") or row.get("skipped"))[:90] for row in bad}))
        lines.append(f"| {name} | {seconds:.1f} | {_s(share, '{:.0%}')} | {_s(slowest and slowest['seconds'])} | "
                     f"{slowest and slowest['dataset'] + ' x ' + slowest['model']} | "
                     f"{_s(max(peaks, default=None), '{:.0f}')} | {_s(max(rss, default=None))} | "
                     f"{len(mine)} | {len(bad)}{': ' + problems if problems else ''} |")
    def total_of(metric, dataset=None, cells=None):
        """Seconds of a metric summed over a dataset's (or every) cell, or over the given (dataset, model) cells;
        and the cells found."""
        found = [row for row in timed if row["metric"] == metric and (dataset is None or row["dataset"] == dataset)
                 and (cells is None or (row["dataset"], row["model"]) in cells)]
        seconds = sum(row["seconds"] for row in found) if found else None
        return seconds, {(row["dataset"], row["model"]) for row in found}

    if "emms" in metric_names:
        lines += ["", "### EMMS (class tables) against its floor and the released algorithm, per dataset "
                  "(summed over the models)", "",
                  "| dataset | N | C | EMMS s | floor s (one float64 XᵀX) | EMMS / floor | released EMMS s | "
                  "released / EMMS |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for dataset in datasets + [None] if "emms" in metric_names else []:
        emms_s, emms_cells = total_of("emms", dataset)
        floor_s, _ = total_of("floor", dataset, emms_cells)
        ref_s, ref_cells = total_of("reference_emms", dataset)
        emms_ref_s, _ = total_of("emms", dataset, ref_cells)
        any_row = next(row for row in rows if dataset is None or row["dataset"] == dataset)
        lines.append(f"| {dataset or '**grid**'} | {any_row['n'] if dataset else ''} | "
                     f"{any_row['c'] if dataset else ''} | {_s(emms_s)} | {_s(floor_s)} | "
                     f"{_s(emms_s / floor_s if emms_s and floor_s else None)} | {_s(ref_s)} | "
                     f"{_s(ref_s / emms_ref_s if ref_s and emms_ref_s else None, '{:.1f}x')} |")
    lines += ["", "### Seconds per dataset and metric (summed over the models; zoo metrics once per dataset)", "",
              "| dataset | N | " + " | ".join(metric_names) + " |", "|---|---:|" + "---:|" * len(metric_names)]
    for dataset in datasets:
        n = next(row["n"] for row in rows if row["dataset"] == dataset)
        cells_text = []
        for name in metric_names:
            seconds, _ = total_of(name, dataset)
            skipped = any(row.get("skipped") or row.get("error") for row in rows
                          if row["dataset"] == dataset and row["metric"] == name)
            cells_text.append(_s(seconds, "{:.1f}") + ("*" if skipped else ""))
        lines.append(f"| {dataset} | {n} | " + " | ".join(cells_text) + " |")
    if any(row.get("skipped") or row.get("error") for row in rows):
        lines += ["", "`*`: some calls skipped or failed (see the first table)."]
    lines.append("")
    largest = max(rows, key=lambda row: (row["n"] * (row["d"] or 0)))
    lines += [f"### The largest cell: {largest['dataset']} x {largest['model']} (N={largest['n']}, "
              f"D={largest['d']}, float32 features {largest['n'] * largest['d'] * 4 / 2 ** 30:.2f} GiB)", "",
              "| metric | s | peak numpy MiB | peak RSS GiB | note |", "|---|---:|---:|---:|---|"]
    for row in rows:
        if row["dataset"] == largest["dataset"] and (row["model"] == largest["model"] or row["d"] is None):
            lines.append(f"| {row['metric']} | {_s(row.get('seconds'))} | {_s(row.get('peak_mib'), '{:.0f}')} | "
                         f"{_s(row.get('rss_gib'))} | {row.get('error') or row.get('skipped') or ''} |")
    nleep_rows = [row for row in rows if row["metric"] == "nleep"]
    ran = [row for row in nleep_rows if row.get("seconds") and not row.get("error")]
    skipped = [row for row in nleep_rows if row.get("skipped")]
    if ran and skipped:
        rate = sum(row["seconds"] for row in ran) / sum(row["work"] for row in ran)
        estimate = rate * sum(row["work"] for row in skipped)
        lines += ["", f"N-LEEP (diagonal) skipped on {len(skipped)} cells; at the rate of the cells that ran "
                      f"({rate * 1e9:.2f} s per 1e9 of N x components x PCA dims) they would take about "
                      f"{estimate:.0f} s ({estimate / 60:.0f} min) more."]
    return lines + [""]


# ---------------------------------------------------------------------------------------------- main

def read_run(path: Path) -> tuple[dict, list[dict]]:
    """A run's JSON-lines file: its header (first line) and its rows."""
    header, *rows = path.read_text().splitlines()
    return json.loads(header), [json.loads(row) for row in rows]


def combine(paths: list[Path], out: Path) -> tuple[dict, list[dict]]:
    """The rows of several runs as one grid: a cell's (dataset, model, metric) row from a later file replaces
    the earlier one. With one file, its own header."""
    metas, rows = [], {}
    for path in paths:
        meta, run_rows = read_run(path)
        metas.append(dict(meta, file=str(path)))
        for row in run_rows:
            rows[row.get("dataset"), row.get("model"), row.get("metric"), row.get("size"), row.get("pair")] = row
    if len(metas) == 1:
        return metas[0], list(rows.values())
    meta = dict(metas[-1], title=f"The paper's grid, combined from {len(metas)} runs",
                command=f"python bench/bench_grid.py --render {' '.join(map(str, paths))} --out {out}", parts=metas,
                note_combined="A cell (dataset, model, metric) measured by several of these runs is taken from the "
                              "last one listed.")
    return meta, list(rows.values())


def _commit() -> str:
    import subprocess

    found = subprocess.run(["git", "-C", str(BENCH.parent), "describe", "--always", "--dirty"], capture_output=True,
                           text=True)
    return found.stdout.strip() or "unknown"


def check_widths() -> None:
    import torch

    from pipeline.models import image_models

    for model, width in WIDTHS.items():
        spec = image_models.model_spec(model, pretrained=False, image_size=224)
        module = spec.load().module.eval()
        with torch.inference_mode():
            out = module(torch.zeros(1, 3, 224, 224))
        found = out[spec.candidates[-1]].shape[1]
        print(f"{model}: {found}" + ("" if found == width else f"  (WIDTHS says {width})"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every dataset's N (quick run: 0.1)")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--models", default=",".join(WIDTHS))
    parser.add_argument("--metrics", default=",".join(metrics.METRICS))
    parser.add_argument("--device", default=None, help="torch device of the dense metrics (e.g. cuda)")
    parser.add_argument("--precision", default="float64", choices=("float64", "float32"),
                        help="precision of the dense metrics' products")
    parser.add_argument("--reference-max-n", type=int, default=20000,
                        help="run the released EMMS on cells with at most this many samples")
    parser.add_argument("--score-cell", action="store_true",
                        help="score each cell's metrics by one metrics.score_cell (every shared statistic once)")
    parser.add_argument("--separate-models", default="",
                        help="with --score-cell: also call each metric separately on these models' cells, to compare")
    parser.add_argument("--targets", action="store_true", help="the back-to-back ratios instead of the grid")
    parser.add_argument("--sizes", default="S,M", help="sizes of --targets")
    parser.add_argument("--only", default="", help="--targets: only pairs whose name contains one of these words")
    parser.add_argument("--repeats", type=int, default=3, help="--targets: timed rounds after a warm-up")
    parser.add_argument("--metric-options", type=json.loads, default={},
                        help="JSON {metric: {keyword: value}} over OPTIONS, e.g. "
                             "'{\"nleep\": {\"max_fit_samples\": null}}'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nleep-max-work", type=float, default=float("inf"),
                        help="run N-LEEP only where fitted samples x components x PCA dims is at most this (a "
                             "quick run: 1e9); the rest is estimated from the rate of the cells that ran")
    parser.add_argument("--conditions", default="not stated", help="what else ran on the machine, for the header")
    parser.add_argument("--out", type=Path, help="markdown file (default bench/results/<date>-grid[-scale].md)")
    parser.add_argument("--jsonl", type=Path, help="raw rows, appended as they finish (default: beside --out)")
    parser.add_argument("--render", type=Path, nargs="+",
                        help="only render these JSON-lines files to markdown (several: one grid, later files' "
                             "cells replacing earlier ones', every run's header kept)")
    parser.add_argument("--check-widths", action="store_true", help="build each CNN and check WIDTHS")
    args = parser.parse_args(argv)
    if args.check_widths:
        return check_widths()
    args.datasets = [name for name in args.datasets.split(",") if name]
    args.models = [name for name in args.models.split(",") if name]
    args.metrics = [name for name in args.metrics.split(",") if name]
    args.separate_models = [name for name in args.separate_models.split(",") if name]
    args.sizes = [name for name in args.sizes.split(",") if name]
    args.only = [word for word in args.only.split(",") if word]
    unknown = [name for name in args.datasets if name not in DATASETS] + \
        [name for name in args.models + args.separate_models if name not in WIDTHS] + \
        [name for name in args.metrics if name not in metrics.METRICS] + [s for s in args.sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown {unknown}; datasets {list(DATASETS)}, models {list(WIDTHS)}, "
                     f"metrics {list(metrics.METRICS)}, sizes {list(SIZES)}")
    today = datetime.date.today().isoformat()
    scale = "" if args.scale == 1 else f"-scale{args.scale:g}"
    stem = f"{today}-targets" if args.targets else f"{today}-grid{scale}"
    if args.render and len(args.render) > 1 and not args.out:
        parser.error("--render of several files needs --out for the combined markdown")
    markdown = args.out or (args.render[0].with_suffix(".md") if args.render else BENCH / "results" / f"{stem}.md")
    jsonl = args.jsonl or markdown.with_suffix(".jsonl")
    if args.render:
        meta, rows = combine(args.render, markdown)
    else:
        command = "python bench/bench_grid.py " + " ".join(argv if argv is not None else sys.argv[1:])
        meta = dict(title=("Re-based targets" if args.targets else "The paper's grid") + f", {today}",
                    command=command.strip(), date=datetime.datetime.now(datetime.timezone.utc).isoformat(
                        timespec="seconds"),
                    machine=f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), numpy "
                            f"{np.__version__}, BLAS threads: OPENBLAS_NUM_THREADS="
                            f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset (all cores)')}",
                    load_start=[round(v, 2) for v in os.getloadavg()], conditions=args.conditions,
                    commit=_commit(), options=options_text())
        jsonl.parent.mkdir(parents=True, exist_ok=True)
        jsonl.write_text(json.dumps(meta) + "\n")
        rows = []

        def out(row):
            rows.append(row)
            with jsonl.open("a") as handle:
                handle.write(json.dumps(row) + "\n")

        started = time.perf_counter()
        (targets if args.targets else grid)(args, out)
        meta["load_end"] = [round(v, 2) for v in os.getloadavg()]
        meta["note"] = f"Wall time of the whole run {time.perf_counter() - started:.0f} s."
        lines = jsonl.read_text().splitlines()
        jsonl.write_text("\n".join([json.dumps(meta)] + lines[1:]) + "\n")
    if args.render and len(args.render) > 1:
        jsonl.write_text("\n".join(json.dumps(row) for row in [meta, *rows]) + "\n")
    report = render(rows, meta)
    print(report)
    markdown.write_text(report)
    print(f"wrote {markdown} and {jsonl}", file=sys.stderr)


if __name__ == "__main__":
    main()
