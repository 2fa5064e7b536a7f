"""Scale-out on this machine: stage 1 with 1 and 2 processes (torchrun), stage 3 with --jobs 1 and 2, on the
demo's zoo and data (demo.sh settings: efficientnet_lite, mnist5k/textiles/digits, 400 images, 64 px).

Each stage-1 run starts from an empty results folder; the stage-3 runs share one folder with the demo's stage-2
F-labels and re-score every cell (--overwrite true). Wall-clock seconds of the whole command, with the load
average (os.getloadavg) before and after, since the machine may be shared. Writes a markdown table.

    python bench/bench_scale.py --out bench/results/2026-12-01-scale.md
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import cli  # noqa: E402

DATASETS = "mnist5k,textiles,digits"
STAGE1_RUNS = ["1", "1:1", "2"]  # processes[:torch threads per process]; no threads: the default (torchrun: 1)
STAGE3_RUNS = ["1", "1:1", "2"]  # jobs[:BLAS/OpenMP threads of the main process]; [] skips stages 2 and 3
REPEATS = 1            # runs of each configuration, alternated
OUT = None             # markdown file; None: print only
WORK = None            # folder for the results; None: a temporary one, removed after


def stage1(results: Path, processes: int) -> list[str]:
    script = ["forward_feature_CNN.py", "--zoo", "efficientnet_lite", "--datasets", DATASETS, "--image-size", "64",
              "--split", "train", "--max-samples", "400", "--num-workers", "0", "--device", "cpu",
              "--results", str(results)]
    if processes == 1:
        return [sys.executable, *script]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes), *script]


def timed(command: list[str], label: str, env: dict | None = None) -> dict:
    before = os.getloadavg()
    started = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{label} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    after = os.getloadavg()
    row = {"run": label, "seconds": round(seconds, 1), "load_before": [round(x, 2) for x in before],
           "load_after": [round(x, 2) for x in after], "command": " ".join(command)}
    print(json.dumps(row), flush=True)
    return row


def scores(results: Path) -> dict:
    found = {}
    for path in sorted((results / "scores").rglob("*.json")):
        entries = json.loads(path.read_text())
        found[str(path.relative_to(results))] = {m: e["score"] for m, e in entries.items()}
    return found


def largest_difference(first: dict, second: dict) -> str:
    """'identical', or the largest relative difference between two runs' scores (and whether cells differ)."""
    if first == second:
        return "identical"
    if {f: set(e) for f, e in first.items()} != {f: set(e) for f, e in second.items()}:
        return "different cells scored"
    worst = max((abs(first[f][m] - second[f][m]) / max(abs(first[f][m]), 1e-300), f, m)
                for f in first for m in first[f])
    return f"largest relative difference {worst[0]:.1e} ({worst[1]}, {worst[2]})"


def main(args) -> None:
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_scale_"))
    rows = []
    try:
        for repeat in range(args.repeats):
            for run in args.stage1_runs:
                processes, _, threads = run.partition(":")
                results = work / f"stage1_{processes}_{repeat}"
                shutil.rmtree(results, ignore_errors=True)
                label = f"stage 1, {processes} process(es)" + (f", OMP_NUM_THREADS={threads}" if threads else "")
                rows.append(timed(stage1(results, int(processes)), label, {"OMP_NUM_THREADS": threads} if threads
                                  else None))
        if not args.stage3_runs:
            return report(rows, None, args.out)
        shared = work / f"stage1_{args.stage1_runs[-1].partition(':')[0]}_{args.repeats - 1}"
        from pipeline.models.text import minilm_path

        timed([sys.executable, "Label_embedding/bert.py", "--datasets", DATASETS, "--results", str(shared),
               "--model", str(minilm_path())], "stage 2 (untimed setup)")
        stage3 = [sys.executable, "evaluate_metric_cls.py", "--zoo", "efficientnet_lite", "--datasets", DATASETS,
                  "--results", str(shared), "--overwrite", "true"]
        found = {}
        for repeat in range(args.repeats):
            for run in args.stage3_runs:
                jobs, _, threads = run.partition(":")
                env = {name: threads for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
                label = f"stage 3, --jobs {jobs}" + (f", main process BLAS threads {threads}" if threads else "")
                rows.append(timed([*stage3, "--jobs", jobs], label, env if threads else None))
                found[run] = scores(shared)
        same = {run: largest_difference(found[args.stage3_runs[0]], found[run]) for run in args.stage3_runs[1:]}
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    report(rows, same, args.out)


def report(rows: list[dict], same: dict | None, out: str | None) -> None:
    lines = ["| run | seconds | load average before (1/5/15 min) | after |", "|---|---:|---|---|"]
    lines += [f"| {r['run']} | {r['seconds']} | {r['load_before']} | {r['load_after']} |" for r in rows]
    for run, verdict in (same or {}).items():
        lines += ["", f"Stage-3 scores of run {run!r} against the first stage-3 run: {verdict}"]
    lines += ["", "Commands:", ""] + [f"    {command}" for command in dict.fromkeys(r["command"] for r in rows)]
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        Path(out).write_text(text)


if __name__ == "__main__":
    main(cli.parse(globals(), __doc__))
