"""Stage 2: F-labels of class names from GPT-2 (mean of the last hidden state over real tokens).

Writes results/flabels/<dataset>/<encoder>_class.npy (classes x width) and <encoder>_meta.json, in the order stage 1
stores features in (use the same dataset settings there). TASK (or --task) picks the task (classification, vqa).
Every setting is a flag (--help lists this script's, the stage's and the task's). Offline: --model minilm, the
bundled all-MiniLM-L6-v2 (or any local encoder folder). Runs from any directory.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.flabels.stage import run_stage2  # noqa: E402

TASK = "classification"
MODEL = "gpt2-medium"  # hub id, a local encoder folder, or minilm (the bundled all-MiniLM-L6-v2)

if __name__ == "__main__":
    sys.exit(run_stage2(globals(), backend="hf"))
