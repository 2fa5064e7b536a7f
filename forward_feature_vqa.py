"""Stage 1 (VQA): features of image-question models on visual question answering datasets.

For every dataset and every model, writes results/features/<dataset>/<model>_feature.npy (float32 (N, D): one
row per kept question, in the fixed order of pipeline.vqa_data.load_vqa, which stage 2 shares), <model>_label.npy
(int64 (N,): the index of the question's normalised answer in the class table), <model>_source_probs.npy (where
the model has a source head) and <model>_meta.json. Models already done are skipped.

    python forward_feature_vqa.py --dataset-dir data/mnist_pairs --image-size 64          # offline zoo
    python forward_feature_vqa.py --datasets vqav2 --split val --max-answers 3129 --max-samples 5000
    python forward_feature_vqa.py --datasets clevr --zoo vqa_transformers
    python forward_feature_vqa.py --dataset-dir my/questions.csv --models resnet50+minilm,my_vilt --checkpoint-dir ckpts

Candidates and their feature (docs/vqa.md, pipeline/vqa_models.py):
- IMAGE+TEXT dual encoders (zoo efficientnet_lite_minilm: efficientnet_lite0/1/2+minilm): the concatenation
  [pooled image feature ; mean-pooled question embedding], each as produced; one candidate per image depth;
- ViLT (ViltForQuestionAnswering): pooler_output, the input of its answer classifier; source probs: the softmax
  of the classifier's scores;
- BLIP (BlipForQuestionAnswering): the mean over the question's tokens of the image-conditioned question states.

Datasets live in DATA_ROOT/<name>/ (questions.csv/.tsv, CLEVR, VQA v2, COCO-QA, DAQUAR; see pipeline/vqa_data.py).
Every constant below is also a flag: BATCH_SIZE -> --batch-size (the flag wins). Lists take a,b,c.
"""
import sys

from pipeline import cli, defaults
from pipeline.extract import run_stage1

TASK = "vqa"
DATASETS = []          # VQA datasets under DATA_ROOT (folders in any supported format)
DATASET_DIR = None     # a VQA folder or a questions .csv/.tsv table; replaces DATASETS
ZOO = "efficientnet_lite_minilm"  # efficientnet_lite_minilm (offline) or vqa_transformers (ViLT, BLIP from the hub)
MODELS = []            # IMAGE+TEXT dual encoders, VQA folders under CHECKPOINT_DIR, paths or hub ids; empty: ZOO's
CHECKPOINT_DIR = None  # folder of save_pretrained VQA models (CHECKPOINT_DIR/<model>/) and image weights <model>.pth
SPLIT = "train"        # train, val, test, ... (a table has none)
MAX_SAMPLES = None     # None: every question; N: the first N questions of the fixed order
MIN_ANSWER_COUNT = 1   # keep the answers given to at least this many questions (the others are dropped, counted)
MAX_ANSWERS = None     # None: every answer; N: the N most frequent (VQA v2 practice: 3129)
IMAGE_SIZE = None      # dual encoders: input side in pixels; None: the image model's own
PRETRAINED = True      # dual encoders: false = a random-init image model (tests)
BATCH_SIZE = 32
NUM_WORKERS = 4        # DataLoader worker processes
DEVICE = defaults.DEVICE  # auto (CUDA when present, else CPU), cpu, cuda, cuda:1
AMP = False            # bf16 autocast
OVERWRITE = False      # redo models whose features exist
STRICT = False         # stop at the first unreadable sample (default: skip it, say so, count it in the meta)
DATA_ROOT = defaults.DATA_ROOT  # datasets live in DATA_ROOT/<name>/ (default: the repository's data/)
RESULTS = defaults.RESULTS      # the store (default: the repository's results/, wherever the script runs from)

if __name__ == "__main__":
    task, args = cli.parse_task(globals(), __doc__, types={"IMAGE_SIZE": int, "MAX_SAMPLES": int, "MAX_ANSWERS": int})
    sys.exit(run_stage1(task, args))
