"""Stage 3 (VQA): score a zoo of VQA candidates with every classification metric.

Each distinct normalised answer is a class: EMMS gets the class tables of the answer vocabulary (stage 2:
Label_embedding/bert.py --task vqa, clip.py, gpt2.py) and the answer indices; LogME, TransRate, H-score, GBC,
SFDA, N-LEEP, PARC, kNN, NCTI and ETran the answer indices; LEEP and NCE run where source probabilities are stored
(ViLT's answer classifier, the ImageNet head of a dual encoder's image model). Without a ground truth the models are
ranked per metric and the metrics' agreement printed; --ground-truth FILE (the format of data/ground_truth/*.json,
"measure": "VQA accuracy (%)", "finetune": {dataset: {model: accuracy}}) correlates the scores with it. Examples::

    python evaluate_metric_vqa.py --dataset-dir data/mnist_pairs
    python evaluate_metric_vqa.py --datasets vqav2 --zoo vqa_transformers --ground-truth my_vqa_accuracy.json

Every setting is a flag (--help lists this script's, the stage's and the task's, with their defaults); assign
one below to change its default here.
"""
import sys

from pipeline import evaluate

TASK = "vqa"
ZOO = "efficientnet_lite_minilm"  # the default zoo: names the tables; its members are scored with --zoo


def main(argv=None) -> int:
    return evaluate.main(globals(), argv)


if __name__ == "__main__":
    sys.exit(main())
