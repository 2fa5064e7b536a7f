"""Stage 1 (text QA): features of extractive question-answering models on QA datasets.

For every QA dataset and every model, writes results/features/<dataset>/<model>_feature.npy (float32 (N, D): one
row per question, in the fixed order of pipeline.tasks.tqa.data.load_qa, which stage 2's *_sentence.py --task tqa
shares), <model>_label.npy (int64 (N,): the index of each question's context) and <model>_meta.json. The feature
of a question (FEATURE = "span") is the last layer's hidden state averaged over the gold answer's tokens, in the
first window of (question, context) that holds the whole answer (windows of MAX_LENGTH tokens overlapping by
STRIDE, as SQuAD fine-tuning cuts a long context); FEATURE = "cls": the [CLS] state of that window. Models already
done are skipped. A question that cannot be read (its answer in no single window, a question longer than a
window) is named, skipped and counted in the meta.

    python forward_feature_tqa.py --models all-MiniLM-L6-v2 --qa-file my/qa.jsonl   # offline: the bundled encoder
    python forward_feature_tqa.py --datasets squad --split dev --models bert-base-uncased,roberta-base
    python forward_feature_tqa.py --checkpoint-dir ckpts --models my_bert_qa,my_roberta_qa --datasets squad_v2

Datasets: DATA_ROOT/<name>/ holding SQuAD's train-v1.1.json / dev-v1.1.json / train-v2.0.json / dev-v2.0.json
(one version a folder, e.g. squad/ and squad_v2/), a <split>.json in SQuAD's format, or a qa.jsonl table of
{"context", "question", "answer"[, "answer_start", "id"]} lines; see docs/tqa.md.

Every setting is a flag (--help lists this script's, the stage's and the task's, with their defaults); assign
one below to change its default here.
"""
import sys

from pipeline import extract

TASK = "tqa"
ZOO = "tqa"            # BERT, RoBERTa, ALBERT, DeBERTa-v3, ELECTRA, DistilBERT (hub ids); tqa_offline: MiniLM

if __name__ == "__main__":
    sys.exit(extract.main(globals()))
