"""Inputs, per-model statistics and normalisation of the zoo-relative metrics (NCTI, ETran)."""
from __future__ import annotations

import numpy as np

from metrics._checks import as_labels, check_samples_per_class
from metrics._stats import CellStatistics


def min_max(values: np.ndarray) -> np.ndarray:
    """(v - min) / (max - min) over the models; all zeros when every model has the same value."""
    spread = values.max() - values.min()
    return (values - values.min()) / spread if spread > 0 else np.zeros_like(values)


def combine(components_by_model: dict, weights: tuple[float, ...], metric: str) -> dict[str, float]:
    """{model: Σ_k w_k norm(v_k)} from {model: (v_1, ..., v_K)}, norm the :func:`min_max` over the models."""
    _check_zoo_size(len(components_by_model), metric)
    columns = np.array(list(components_by_model.values()), dtype=np.float64).T
    combined = sum(weight * min_max(column) for weight, column in zip(weights, columns))
    return {str(name): float(score) for name, score in zip(components_by_model, combined)}


def as_zoo(features_by_model, labels, metric: str) -> tuple[dict, np.ndarray, int]:
    """Validate {model: features (N, D_m)} (at least 2 models, same N) and shared labels. The models are returned
    as given (a numeric array is checked in row blocks, without a copy); :func:`each_model` gives their statistics
    one at a time, so that memory holds one model's float64 copy, not the whole zoo's (11 float64 copies of food's
    75,750 x 2048 features would take 10 GiB)."""
    if not isinstance(features_by_model, dict):
        raise ValueError(f"{metric} compares models: pass {{model name: features (N, D)}}, "
                         f"got {type(features_by_model).__name__}")
    _check_zoo_size(len(features_by_model), metric)
    zoo = {str(name): x for name, x in features_by_model.items()}
    n_samples = {name: stats.shape[0] for name, stats in each_model(zoo)}
    if len(set(n_samples.values())) > 1:
        raise ValueError(f"every model's features must describe the same samples; row counts differ: {n_samples}")
    targets, n_classes = as_labels(labels, next(iter(n_samples.values())))
    check_samples_per_class(targets, 2, metric)
    return zoo, targets, n_classes


def each_model(zoo: dict, labels=None):
    """(name, :class:`CellStatistics` of its features and ``labels``) of each model, one at a time: a model's
    float64 copy is made on first use and goes with its statistics."""
    for name, x in zoo.items():
        yield name, CellStatistics(x, labels, name=f"features_by_model[{name!r}]")


def _check_zoo_size(n_models: int, metric: str) -> None:
    if n_models < 2:
        raise ValueError(f"{metric} is relative to the zoo (min-max over models): it needs at least 2 models, "
                         f"got {n_models}")
