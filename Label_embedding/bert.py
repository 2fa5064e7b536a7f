"""Stage 2: F-labels of class names from BERT (mean of the last hidden state over real tokens).

Writes results/flabels/<dataset>/<encoder>_class.npy (classes x width) and <encoder>_meta.json,
in the order stage 1 stores features in (use the same dataset settings there).
TASK (or --task) picks the task; its dataset settings are flags too (--help lists them).
Offline: --model PATH takes any local encoder folder, e.g. the bundled all-MiniLM-L6-v2
(python -c "from pipeline.flabels import minilm_path; print(minilm_path())").
Runs from any directory (python Label_embedding/bert.py, or python bert.py inside Label_embedding/).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import defaults  # noqa: E402
from pipeline.flabel_stage import run_stage2  # noqa: E402

TASK = "classification"  # the task whose labels are embedded (classification, captioning, ...)
DATASETS = []  # empty: the paper's datasets of TASK (--datasets a,b names others)
MODEL = "bert-large-uncased"  # hub id, or a local encoder folder (offline)
ENCODER_NAME = None  # name in the file names; None: from the model
TEMPLATE = "{}"  # prompt around the cleaned class name, e.g. "a photo of a {}."
BATCH_SIZE = 128  # texts per forward pass
DEVICE = defaults.DEVICE  # auto (CUDA when present, else CPU), cpu, cuda, cuda:1
RESULTS = defaults.RESULTS  # the store (default: the repository's results/)
DATA_ROOT = defaults.DATA_ROOT  # where datasets live (default: the repository's data/)
OVERWRITE = False  # make finished tables again

if __name__ == "__main__":
    sys.exit(run_stage2(globals(), backend="hf"))
