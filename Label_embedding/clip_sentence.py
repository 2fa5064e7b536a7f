"""Stage 2: F-labels of one text per sample (a caption, an answer, a box) from CLIP's text tower.

Writes results/flabels/<dataset>/<encoder>_sample.npy (samples x width) and <encoder>_meta.json, in the order stage
1 stores features in (use the same dataset settings there). TASK (or --task) picks the task (captioning, tqa, rec).
Every setting is a flag (--help lists this script's, the stage's and the task's). Offline: --model a local open_clip
folder; or bert.py --model minilm. Runs from any directory.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.flabels.stage import run_stage2  # noqa: E402

TASK = "captioning"
MODEL = "hf-hub:laion/CLIP-ViT-g-14-laion2B-s12B-b42K"  # the paper's CLIP; or a built-in name, or a folder
PRETRAINED = None  # open_clip pretrained tag for a built-in MODEL name (None with hf-hub: or a folder)

if __name__ == "__main__":
    sys.exit(run_stage2(globals(), backend="clip"))
