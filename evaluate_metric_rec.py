"""Stage 3 (referring expressions): score a zoo of grounding models with the metrics that take real-valued targets.

The targets are per-sample F-labels (stage 2): the gold box written as text ("x1=0.12 y1=0.40 x2=0.55 y2=0.98",
Label_embedding/*_sentence.py --task rec), the expression (--flabel-text expression) and the numeric box itself
(Label_embedding/box.py, encoder "box"); row i describes sample i, aligned with the features' rows. Metrics used
(those whose registry targets include "real"): EMMS with the list of per-sample F-labels of every encoder (its
weight per encoder is printed), LogME with regression=True on the encoders' F-labels side by side. The
class-label metrics are left out for the reason evaluate_metric_caption.py gives: a box has no class.

Ground truth: none ships for these zoos, so by default the models are ranked. --ground-truth FILE.json in the
format of data/ground_truth/*.json, with the measured Acc@0.5 (share of expressions whose predicted box has IoU
>= 0.5 with the gold box, after fine-tuning) per dataset and stored name, correlates the scores with it:

    {"zoo": "efficientnet_lite_minilm", "measure": {"refcoco": "Acc@0.5 (%)"},
     "finetune": {"refcoco": {"efficientnet_lite0_last_minilm": 61.2, "efficientnet_lite1_last_minilm": 63.0}}}

    python evaluate_metric_rec.py --dataset-dir my_refs --flabel-encoders all-MiniLM-L6-v2,box
    python evaluate_metric_rec.py --datasets refcoco --zoo grounding --ground-truth my_acc50.json

Every setting is a flag (--help lists this script's, the stage's and the task's, with their defaults); assign
one below to change its default here.
"""
import sys

from pipeline import evaluate

TASK = "rec"
ZOO = "efficientnet_lite_minilm"  # the default zoo: names the tables; its members are scored with --zoo


def main(argv=None) -> int:
    return evaluate.main(globals(), argv)


if __name__ == "__main__":
    sys.exit(main())
