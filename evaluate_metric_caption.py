"""Stage 3 (captioning): score a zoo of image-captioning models with the metrics that take real-valued targets.

The targets are per-sample caption F-labels (stage 2, e.g. Label_embedding/bert_sentence.py): row i is the
text embedding of the caption of sample i, aligned with the features' rows. Metrics used (those whose registry
targets include "real"):

- EMMS with the list of per-sample F-labels of every encoder;
- LogME with regression=True, the encoders' F-labels side by side as real targets.

Left out on purpose: TransRate, H-score, GBC, SFDA, N-LEEP, PARC, kNN, LEEP, NCE, NCTI and ETran are defined on
class labels (class means, class covariances, class-conditional probabilities); a caption has no class, and
binning its embedding into clusters would make the score depend on an arbitrary clustering, so their caption
variants are not well-defined. The published EMMS captioning experiments use EMMS and LogME only.

Prints and writes the same tables and plots as evaluate_metric_cls.py (ground truth: data/ground_truth/caption.json,
BLEU-4). Example::

    python evaluate_metric_caption.py --datasets flickr8k --flabel-encoders bert_sentence
"""
import sys

from pipeline import cli, defaults, evaluate

ZOO = "caption"               # captioning zoo; its ground truth is data/ground_truth/caption.json
DATASETS = []                 # caption datasets as stage 1 named them; empty: every dataset of the ground truth
MODELS = []                   # empty: the zoo's (its ground truth's, else stage 1's list, else those stored)
METRICS = []                  # empty: every metric that takes real-valued targets (emms, logme)
FLABEL_ENCODERS = []          # F-label encoders; empty: every encoder with caption F-labels for the dataset
GROUND_TRUTH = None           # your own ground-truth JSON (format of data/ground_truth/*.json); none: the zoo's
DATASET_DIR = None            # your own dataset, by the path stage 1 read it from (named as stage 1 named it)
RESULTS = defaults.RESULTS    # the results folder every stage reads and writes (default: the repository's)
OVERWRITE = False             # re-score cells that are already scored
DEVICE = "cpu"                # cpu, auto, cuda: where metrics that accept a device (emms, logme, ...) run
METRIC_OPTIONS = {}           # JSON {metric: {keyword: value}}, e.g. '{"emms": {"ridge": 40}}' when N <= D
FEATURE_DIM = None            # None: features as stored (the paper); D: each candidate reduced by PCA to width D
JOBS = 1                      # cells scored at once in worker processes (BLAS threads shared out over the cores)


def main(argv=None) -> int:
    return evaluate.main("captioning", cli.parse(globals(), __doc__, argv, types={"FEATURE_DIM": int}))


if __name__ == "__main__":
    sys.exit(main())
