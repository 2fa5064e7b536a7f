"""Stage 2: F-labels of one text per sample (a caption) from CLIP (open_clip's projected text features).

Writes results/flabels/<dataset>/<encoder>_sample.npy (samples x width) and <encoder>_meta.json,
in the order stage 1 stores features in (use the same dataset settings there).
TASK (or --task) picks the task; its dataset settings are flags too (--help lists them).
Offline: --model PATH takes any local encoder folder, e.g. the bundled all-MiniLM-L6-v2
(python -c "from pipeline.flabels import minilm_path; print(minilm_path())").
Runs from any directory (python Label_embedding/clip_sentence.py, or python clip_sentence.py inside Label_embedding/).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import defaults  # noqa: E402
from pipeline.flabel_stage import run_stage2  # noqa: E402

TASK = "captioning"  # the task whose labels are embedded (classification, captioning, ...)
DATASETS = []  # empty: the paper's datasets of TASK (--datasets a,b names others)
MODEL = "hf-hub:laion/CLIP-ViT-g-14-laion2B-s12B-b42K"  # the paper's CLIP; or a built-in name, or a folder
PRETRAINED = None  # open_clip pretrained tag for a built-in MODEL name (None with hf-hub: or a folder)
ENCODER_NAME = None  # name in the file names; None: from the model
BATCH_SIZE = 128  # texts per forward pass
DEVICE = defaults.DEVICE  # auto (CUDA when present, else CPU), cpu, cuda, cuda:1
RESULTS = defaults.RESULTS  # the store (default: the repository's results/)
DATA_ROOT = defaults.DATA_ROOT  # where datasets live (default: the repository's data/)
OVERWRITE = False  # make finished tables again

if __name__ == "__main__":
    sys.exit(run_stage2(globals(), backend="clip"))
