"""Stage 1c: features of image-captioning encoder-decoders on caption datasets.

For every caption dataset and every model, writes results/features/<dataset>/<model>_feature.npy (float32
(N, D): one row per (image, caption) pair, in the fixed order of pipeline.captions.load_captions, which
stage 2's *_sentence.py scripts share), <model>_label.npy (int64 (N,): the image index of each pair) and
<model>_meta.json. The feature of a pair is the last decoder layer's hidden state, with the caption fed by
teacher forcing, averaged over the caption's real tokens (FEATURE = "encoder": the mean of the image
tokens the decoder attends to). Models already done are skipped.

    python forward_feature_caption.py --checkpoint-dir ckpts      # the paper's 9 models: ckpts/vit_bert/ ... (private)
    python forward_feature_caption.py --models nlpconnect/vit-gpt2-image-captioning --datasets flickr8k
    python forward_feature_caption.py --caption-file my/captions.csv --models path/to/model1,path/to/model2

A caption file is a .csv (or .tsv) of rows "image path,caption" (image paths relative to the file's
folder; an optional header row such as "image,caption"); its dataset is named after the file's stem.
Datasets: DATA_ROOT/<name>/dataset_<name>.json (Karpathy split file) with the images, or
DATA_ROOT/<name>/captions.csv; see pipeline/captions.py for where to get Flickr8k, Flickr30k, RSICD, COCO.

Every constant below is also a flag: BATCH_SIZE -> --batch-size (the flag wins). Lists take a,b,c.
"""
import sys

from pipeline import cli, defaults
from pipeline.extract import run_stage1

TASK = "captioning"
DATASETS = list(defaults.CAPTIONING_DATASETS)  # caption datasets under DATA_ROOT
CAPTION_FILE = None    # a .csv/.tsv of (image path, caption) rows; replaces DATASETS (named after its stem)
ZOO = "caption"        # the paper's 9 ViT/Swin/SwinV2 x BERT/RoBERTa/BART fine-tunes (folders under CHECKPOINT_DIR)
MODELS = []            # checkpoint names under CHECKPOINT_DIR, folders or hub ids; empty: every model of ZOO
CHECKPOINT_DIR = None  # folder holding one save_pretrained folder per model: CHECKPOINT_DIR/<model>/
FEATURE = "decoder"    # decoder: teacher-forced decoder states over the caption; encoder: mean of image tokens
LOWERCASE = True       # lower-case captions for the decoder (the paper's models were fine-tuned on lower case)
SPLIT = "train"        # train, val, test, restval or all (Karpathy splits; a .csv/.tsv table has none)
MAX_PER_IMAGE = None   # None: every caption of an image (Karpathy: 5); N: the first N
MAX_SAMPLES = None     # None: all pairs; N: the first N pairs of the fixed order
BATCH_SIZE = 32
NUM_WORKERS = 4        # DataLoader worker processes
DEVICE = defaults.DEVICE  # auto (CUDA when present, else CPU), cpu, cuda, cuda:1
AMP = False            # bf16 autocast
OVERWRITE = False      # redo models whose features exist
STRICT = False         # stop at the first unreadable sample (default: skip it, say so, count it in the meta)
DATA_ROOT = defaults.DATA_ROOT  # datasets live in DATA_ROOT/<name>/ (default: the repository's data/)
RESULTS = defaults.RESULTS      # the store (default: the repository's results/, wherever the script runs from)

if __name__ == "__main__":
    task, args = cli.parse_task(globals(), __doc__)
    sys.exit(run_stage1(task, args))
