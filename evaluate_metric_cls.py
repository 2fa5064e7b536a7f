"""Stage 3 (classification): score a zoo's features with transferability metrics and compare with fine-tuning.

Reads the features and labels of stage 1 and the class F-labels of stage 2 from the results folder, runs every
metric on every (dataset, model), records the scores (results/scores/), and prints and writes (results/tables/):

- per metric, a row per dataset: weighted Kendall tau in both conventions, Kendall tau-b, Pearson, Rel@1, Rel@3
  and seconds, and a mean row; one summary of datasets x metrics (headline: scipy.stats.weightedtau(score,
  fine-tuned), the convention of SFDA and EMMS); a scatter plot per dataset (score against fine-tuned result);
- for a dataset without a ground truth (your own data): the models ranked by each metric, and how much the
  metrics agree with each other.

Finished cells are skipped on a re-run (--overwrite true re-scores them). Examples::

    python evaluate_metric_cls.py                                       # the paper's zoo and datasets
    python evaluate_metric_cls.py --datasets cifar10 --metrics emms,logme
    python evaluate_metric_cls.py --dataset-dir ~/data/my_flowers       # which model should I fine-tune?

Every setting is a flag (--help lists this script's, the stage's and the task's, with their defaults); assign
one below to change its default here.
"""
import sys

from pipeline import evaluate

TASK = "classification"
ZOO = "cnn_supervised"  # the paper's zoo: its ground truth ships (data/ground_truth/); names the tables


def main(argv=None) -> int:
    return evaluate.main(globals(), argv)


if __name__ == "__main__":
    sys.exit(main())
