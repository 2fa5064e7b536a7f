"""Speed of the text-QA stage 1: questions per second, input preparation alone and the whole extraction.

Synthetic SQuAD-like questions (contexts of CONTEXT_WORDS words, 1-3 word answers spread over the context) go
through pipeline.tasks.tqa.models with the bundled all-MiniLM-L6-v2 (or MODEL): first QAInputs alone (tokenising
question + context into windows, choosing the window that holds the answer, marking the answer's tokens), then
pipeline.extract.extract_candidate (inputs, batching, the forward pass, the store). Offline.

    python bench/bench_tqa.py                       # MiniLM, 128 questions of 500 words, 384/128 windows, CPU
    python bench/bench_tqa.py --device cuda --questions 4096 --batch-size 64

Numbers on a shared machine are noisy: run it alone, and take the median of a few runs.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import cli, extract, tasks  # noqa: E402
from pipeline.store import Store  # noqa: E402

MODEL = "all-MiniLM-L6-v2"  # any text-QA candidate name (folder, hub id, or the bundled MiniLM)
QUESTIONS = 128
CONTEXT_WORDS = 500   # SQuAD v1.1 paragraphs average ~120 words; 500 gives two 384-token windows each
MAX_LENGTH = 384
STRIDE = 128
FEATURE = "span"
BATCH_SIZE = 32
NUM_WORKERS = 0
DEVICE = "auto"
THREADS = None        # torch CPU threads; None: torch's default
WORDS = ("the river flows past an old castle where a king once lived with his queen and their soldiers while "
         "merchants sold bread in the market near the harbor and sailors told stories of distant islands").split()


def synthetic_table(path: Path, questions: int, context_words: int) -> None:
    rng = np.random.default_rng(0)
    with open(path, "w") as handle:
        for index in range(questions):
            words = list(rng.choice(WORDS, size=context_words))
            first, length = int(rng.integers(1, context_words - 3)), int(rng.integers(1, 4))
            answer = " ".join(words[first:first + length])
            start = len(" ".join(words[:first])) + 1
            handle.write(json.dumps({"context": " ".join(words), "question": f"what comes after {words[first - 1]}?",
                                     "answer": answer, "answer_start": start, "id": f"q{index}"}) + "\n")


def main(args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    task = tasks.get("tqa")
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder) / "bench" / "qa.jsonl"
        table.parent.mkdir()
        synthetic_table(table, args.questions, args.context_words)
        settings = argparse.Namespace(qa_file=str(table), data_root=folder, split="train", unanswerable="drop",
                                      max_samples=None, checkpoint_dir=None, feature=args.feature,
                                      max_length=args.max_length, stride=args.stride)
        samples = task.load_samples(None, settings)
        candidate = task.candidate(args.model, settings)
        loaded = candidate.load()
        inputs = loaded.inputs(samples)
        started = time.perf_counter()
        items = [inputs[i] for i in range(len(inputs))]
        prepare = time.perf_counter() - started
        windows = sum(len(inputs.windows(record)["input_ids"]) for record in samples.items.records)
        result = extract.extract_candidate(candidate, samples, Store(Path(folder) / "results"),
                                           batch_size=args.batch_size, num_workers=args.num_workers,
                                           device=args.device, flabel_kind=task.flabel_kind)
    device = extract.pick_device(args.device)
    print(f"{args.model} ({args.feature}, windows {args.max_length}/{args.stride}) on {device}, "
          f"{torch.get_num_threads()} threads: {len(items)} questions of {args.context_words}-word contexts "
          f"({windows / len(items):.2f} windows each, {np.mean([len(i['input_ids']) for i in items]):.0f} tokens in "
          f"the window used); input preparation {len(items) / prepare:.0f} questions/s; whole extraction "
          f"(load + inputs + forward + store) {len(items) / result.seconds:.1f} questions/s "
          f"({result.seconds:.2f} s, {len(result.bad)} skipped); noisy on a shared machine")


if __name__ == "__main__":
    main(cli.parse(globals(), __doc__, types={"THREADS": int}))
