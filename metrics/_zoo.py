"""Inputs and normalisation of the zoo-relative metrics (NCTI, ETran)."""
from __future__ import annotations

import numpy as np

from metrics._checks import as_features, as_labels, check_samples_per_class


def min_max(values: np.ndarray) -> np.ndarray:
    """(v - min) / (max - min) over the models; all zeros when every model has the same value."""
    spread = values.max() - values.min()
    return (values - values.min()) / spread if spread > 0 else np.zeros_like(values)


def as_zoo(features_by_model, labels, metric: str) -> tuple[dict, np.ndarray, int]:
    """Validate {model: features (N, D_m)} (at least 2 models, same N) and shared labels. The models are returned
    as given; :func:`each_model` converts them to float64 one at a time, so that memory holds one model's copy,
    not the whole zoo's (11 float64 copies of food's 75,750 x 2048 features would take 10 GiB)."""
    if not isinstance(features_by_model, dict):
        raise ValueError(f"{metric} compares models: pass {{model name: features (N, D)}}, "
                         f"got {type(features_by_model).__name__}")
    if len(features_by_model) < 2:
        raise ValueError(f"{metric} is relative to the zoo (min-max over models): it needs at least 2 models, "
                         f"got {len(features_by_model)}")
    zoo = {str(name): x for name, x in features_by_model.items()}
    n_samples = {name: x.shape[0] for name, x in each_model(zoo)}
    if len(set(n_samples.values())) > 1:
        raise ValueError(f"every model's features must describe the same samples; row counts differ: {n_samples}")
    targets, n_classes = as_labels(labels, next(iter(n_samples.values())))
    check_samples_per_class(targets, 2, metric)
    return zoo, targets, n_classes


def each_model(zoo: dict):
    """(name, validated float64 features) of each model, converted one at a time."""
    for name, x in zoo.items():
        yield name, as_features(x, f"features_by_model[{name!r}]")
