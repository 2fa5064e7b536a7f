"""Stage 1 (VQA): features of image-question models on visual question answering datasets.

For every dataset and every model, writes results/features/<dataset>/<model>_feature.npy (float32 (N, D): one
row per kept question, in the fixed order of pipeline.tasks.vqa.data.load_vqa, which stage 2 shares), <model>_label.npy
(int64 (N,): the index of the question's normalised answer in the class table), <model>_source_probs.npy (where
the model has a source head) and <model>_meta.json. Models already done are skipped.

    python forward_feature_vqa.py --dataset-dir data/mnist_pairs --image-size 64          # offline zoo
    python forward_feature_vqa.py --datasets vqav2 --split val --max-answers 3129 --max-samples 5000
    python forward_feature_vqa.py --datasets clevr --zoo vqa_transformers
    python forward_feature_vqa.py --dataset-dir my/questions.csv --models resnet50+minilm,my_vilt --checkpoint-dir ckpts

Candidates and their feature (docs/vqa.md, pipeline/tasks/vqa/models.py):
- IMAGE+TEXT dual encoders (zoo efficientnet_lite_minilm: efficientnet_lite0/1/2+minilm): the concatenation
  [pooled image feature ; mean-pooled question embedding], each as produced; one candidate per image depth;
- ViLT (ViltForQuestionAnswering): pooler_output, the input of its answer classifier; source probs: the softmax
  of the classifier's scores;
- BLIP (BlipForQuestionAnswering): the mean over the question's tokens of the image-conditioned question states.

Datasets live in DATA_ROOT/<name>/ (questions.csv/.tsv, CLEVR, VQA v2, COCO-QA, DAQUAR; see pipeline/tasks/vqa/data.py).

Every setting is a flag (--help lists this script's, the stage's and the task's, with their defaults); assign
one below to change its default here.
"""
import sys

from pipeline import extract

TASK = "vqa"
ZOO = "vqa_efficientnet_lite_minilm"  # offline dual encoders; vqa_transformers: ViLT and BLIP (hub ids)

if __name__ == "__main__":
    sys.exit(extract.main(globals()))
