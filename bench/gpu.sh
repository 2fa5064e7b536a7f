#!/usr/bin/env bash
# Times the grid's dense metrics on a GPU and stage 1's throughput, in one run, for when a GPU is at hand.
#
# NOT YET RUN ON A GPU: written in a session without one (2026-12-01). Run it once on a CUDA machine, then
# commit what it writes under bench/results/ (and fix this header).
#
#     bash bench/gpu.sh            # from the repository root; PYTHON=... to pick the interpreter
#
# 1. `nvidia-smi` and torch's view of the device (what the numbers were measured on).
# 2. The full grid (11 datasets x 11 CNNs, real shapes) for the dense metrics (EMMS, LogME, H-score,
#    regularised H-score, TransRate) with device="cuda": float64, then float32 products. The CPU-side floor
#    (one numpy float64 XᵀX per cell) is timed beside them, so the two tables say what the GPU buys.
# 3. The whole grid, every metric, each cell through one metrics.score_cell with device="cuda" (issue 26's
#    target: under 60 s on one H200). Only the dense statistics run on the GPU; N-LEEP's EM (sklearn), SFDA,
#    PARC's sort, kNN and the zoo metrics stay on the CPU, so expect their CPU time on top.
# 4. Stage 1: images/s of ResNet-50 and EfficientNet-Lite0 at 224 px, batch 64, float32 and bf16 autocast.
# Every step writes its own file; a failing step is reported and the next one still runs.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
STAMP=$(date -u +%Y-%m-%d)
OUT=bench/results
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1

{ nvidia-smi; "$PYTHON" -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"; } \
    > "$OUT/$STAMP-gpu-device.txt" 2>&1 || echo "no CUDA device visible: see $OUT/$STAMP-gpu-device.txt"

DENSE=emms,logme,hscore,reg_hscore,transrate
for precision in float64 float32; do
    "$PYTHON" bench/bench_grid.py --metrics "$DENSE" --device cuda --precision "$precision" \
        --reference-max-n 0 --out "$OUT/$STAMP-grid-gpu-$precision.md" \
        || echo "grid on cuda ($precision) failed"
done

"$PYTHON" bench/bench_grid.py --score-cell --device cuda --out "$OUT/$STAMP-grid-gpu-score-cell.md" \
    || echo "whole grid through score_cell on cuda failed"

for model in resnet50 efficientnet_lite0; do
    for amp in false true; do
        "$PYTHON" bench/bench_extract.py --model "$model" --device cuda --amp "$amp" --batch-size 64 \
            --batches 20 --warmup 3 || echo "stage 1 $model amp=$amp failed"
    done
done 2>&1 | grep -v "img/s]" | tee "$OUT/$STAMP-extract-gpu.txt"
