"""Stage 2: F-labels of class names from the CLIP text tower (open_clip, projected text features).

Writes results/flabels/<dataset>/<encoder>_class.npy (classes x width) and <encoder>_meta.json.
MODEL: 'hf-hub:org/repo', a built-in open_clip name with a PRETRAINED tag (ViT-B-32 + laion2b_s34b_b79k),
or a local folder with open_clip_config.json and weights (offline).
Run from the repository root (python Label_embedding/clip.py) or from Label_embedding/ (python clip.py).
"""
import sys
from pathlib import Path

repo_root = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(repo_root))

from pipeline.flabel_stage import run_class_stage  # noqa: E402

DATASETS = ["aircraft", "caltech101", "cars", "cifar10", "cifar100", "dtd", "flowers", "food", "pets", "sun397",
            "voc2007"]  # the paper's 11 classification datasets
MODEL = "hf-hub:laion/CLIP-ViT-g-14-laion2B-s12B-b42K"  # the paper's CLIP; or a built-in name, or a folder
PRETRAINED = None  # open_clip pretrained tag for a built-in MODEL name (None with hf-hub: or a folder)
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
    sys.exit(run_class_stage(globals(), backend="clip"))
