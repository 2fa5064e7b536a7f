"""Stage 1b: features of the vision-transformer zoo on classification datasets.

For every dataset and every model, writes results/features/<dataset>/<model>_feature.npy (float32 (N, D):
the pooled penultimate vector the classifier head sees), <model>_label.npy, <model>_source_probs.npy (softmax
of the ImageNet head, where the model has one) and <model>_meta.json. Models already done are skipped.

    python forward_feature_ViT.py                                   # the paper's 13 transformers on its 11 datasets
    python forward_feature_ViT.py --datasets cifar10 --download     # one dataset, downloaded first if needed
    python forward_feature_ViT.py --zoo efficientnet_lite --dataset-dir path/to/images   # offline, ImageFolder
    python forward_feature_ViT.py --checkpoint-dir ckpts   # ckpts/pvt_tiny.pth ... mocov3_small.pth (not in timm)

Every setting is a flag (--help lists this script's, the stage's and the task's, with their defaults); assign
one below to change its default here.
"""
import sys

from pipeline import extract

TASK = "classification"
ZOO = "vit"            # the 13 transformers of the paper (PVT v1 and MoCo-v3 need CHECKPOINT_DIR)
BATCH_SIZE = 64

if __name__ == "__main__":
    sys.exit(extract.main(globals()))
