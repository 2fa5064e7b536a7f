"""Stage 1a: features of the CNN zoo on classification datasets.

For every dataset and every model, writes results/features/<dataset>/<model>_feature.npy (float32 (N, D):
the pooled penultimate vector the classifier head sees), <model>_label.npy, <model>_source_probs.npy (softmax
of the ImageNet head, where the model has one) and <model>_meta.json. Models already done are skipped.

    python forward_feature_CNN.py                                   # the paper's 11 CNNs on its 11 datasets
    python forward_feature_CNN.py --datasets cifar10 --download     # one dataset, downloaded first if needed
    python forward_feature_CNN.py --zoo efficientnet_lite --dataset-dir path/to/images   # offline, ImageFolder
    python forward_feature_CNN.py --zoo efficientnet_lite --datasets mnist5k --max-samples 500

Every constant below is also a flag: BATCH_SIZE -> --batch-size (the flag wins). Lists take a,b,c.
"""
import sys

from pipeline import cli, defaults
from pipeline.extract import run_stage1

TASK = "classification"
DATASETS = list(defaults.CLASSIFICATION_DATASETS)  # the paper's 11; offline: mnist5k, textiles, digits
DATASET_DIR = None     # a folder in ImageFolder layout (one sub-folder per class); replaces DATASETS
ZOO = "cnn_supervised"  # cnn_supervised, vit or efficientnet_lite
MODELS = []            # model names (zoo members, torchvision or timm names); empty: every model of ZOO
SPLIT = None           # None: the training data (train+val where there is a val split); e.g. test
IMAGE_SIZE = None      # input side in pixels; None: each model's own (299 for Inception-v3)
MAX_SAMPLES = None     # None: all; N: a fixed stratified first-k subset (classes take turns), recorded in meta
BATCH_SIZE = 64
NUM_WORKERS = 4        # DataLoader worker processes
DEVICE = defaults.DEVICE  # auto (CUDA when present, else CPU), cpu, cuda, cuda:1
AMP = False            # bf16 autocast
OVERWRITE = False      # redo models whose features exist
STRICT = False         # stop at the first unreadable sample (default: skip it, say so, count it in the meta)
DOWNLOAD = False       # download missing datasets (sizes are printed first)
PRETRAINED = True      # false: random init (tests)
CHECKPOINT_DIR = None  # folder of local weights <model>.pth (needed for PVT v1 and MoCo-v3; else the hub)
DATA_ROOT = defaults.DATA_ROOT  # datasets live in DATA_ROOT/<name>/ (default: the repository's data/)
RESULTS = defaults.RESULTS      # the store (default: the repository's results/, wherever the script runs from)

if __name__ == "__main__":
    task, args = cli.parse_task(globals(), __doc__, types={"IMAGE_SIZE": int})
    sys.exit(run_stage1(task, args))
