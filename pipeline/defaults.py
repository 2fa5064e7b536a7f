"""One home for the defaults every stage script shares, resolved the same way wherever the script is run from.

``RESULTS`` and ``DATA_ROOT`` are absolute paths inside the repository, so ``python path/to/forward_feature_CNN.py``
from any working directory writes where ``python path/to/evaluate_metric_cls.py`` reads. A path given as a flag
(``--results out``) is the user's, and relative to the current directory as usual.

``DEVICE`` is spelled one way everywhere: ``"auto"`` (CUDA when present, else the CPU), or a torch device name
(``cpu``, ``cuda``, ``cuda:1``).
"""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "results"
DATA_ROOT = REPO_ROOT / "data"
DEVICE = "auto"

# The paper's datasets per task (EMMS, NeurIPS 2023, arXiv 2308.06262).
CLASSIFICATION_DATASETS = ("aircraft", "caltech101", "cars", "cifar10", "cifar100", "dtd", "flowers", "food", "pets",
                           "sun397", "voc2007")
CAPTIONING_DATASETS = ("flickr8k", "flickr30k", "RSICD", "flickr10kH", "flickr10kR")


def resolve_device(device: str | None) -> str:
    """'auto' (or None/'') -> 'cuda' when a GPU is present, else 'cpu'; any other name as it is."""
    if device in (None, "", "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)
