"""Stage 1 (referring expressions): features of grounding models and dual encoders on (image, expression, box) samples.

For every dataset and every model, writes results/features/<dataset>/<stored name>_feature.npy (float32 (N, D): one
row per sample, in the fixed order of pipeline.tasks.rec.data.load_refs, which stage 2 shares), <stored name>_label.npy
(int64 (N,): the image index of each sample) and <stored name>_meta.json. The feature is the model's
representation of the gold object joined with the expression's (pipeline/tasks/rec/models.py, per family):

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

Every setting is a flag (--help lists this script's, the stage's and the task's, with their defaults); assign
one below to change its default here.
"""
import sys

from pipeline import extract

TASK = "rec"
ZOO = "rec_efficientnet_lite_minilm"  # offline dual encoders; grounding: OWL-ViT, OWLv2, Grounding DINO (hub ids)
BATCH_SIZE = 16

if __name__ == "__main__":
    sys.exit(extract.main(globals()))
