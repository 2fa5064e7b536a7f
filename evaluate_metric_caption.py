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

Every setting is a flag (--help lists this script's, the stage's and the task's, with their defaults); assign
one below to change its default here.
"""
import sys

from pipeline import evaluate

TASK = "captioning"
ZOO = "caption"        # the paper's nine captioners: their ground truth ships; names the tables


def main(argv=None) -> int:
    return evaluate.main(globals(), argv)


if __name__ == "__main__":
    sys.exit(main())
