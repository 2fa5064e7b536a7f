"""Speed of stage 1's extraction loop: images per second of a network's forward pass at batch 32.

Measures the model part of pipeline.extract.run_batches (device transfer, inference_mode, optional bf16,
gathering outputs) on synthetic already-preprocessed batches, so decoding and resizing do not count.
Random-init weights: the same cost as the pretrained ones.

    python bench/bench_extract.py                                  # resnet50, 224 px, CPU, batch 32
    python bench/bench_extract.py --model efficientnet_lite0 --device cuda --amp true

Numbers on a shared machine are noisy: run it alone, and take the median of a few runs.
"""
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import cli, extract, zoo  # noqa: E402

MODEL = "resnet50"    # any name pipeline.zoo knows
IMAGE_SIZE = 224
BATCH_SIZE = 32
BATCHES = 4           # timed batches, after WARMUP untimed ones
WARMUP = 1
DEVICE = "auto"
AMP = False
THREADS = None        # torch CPU threads; None: torch's default


def main(args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = extract.pick_device(args.device)
    spec = zoo.model_spec(args.model, pretrained=False, image_size=args.image_size)
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
