"""Stage 2 (referring expressions): the numeric F-label of each sample's gold box, no model.

Row i is (x1/W, y1/H, x2/W, y2/H): the corners of sample i's box divided by its image's width and height, in the
fixed order stage 1 stores features in (use the same dataset settings there). Writes
results/flabels/<dataset>/box_sample.npy (samples x 4) and box_meta.json with the data identity stage 3 checks, so
EMMS can weigh this geometric F-label with the text F-labels of Label_embedding/*_sentence.py --task rec:

    python Label_embedding/box.py --dataset-dir my_refs
    python Label_embedding/bert_sentence.py --task rec --dataset-dir my_refs --model minilm

The task's dataset settings are flags too (--help lists them). Runs from any directory.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.flabels.box import run_box_flabels  # noqa: E402

TASK = "rec"  # the task whose boxes are written (only rec has boxes)

if __name__ == "__main__":
    sys.exit(run_box_flabels(globals()))
