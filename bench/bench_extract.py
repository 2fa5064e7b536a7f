"""Speed of stage 1's extraction loop: images per second of a network's forward pass at batch 32.

Measures the model part of pipeline.extract.run_batches (device transfer, inference_mode, optional bf16,
gathering outputs) on synthetic already-preprocessed batches, so decoding and resizing do not count.
Random-init weights: the same cost as the pretrained ones.

    python bench/bench_extract.py                                  # resnet50, 224 px, CPU, batch 32
    python bench/bench_extract.py --model efficientnet_lite0 --device cuda --amp true

Numbers on a shared machine are noisy: run it alone, and take the median of a few runs.

    python bench/bench_extract.py --compare true --models resnet50,efficientnet_lite0 --rounds 3

``--compare true`` measures the CPU options of stage 1 on each of MODELS: float32 as the pipeline runs it, with
``channels_last`` (model and batches in NHWC), with bf16 autocast (``run_batches(amp=True)``), and both;
ROUNDS rounds, the variants interleaved within each round, median images/s of wall-clock time and of the
process's CPU time (the steadier measure of cost on a shared machine). Beside each, how far its
features are from float32's on the same images: the largest |difference| over the largest |feature|, and
the smallest cosine similarity of a sample's two feature vectors (random-init weights: no pretrained ones
are reachable here, so the differences are indicative). pipeline/extract/ is not changed by this script.
"""
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import cli, extract  # noqa: E402
from pipeline.models import image_models  # noqa: E402

MODEL = "resnet50"    # any name pipeline.models.image_models knows
IMAGE_SIZE = 224
BATCH_SIZE = 32
BATCHES = 4           # timed batches, after WARMUP untimed ones
WARMUP = 1
DEVICE = "auto"
AMP = False
THREADS = None        # torch CPU threads; None: torch's default
COMPARE = False       # time float32 / channels_last / bf16 autocast / both, and their feature differences
MODELS = ("resnet50", "efficientnet_lite0")   # models of --compare
ROUNDS = 3            # --compare: interleaved rounds (median)
VARIANTS = {"float32": (False, False), "channels_last": (True, False), "bf16 autocast": (False, True),
            "bf16 autocast + channels_last": (True, True)}   # name: (channels_last, amp)


def compare(args, device) -> None:
    """Images/s and feature differences of the VARIANTS, interleaved over ROUNDS rounds."""
    for model in args.models:
        spec = image_models.model_spec(model, pretrained=False, image_size=args.image_size)
        module = spec.load().module.to(device).eval()
        images = torch.randn(args.batch_size * (args.warmup + args.batches), 3, args.image_size, args.image_size)
        batches = list(extract.make_loader(torch.utils.data.TensorDataset(images), args.batch_size))
        rates, cpu_rates, features = {name: [] for name in VARIANTS}, {name: [] for name in VARIANTS}, {}
        for round_index in range(args.rounds):
            for name, (channels_last, amp) in VARIANTS.items():
                fmt = torch.channels_last if channels_last else torch.contiguous_format
                module = module.to(memory_format=fmt)

                def run(part, fmt=fmt, amp=amp):
                    return extract.run_batches(lambda batch: module(batch[0].contiguous(memory_format=fmt)), part,
                                               device=device, amp=amp)

                run(batches[: args.warmup])
                started, cpu_started = time.perf_counter(), time.process_time()
                out = run(batches[args.warmup:])
                rates[name].append(args.batch_size * args.batches / (time.perf_counter() - started))
                cpu_rates[name].append(args.batch_size * args.batches / (time.process_time() - cpu_started))
                features[name] = out[spec.candidates[-1]].reshape(len(images) - args.batch_size * args.warmup, -1)
        reference = features["float32"]
        print(f"\n{model} {args.image_size}px, batch {args.batch_size}, {args.batches} batches x {args.rounds} "
              f"rounds on {device} ({torch.get_num_threads()} threads), feature width {reference.shape[1]}")
        print("| variant | images/s (median) | all rounds | vs float32 | images per CPU-second | vs float32 | "
              "max abs diff / max abs | min cosine |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        base_rate = statistics.median(rates["float32"])
        base_cpu = statistics.median(cpu_rates["float32"])
        for name in VARIANTS:
            diff = features[name] - reference
            cosine = (features[name] * reference).sum(1) / (
                np.linalg.norm(features[name], axis=1) * np.linalg.norm(reference, axis=1))
            rate, cpu = statistics.median(rates[name]), statistics.median(cpu_rates[name])
            print(f"| {name} | {rate:.2f} | {', '.join(f'{r:.2f}' for r in rates[name])} | {rate / base_rate:.2f}x "
                  f"| {cpu:.2f} | {cpu / base_cpu:.2f}x | {np.abs(diff).max() / np.abs(reference).max():.2e} "
                  f"| {cosine.min():.6f} |", flush=True)


def main(args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.compare:
        return compare(args, extract.pick_device(args.device))
    device = extract.pick_device(args.device)
    spec = image_models.model_spec(args.model, pretrained=False, image_size=args.image_size)
    module = spec.load().module.to(device).eval()
    images = torch.randn(args.batch_size * (args.warmup + args.batches), 3, args.image_size, args.image_size)
    loader = extract.make_loader(torch.utils.data.TensorDataset(images), args.batch_size)
    batches = list(loader)

    def run(part):
        return extract.run_batches(lambda batch: module(batch[0]), part, device=device, amp=args.amp)

    run(batches[: args.warmup])
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    out = run(batches[args.warmup:])
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    count = args.batch_size * args.batches
    width = out[spec.candidates[-1]].shape[1]
    print(f"{args.model} {args.image_size}px batch {args.batch_size} on {device} (amp {args.amp}, "
          f"{torch.get_num_threads()} threads): {count / seconds:.1f} images/s "
          f"({count} images in {seconds:.2f} s, feature width {width}); noisy on a shared machine")


if __name__ == "__main__":
    main(cli.parse(globals(), __doc__, types={"THREADS": int}))
