"""Stage 3 (text QA): score a zoo of extractive question-answering models with the metrics that take real-valued
targets.

The targets are per-question answer F-labels (stage 2, e.g. Label_embedding/bert_sentence.py --task tqa): row i
is the text embedding of question i's gold answer, aligned with the features' rows. Metrics used (those whose
registry targets include "real"): EMMS with the list of per-sample F-labels of every encoder, and LogME with
regression=True (the encoders' F-labels side by side as real targets). The metrics defined on class labels
(TransRate, H-score, GBC, SFDA, N-LEEP, PARC, kNN, LEEP, NCE, NCTI, ETran) are left out, as for captioning: an
answer has no class.

No ground truth is shipped for text QA: without one, each metric's ranking of the models is printed (best first)
with the metrics' agreement. With --ground-truth FILE (the format of data/ground_truth/*.json, the measure being
the F1 of each model fine-tuned on the dataset), the correlations are printed instead::

    {"zoo": "tqa", "description": "...", "source": "my fine-tuning runs", "measure": {"squad": "F1 (0-100)"},
     "finetune": {"squad": {"bert-base-uncased": 88.5, "roberta-base": 91.2}}}

Example::

    python evaluate_metric_tqa.py --datasets squad --flabel-encoders all-MiniLM-L6-v2
    python evaluate_metric_tqa.py --dataset-dir my/qa.jsonl --models all-MiniLM-L6-v2,bert-base-uncased

Every setting is a flag (--help lists this script's, the stage's and the task's, with their defaults); assign
one below to change its default here.
"""
import sys

from pipeline import evaluate

TASK = "tqa"
ZOO = "tqa"           # the default zoo: names the tables; its members are scored with --zoo


def main(argv=None) -> int:
    return evaluate.main(globals(), argv)


if __name__ == "__main__":
    sys.exit(main())
