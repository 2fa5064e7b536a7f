PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: venv test demo bench

venv: $(VENV)/.installed

# The venv is made on first use and refreshed when the requirements change.
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

test: venv
	$(PY) -m pytest -q

# The whole pipeline offline: EfficientNet-Lite0/1/2 (real ImageNet weights, 3 depths each) on two real image
# sets, F-labels from the bundled MiniLM, every metric, Kendall tables against data/ground_truth/efficientnet_lite.json
# (made by finetune.py on the same 400 training images per dataset, at the same 64 px). Finished work is skipped:
# delete $(DEMO_RESULTS) to start over.
DEMO_RESULTS := results/demo
DEMO_DATASETS := mnist5k,textiles,digits
DEMO_IMAGES := --image-size 64 --split train --max-samples 400

demo: venv
	@start=$$(date +%s) && \
	$(PY) forward_feature_CNN.py --zoo efficientnet_lite --datasets $(DEMO_DATASETS) $(DEMO_IMAGES) \
		--num-workers 0 --results $(DEMO_RESULTS) && \
	$(PY) Label_embedding/bert.py --datasets $(DEMO_DATASETS) --results $(DEMO_RESULTS) \
		--model "$$($(PY) -c 'from pipeline.flabels import minilm_path; print(minilm_path())')" && \
	$(PY) evaluate_metric_cls.py --zoo efficientnet_lite --datasets $(DEMO_DATASETS) --results $(DEMO_RESULTS) && \
	echo "make demo: the three stages took $$(( $$(date +%s) - start )) s; tables and plots in $(DEMO_RESULTS)/tables/"

bench: venv
	$(PY) bench/bench_metrics.py --sizes S
