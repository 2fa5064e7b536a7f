"""Speed and memory of every metric in metrics.METRICS on synthetic class-structured data.

    python bench/bench_metrics.py --sizes S,M --metrics emms,logme --repeats 3 [--write | --out FILE]

Sizes: S (N=5000, D=2048, C=100), M (N=20000, D=2048, C=100), L (N=100000, D=2048, C=100: EMMS with class
tables only, its memory check; the features are a float32 memmap on disk), and XS (N=1000, D=256, C=20) to
check the script in seconds. F-labels: K=3 of width 1024, as
class tables (C, 1024) and as per-sample arrays (N, 1024, 3).

Time: the median of ``--repeats`` runs after one warm-up run. The baselines that take minutes (the
released EMMS algorithm on the expanded arrays) run ``--reference-repeats`` times without a warm-up.
Peak memory: the peak of numpy allocations traced by ``tracemalloc`` during one separate, untimed run
(inputs made before tracing starts, so they are not counted; torch allocations are not seen).

Beside each EMMS figure: the released algorithm on the expanded N x D system (bench/reference_emms.py) and
one float64 X^T X of the same features, in the same run, as ratios. Beside LogME and TransRate, the
per-class-loop LogME and the D x D TransRate of bench/reference_logme_transrate.py when that file exists.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

import metrics  # noqa: E402  (after the path insert, so the script runs from anywhere)

SIZES = {"XS": (1000, 256, 20), "S": (5000, 2048, 100), "M": (20000, 2048, 100), "L": (100000, 2048, 100)}
N_FLABELS, FLABEL_WIDTH, N_SOURCE_CLASSES, ZOO_SIZE = 3, 1024, 1000, 3
MEMORY_ONLY_SIZES = {"L"}   # EMMS with class tables only
# N-LEEP's published mixture (5*C full-covariance components on the PCA features, EM costing ~N*5C*d^2 a
# step) is timed only where it finishes in minutes; at S (C=100, d in the hundreds) it runs for hours.
NLEEP_FULL_SIZES = {"XS"}


@dataclass
class Row:
    metric: str
    size: str
    variant: str
    seconds: float | None = None
    peak_mib: float | None = None
    note: str = ""
    reference: str = ""
    reference_seconds: float | None = None
    gram_seconds: float | None = None


def _load(name: str):
    """A module from bench/ by file name, or None when the file is not there yet."""
    path = BENCH / f"{name}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_data(size: str, seed: int, workdir: Path) -> dict:
    """Class-structured float32 features, labels, class tables, per-sample F-labels, source probs, a zoo."""
    n, d, c = SIZES[size]
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % c)
    centres = rng.normal(size=(c, d)).astype(np.float32)
    if size in MEMORY_ONLY_SIZES:
        features = np.lib.format.open_memmap(workdir / f"features_{size}.npy", "w+", np.float32, (n, d))
        for start in range(0, n, 8192):
            stop = min(start + 8192, n)
            features[start:stop] = centres[labels[start:stop]] + 2 * rng.normal(size=(stop - start, d))
        features.flush()
        zoo = per_sample = probs = None
    else:
        zoo = {f"model{m}": (centres[labels] * (0.5 + m) + 3 * rng.standard_normal((n, d), np.float32))
               for m in range(ZOO_SIZE)}
        features = zoo["model1"]
        logits = rng.normal(size=(c, N_SOURCE_CLASSES))[labels] + rng.normal(size=(n, N_SOURCE_CLASSES))
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
    tables = [(centres @ rng.normal(size=(d, FLABEL_WIDTH)).astype(np.float32) / np.sqrt(d)
               + rng.normal(size=(c, FLABEL_WIDTH)).astype(np.float32)) for _ in range(N_FLABELS)]
    if zoo is not None:
        per_sample = np.stack([table[labels] for table in tables], axis=2)
    return dict(features=features, labels=labels, tables=tables, per_sample=per_sample, probs=probs, zoo=zoo)


def timed(function, repeats: int, warm_up: bool = True) -> float:
    if warm_up:
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_mib(function) -> float:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2 ** 20
    finally:
        tracemalloc.stop()


def one_gram(features) -> None:
    """One float64 X^T X of the features (the floor any exact least squares on X has to pay)."""
    x = np.asarray(features, dtype=np.float64)
    x.T @ x


def calls(name: str, spec, data: dict, size: str, references) -> list[tuple[str, object, str, object]]:
    """(variant, call, reference name, reference call) for each input form the metric is timed on."""
    features, labels = data["features"], data["labels"]
    if spec.needs == "features+flabels":
        forms = [("class tables", lambda: spec(features, data["tables"], labels), "released EMMS, expanded",
                  None if size in MEMORY_ONLY_SIZES else
                  (lambda: references["emms"].published_emms(features, data["per_sample"])))]
        if data["per_sample"] is not None:
            forms.append(("per-sample F-labels", lambda: spec(features, data["per_sample"]),
                          "released EMMS, expanded", lambda: references["emms"].published_emms(
                              features, data["per_sample"])))
        return forms
    if name == "nleep":   # the published full-covariance mixture is the slow baseline of the diagonal one
        baseline = (lambda: spec(features, labels)) if size in NLEEP_FULL_SIZES else None
        return [("features, diagonal covariance", lambda: spec(features, labels, covariance_type="diag"),
                 "N-LEEP full covariance (published)", baseline)]
    if spec.needs == "features+labels":
        slow = references.get("logme_transrate")
        reference = {"logme": ("LogME per-class loop", "logme_per_class_loop"),
                     "transrate": ("TransRate D x D", "transrate_dxd")}.get(name)
        if reference and slow is not None:
            function = getattr(slow, reference[1])
            return [("features", lambda: spec(features, labels), reference[0], lambda: function(features, labels))]
        return [("features", lambda: spec(features, labels), "", None)]
    if spec.needs == "source_probs+labels":
        return [(f"source probs (Z={N_SOURCE_CLASSES})", lambda: spec(data["probs"], labels), "", None)]
    return [(f"zoo of {ZOO_SIZE}", lambda: spec(data["zoo"], labels), "", None)]


def bench_size(size: str, names: list[str], args, references, workdir: Path) -> list[Row]:
    data = make_data(size, args.seed, workdir)
    rows = []
    shared_reference = {}   # the released EMMS baseline is the same for both EMMS input forms
    gram_seconds = None
    for name in names:
        spec = metrics.METRICS[name]
        if size in MEMORY_ONLY_SIZES and spec.needs != "features+flabels":
            continue
        for variant, call, reference, reference_call in calls(name, spec, data, size, references):
            row = Row(name, size, variant, reference=reference if reference_call else "")
            print(f"[{size}] {name} ({variant}) ...", file=sys.stderr, flush=True)
            try:
                row.seconds = timed(call, args.repeats)
                row.peak_mib = peak_mib(call)
            except Exception as error:  # a benchmark reports a failing metric and goes on
                row.note = f"error: {type(error).__name__}: {error}"[:120]
            if row.seconds is not None and reference_call is not None:
                if reference not in shared_reference:
                    print(f"[{size}]   baseline: {reference} ...", file=sys.stderr, flush=True)
                    shared_reference[reference] = timed(reference_call, args.reference_repeats,
                                                        warm_up=args.reference_repeats > 1)
                row.reference_seconds = shared_reference[reference]
            if row.seconds is not None and spec.needs == "features+flabels":
                if gram_seconds is None:
                    gram_seconds = timed(lambda: one_gram(data["features"]), args.repeats)
                row.gram_seconds = gram_seconds
            if spec.needs == "features+flabels" and row.peak_mib is not None:
                row.note = f"peak {row.peak_mib / (data['features'].nbytes / 2 ** 20):.2f} x size of X " \
                           f"({data['features'].nbytes / 2 ** 20:.0f} MiB, {data['features'].dtype})"
            rows.append(row)
    return rows


def _fmt(value, pattern="{:.3f}") -> str:
    return "" if value is None else pattern.format(value)


def table(rows: list[Row]) -> str:
    lines = ["| metric | size | input | median s | peak MiB | baseline | baseline s | speed-up | "
             "X^T X s | time / X^T X | note |",
             "|---|---|---|---:|---:|---|---:|---:|---:|---:|---|"]
    for row in rows:
        speed_up = row.reference_seconds / row.seconds if row.reference_seconds and row.seconds else None
        per_gram = row.seconds / row.gram_seconds if row.gram_seconds and row.seconds else None
        lines.append(f"| {row.metric} | {row.size} | {row.variant} | {_fmt(row.seconds)} | "
                     f"{_fmt(row.peak_mib, '{:.0f}')} | {row.reference} | {_fmt(row.reference_seconds)} | "
                     f"{_fmt(speed_up, '{:.1f}x')} | {_fmt(row.gram_seconds)} | {_fmt(per_gram, '{:.2f}')} | "
                     f"{row.note} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S", help=f"comma-separated, of {','.join(SIZES)}")
    parser.add_argument("--metrics", default=",".join(metrics.METRICS), help="comma-separated metric names")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after the warm-up (median)")
    parser.add_argument("--reference-repeats", type=int, default=1, help="runs of the slow baselines")
    parser.add_argument("--seed", type=int, default=0)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--out", type=Path, help="also write the table to this markdown file")
    output.add_argument("--write", action="store_true", help="also write it to bench/results/<date>.md")
    args = parser.parse_args(argv)
    sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
    names = [name.strip() for name in args.metrics.split(",") if name.strip()]
    unknown = [size for size in sizes if size not in SIZES] + [name for name in names if name not in metrics.METRICS]
    if unknown:
        parser.error(f"unknown sizes or metrics {unknown}; sizes {list(SIZES)}, metrics {list(metrics.METRICS)}")
    references = {"emms": _load("reference_emms"), "logme_transrate": _load("reference_logme_transrate")}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        rows = [row for size in sizes for row in bench_size(size, names, args, references, Path(workdir))]
    header = (f"# Metric benchmark, {datetime.date.today().isoformat()}\n\n"
              f"`python bench/bench_metrics.py {' '.join(argv if argv is not None else sys.argv[1:])}` "
              f"(median of {args.repeats} after a warm-up; peak MiB: tracemalloc, numpy allocations of one "
              f"untimed run; sizes {', '.join(f'{s}: N={SIZES[s][0]}, D={SIZES[s][1]}, C={SIZES[s][2]}' for s in sizes)}; "
              f"F-labels K={N_FLABELS} of width {FLABEL_WIDTH}; {time.perf_counter() - started:.0f} s in all)\n\n")
    report = header + table(rows) + "\n"
    print(report)
    destination = args.out or (BENCH / "results" / f"{datetime.date.today().isoformat()}.md" if args.write else None)
    if destination is not None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(report)
        print(f"wrote {destination}", file=sys.stderr)


if __name__ == "__main__":
    main()
