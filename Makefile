PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: venv test demo bench mutate

venv: $(VENV)/.installed

# The venv is made on first use and refreshed when the requirements change.
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

test: venv
	$(PY) -m pytest -q

# The whole pipeline offline on real weights and real images (see demo.sh and docs/demo.md; minutes on 2 cores).
demo: venv
	PY=$(PY) bash demo.sh

bench: venv
	$(PY) bench/bench_metrics.py --sizes S

# Mutation testing of metrics/ (slow: tens of minutes; not part of `make test`). Lists every surviving
# mutant and why it is accepted; exits 1 when a survivor is unexplained. See docs/metrics.md.
mutate: venv
	$(PY) tools/mutate.py
