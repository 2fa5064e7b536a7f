"""Stage 1 (referring expressions): features of grounding models and dual encoders on (image, expression, box) samples.

For every dataset and every model, writes results/features/<dataset>/<stored name>_feature.npy (float32 (N, D): one
row per sample, in the fixed order of pipeline.rec_data.load_refs, which stage 2 shares), <stored name>_label.npy
(int64 (N,): the image index of each sample) and <stored name>_meta.json. The feature is the model's
representation of the gold object joined with the expression's (pipeline/grounding_models.py, per family):

- OWL-ViT / OWLv2: [class embedding of the predicted box with the highest IoU with the gold box ; query embedding];
- Grounding DINO: [last decoder state of the best-IoU query ; fused text states averaged over the expression];
- efficientnet_lite{0,1,2}_minilm (offline): [EfficientNet-Lite map at one depth RoI-aligned in the gold box and
  averaged ; all-MiniLM-L6-v2 embedding of the expression], three stored names per network (early, mid, last).

    python forward_feature_rec.py --dataset-dir my_refs --zoo efficientnet_lite_minilm      # my_refs/refs.jsonl
    python forward_feature_rec.py --datasets refcoco --split-by unc --models google/owlvit-base-patch32
    python forward_feature_rec.py --dataset-dir my_refs --checkpoint-dir ckpts --models my_owl,my_dino

refs.jsonl: one JSON object a line, {"image": "img/a.jpg", "expression": "the red car", "bbox": [x, y, w, h],
"split": "train"} (pixels; split optional). RefCOCO/RefCOCO+/RefCOCOg: DATA_ROOT/<name>/refs(unc).p (or umd, google)
and instances.json from the refer toolkit, COCO train2014/ images. Bad rows are named, skipped and counted.

Every constant below is also a flag: BATCH_SIZE -> --batch-size (the flag wins). Lists take a,b,c.
"""
import sys

from pipeline import cli, defaults
from pipeline.extract import run_stage1
from pipeline.tasks.rec import REC_DATASETS

TASK = "rec"
DATASETS = list(REC_DATASETS)  # datasets under DATA_ROOT (refs.jsonl or the refer toolkit layout)
ZOO = "efficientnet_lite_minilm"  # efficientnet_lite_minilm (offline dual encoders) or grounding (hub ids)
MODELS = []            # model names: zoo members, folders under CHECKPOINT_DIR, folders or hub ids; empty: ZOO
CHECKPOINT_DIR = None  # folder holding one save_pretrained folder per grounding model: CHECKPOINT_DIR/<model>/
IMAGE_SIZE = None      # dual encoders: side of the resized whole image (None: the network's native size)
BATCH_SIZE = 16
NUM_WORKERS = 4        # DataLoader worker processes
DEVICE = defaults.DEVICE  # auto (CUDA when present, else CPU), cpu, cuda, cuda:1
AMP = False            # bf16 autocast
OVERWRITE = False      # redo models whose features exist
STRICT = False         # stop at the first unreadable sample (default: skip it, say so, count it in the meta)
DATA_ROOT = defaults.DATA_ROOT  # datasets live in DATA_ROOT/<name>/ (default: the repository's data/)
RESULTS = defaults.RESULTS      # the store (default: the repository's results/, wherever the script runs from)

if __name__ == "__main__":
    task, args = cli.parse_task(globals(), __doc__)
    sys.exit(run_stage1(task, args))
