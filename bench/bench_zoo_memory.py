"""Peak numpy memory (tracemalloc) of the whole-zoo metrics, NCTI and ETran, on a synthetic zoo.

    python bench/bench_zoo_memory.py [--models 6] [--n 20000] [--d 1024]

They convert one model at a time to float64 (metrics/_zoo.each_model), so their peak follows one model's copy,
not the zoo's.
"""
import argparse
import time
import tracemalloc

import numpy as np

import metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=6)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--d", type=int, default=1024)
    parser.add_argument("--classes", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    labels = np.arange(args.n) % args.classes
    zoo = {f"m{i}": (rng.normal(size=(args.n, args.d)) + 0.01 * labels[:, None]).astype(np.float32)
           for i in range(args.models)}
    one_copy = args.n * args.d * 8 / 2 ** 20
    print(f"{args.models} models of {args.n} x {args.d} float32; one model's float64 copy: {one_copy:.0f} MiB")
    for name in ("ncti", "etran"):
        tracemalloc.start()
        started = time.perf_counter()
        metrics.METRICS[name](zoo, labels)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
        print(f"{name}: peak {peak:.0f} MiB ({peak / one_copy:.1f} model copies), {seconds:.1f} s")


if __name__ == "__main__":
    main()
