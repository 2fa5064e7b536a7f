"""Stage 1c: features of image-captioning encoder-decoders on caption datasets.

For every caption dataset and every model, writes results/features/<dataset>/<model>_feature.npy (float32
(N, D): one row per (image, caption) pair, in the fixed order of pipeline.tasks.captioning.data.load_captions, which
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
DATA_ROOT/<name>/captions.csv; see pipeline/tasks/captioning/data.py for where to get Flickr8k, Flickr30k, RSICD, COCO.

Every setting is a flag (--help lists this script's, the stage's and the task's, with their defaults); assign
one below to change its default here.
"""
import sys

from pipeline import extract

TASK = "captioning"
ZOO = "caption"        # the paper's 9 ViT/Swin/SwinV2 x BERT/RoBERTa/BART fine-tunes (folders under CHECKPOINT_DIR)

if __name__ == "__main__":
    sys.exit(extract.main(globals()))
