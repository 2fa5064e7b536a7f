import os

# Tests never reach a model hub: a failed hub call would otherwise take ~30-50 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
