"""Stage 2: F-labels of captions from the CLIP text tower (open_clip, projected text features).

Writes results/flabels/<dataset>/<encoder>_caption.npy (pairs x width) and <encoder>_meta.json: row i
embeds caption i in the fixed order of pipeline.captions.load_captions, the order stage 1c stores
features in (use the same SPLIT, MAX_PER_IMAGE and MAX_SAMPLES there).
MODEL: 'hf-hub:org/repo', a built-in open_clip name with a PRETRAINED tag (ViT-B-32 + laion2b_s34b_b79k),
or a local folder with open_clip_config.json and weights (offline).
Run from the repository root (python Label_embedding/clip_sentence.py)
or from Label_embedding/ (python clip_sentence.py).
"""
import sys
from pathlib import Path

repo_root = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(repo_root))

from pipeline.flabel_stage import run_caption_stage  # noqa: E402

DATASETS = ["flickr8k", "flickr30k", "RSICD", "flickr10kH", "flickr10kR"]  # the paper's caption datasets
MODEL = "hf-hub:laion/CLIP-ViT-g-14-laion2B-s12B-b42K"  # the paper's CLIP; or a built-in name, or a folder
PRETRAINED = None  # open_clip pretrained tag for a built-in MODEL name (None with hf-hub: or a folder)
ENCODER_NAME = None  # name in the file names; None: from the model
BATCH_SIZE = 128  # texts per forward pass
DEVICE = None  # cuda when present, else cpu
RESULTS = repo_root / "results"  # the store
DATA_ROOT = repo_root / "data"  # where datasets live
CAPTION_FILE = None  # a .csv/.tsv of (image path, caption) rows instead of DATASETS (named after its stem)
SPLIT = None  # caption split: train, val, test, restval or all (None: train)
MAX_PER_IMAGE = None  # keep each image's first captions (None: all)
MAX_SAMPLES = None  # keep the first pairs (None: all)
OVERWRITE = False  # make finished tables again

if __name__ == "__main__":
    sys.exit(run_caption_stage(globals(), backend="clip"))
