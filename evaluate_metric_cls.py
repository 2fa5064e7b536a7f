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
"""
import sys

from pipeline import cli, defaults, evaluate

ZOO = "cnn_supervised"        # a zoo of data/ground_truth/ (cnn_supervised, vit, logme_zoo, ...) or any name
DATASETS = []                 # datasets as stage 1 named them; empty: every dataset of the zoo's ground truth
MODELS = []                   # empty: the zoo's (its ground truth's, else stage 1's list, else those stored)
METRICS = []                  # empty: emms and every baseline the stored inputs allow (leep/nce: source probs)
FLABEL_ENCODERS = []          # F-label encoders for EMMS; empty: every encoder with class F-labels for the dataset
GROUND_TRUTH = None           # your own ground-truth JSON (format of data/ground_truth/*.json); none: the zoo's
DATASET_DIR = None            # your own dataset, by the path stage 1 read it from (named as stage 1 named it)
RESULTS = defaults.RESULTS    # the results folder every stage reads and writes (default: the repository's)
OVERWRITE = False             # re-score cells that are already scored
DEVICE = "cpu"                # cpu, auto, cuda: where metrics that accept a device (emms, logme, ...) run
METRIC_OPTIONS = {}           # JSON {metric: {keyword: value}}, e.g. '{"emms": {"ridge": 40}}' when N <= D
FEATURE_DIM = None            # None: features as stored (the paper); D: each candidate reduced by PCA to width D
JOBS = 1                      # cells scored at once in worker processes (BLAS threads shared out over the cores)


def main(argv=None) -> int:
    return evaluate.main("classification", cli.parse(globals(), __doc__, argv, types={"FEATURE_DIM": int}))


if __name__ == "__main__":
    sys.exit(main())
