"""Stage 1 (text QA): features of extractive question-answering models on QA datasets.

For every QA dataset and every model, writes results/features/<dataset>/<model>_feature.npy (float32 (N, D): one
row per question, in the fixed order of pipeline.qa_data.load_qa, which stage 2's *_sentence.py --task tqa
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

Every constant below is also a flag: BATCH_SIZE -> --batch-size (the flag wins). Lists take a,b,c.
"""
import sys

from pipeline import cli, defaults
from pipeline.extract import run_stage1
from pipeline.qa_models import MAX_LENGTH as QA_MAX_LENGTH, STRIDE as QA_STRIDE

TASK = "tqa"
DATASETS = ["squad", "squad_v2"]  # QA datasets under DATA_ROOT (SQuAD v1.1 and v2.0, one folder each)
QA_FILE = None         # a SQuAD-format .json or a qa.jsonl table; replaces DATASETS
ZOO = "tqa"            # pre-trained BERT, RoBERTa, ALBERT, DeBERTa-v3, ELECTRA, DistilBERT (hub ids); "offline": MiniLM
MODELS = []            # model names under CHECKPOINT_DIR, folders or hub ids; empty: every model of ZOO
CHECKPOINT_DIR = None  # folder holding one save_pretrained folder per model: CHECKPOINT_DIR/<model>/
FEATURE = "span"       # span: mean of the answer's tokens; cls: the [CLS] state of the window holding the answer
MAX_LENGTH = QA_MAX_LENGTH  # tokens per window (question + context); lowered to what the model takes
STRIDE = QA_STRIDE     # tokens shared by consecutive windows of a long context
SPLIT = "train"        # SQuAD split: train or dev (or <split> of <split>.json); a qa.jsonl table has none
UNANSWERABLE = "drop"  # drop: leave SQuAD v2.0's unanswerable questions out; keep: keep them (docs/tqa.md)
MAX_SAMPLES = None     # None: all questions; N: the first N of the fixed order
BATCH_SIZE = 32
NUM_WORKERS = 4        # DataLoader worker processes (they tokenise)
DEVICE = defaults.DEVICE  # auto (CUDA when present, else CPU), cpu, cuda, cuda:1
AMP = False            # bf16 autocast
OVERWRITE = False      # redo models whose features exist
STRICT = False         # stop at the first unreadable question (default: skip it, say so, count it in the meta)
DATA_ROOT = defaults.DATA_ROOT  # datasets live in DATA_ROOT/<name>/ (default: the repository's data/)
RESULTS = defaults.RESULTS      # the store (default: the repository's results/, wherever the script runs from)

if __name__ == "__main__":
    task, args = cli.parse_task(globals(), __doc__)
    sys.exit(run_stage1(task, args))
