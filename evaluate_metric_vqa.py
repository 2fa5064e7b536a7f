"""Stage 3 (VQA): score a zoo of VQA candidates with every classification metric.

Each distinct normalised answer is a class: EMMS gets the class tables of the answer vocabulary (stage 2:
Label_embedding/bert.py --task vqa, clip.py, gpt2.py) and the answer indices; LogME, TransRate, H-score, GBC,
SFDA, N-LEEP, PARC, kNN, NCTI and ETran the answer indices; LEEP and NCE run where source probabilities are stored
(ViLT's answer classifier, the ImageNet head of a dual encoder's image model). Without a ground truth the models are
ranked per metric and the metrics' agreement printed; --ground-truth FILE (the format of data/ground_truth/*.json,
"measure": "VQA accuracy (%)", "finetune": {dataset: {model: accuracy}}) correlates the scores with it. Examples::

    python evaluate_metric_vqa.py --dataset-dir data/mnist_pairs
    python evaluate_metric_vqa.py --datasets vqav2 --zoo vqa_transformers --ground-truth my_vqa_accuracy.json
"""
import sys

from pipeline import cli, defaults, evaluate

ZOO = "efficientnet_lite_minilm"  # a VQA zoo (efficientnet_lite_minilm, vqa_transformers) or any name
DATASETS = []                 # datasets as stage 1 named them; empty: every dataset of the ground truth
MODELS = []                   # stored names; empty: the zoo's (its ground truth's, else its list, else those stored)
METRICS = []                  # empty: emms and every baseline the stored inputs allow (leep/nce: source probs)
FLABEL_ENCODERS = []          # F-label encoders for EMMS; empty: every encoder with class F-labels for the dataset
GROUND_TRUTH = None           # a ground-truth JSON of VQA accuracies (format of data/ground_truth/*.json)
DATASET_DIR = None            # your own dataset, by the path stage 1 read it from (named as stage 1 named it)
RESULTS = defaults.RESULTS    # the results folder every stage reads and writes (default: the repository's)
OVERWRITE = False             # re-score cells that are already scored
DEVICE = "cpu"                # cpu, auto, cuda: where metrics that accept a device (emms, logme, ...) run
METRIC_OPTIONS = {}           # JSON {metric: {keyword: value}}, e.g. '{"emms": {"ridge": 40}}' when N <= D


def main(argv=None) -> int:
    return evaluate.main("vqa", cli.parse(globals(), __doc__, argv))


if __name__ == "__main__":
    sys.exit(main())
