"""Time of the three VQA stages, end to end, on the offline digit-pairs set (docs/vqa.md).

Writes the set (PAIRS images, three questions each) to a temporary folder, then times stage 1 (the dual-encoder
MODELS, real EfficientNet-Lite weights and the bundled MiniLM, IMAGE_SIZE px), stage 2 (MiniLM class F-labels)
and stage 3 (METRICS; empty: every metric that applies), each including its model loads.

    python bench/bench_vqa.py                                   # 60 pairs, the zoo efficientnet_lite_minilm, CPU
    python bench/bench_vqa.py --pairs 1000 --image-size 224 --device cuda

Numbers on a shared machine are noisy: run it alone.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import cli, evaluate, extract, tasks  # noqa: E402
from pipeline.flabels import stage as flabel_stage  # noqa: E402
from pipeline.models.text import minilm_path  # noqa: E402
from pipeline.tasks.vqa import data as vqa_data  # noqa: E402

PAIRS = 60
MODELS = ["efficientnet_lite0+minilm", "efficientnet_lite1+minilm", "efficientnet_lite2+minilm"]
IMAGE_SIZE = 64
METRICS = []
EMMS_RIDGE = 18.0     # N = 3 * PAIRS questions is below the feature width: EMMS needs a ridge (~0.1 N)
BATCH_SIZE = 32
DEVICE = "cpu"
THREADS = None        # torch CPU threads; None: torch's default (on a loaded machine 1 can be many times faster)


def main() -> None:
    options = cli.parse(globals(), __doc__, types={"THREADS": int})
    if options.threads:
        import torch

        torch.set_num_threads(options.threads)
    task = tasks.get("vqa")
    with tempfile.TemporaryDirectory() as scratch:
        folder, results = Path(scratch) / "digit_pairs", Path(scratch) / "results"
        vqa_data.write_digit_pairs(folder, options.pairs)
        args = argparse.Namespace(datasets=[], dataset_dir=str(folder), data_root=scratch, split="train",
                                  max_samples=None, min_answer_count=1, max_answers=None,
                                  zoo="efficientnet_lite_minilm",
                                  models=options.models, results=results, batch_size=options.batch_size,
                                  num_workers=0, device=options.device, amp=False, overwrite=False, strict=False,
                                  checkpoint_dir=None, image_size=options.image_size, pretrained=True)
        seconds = {}
        started = time.perf_counter()
        assert extract.run_stage1(task, args) == 0
        seconds["stage 1"] = time.perf_counter() - started
        constants = {"TASK": "vqa", "DATASETS": [], "MODEL": str(minilm_path()), "ENCODER_NAME": None,
                     "TEMPLATE": "{}", "BATCH_SIZE": 128, "DEVICE": options.device, "RESULTS": results,
                     "DATA_ROOT": scratch, "OVERWRITE": False}
        started = time.perf_counter()
        assert flabel_stage.run_stage2(constants, backend="hf", argv=[f"--dataset-dir={folder}"]) == 0
        seconds["stage 2"] = time.perf_counter() - started
        started = time.perf_counter()
        evaluate.run(evaluate.Settings(task="vqa", zoo="efficientnet_lite_minilm", dataset_dir=str(folder),
                                       metrics=options.metrics, results=str(results),
                                       metric_options={"emms": {"ridge": options.emms_ridge}}), out=lambda _: None)
        seconds["stage 3"] = time.perf_counter() - started
    questions = 3 * options.pairs
    print(f"{questions} questions, {len(options.models)} networks, {options.image_size} px, {options.device}, "
          f"{options.threads or 'default'} threads: "
          + ", ".join(f"{stage} {value:.1f} s" for stage, value in seconds.items())
          + f" (stage 1: {questions * len(options.models) / seconds['stage 1']:.1f} question-networks/s)")


if __name__ == "__main__":
    main()
