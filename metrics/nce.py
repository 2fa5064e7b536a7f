"""NCE: Negative Conditional Entropy (Tran, Nguyen, Hassner; ICCV 2019, "Transferability and Hardness of
Supervised Classification Tasks").

With Z the source model's hard prediction for each target sample and Y the target label, from the
empirical joint P(y, z) = (1/N) #{i : y_i = y, z_i = z} and P(z) = Σ_y P(y, z):

    NCE = -H(Y | Z) = Σ_{y,z} P(y, z) log( P(y, z) / P(z) )

NCE ≤ 0; it is 0 when the source prediction determines the target label, and -H(Y) when Z is independent
of Y (e.g. -log C for balanced classes).

``source_probs`` may be source-head probabilities / scores (N, Z), reduced to hard labels by argmax
(ties to the lowest source index, as numpy does), or already hard source labels (N,) of any integer
values. (The parameter is called ``source_probs`` in LEEP and NCE alike, the name the registry's
``source_probs+labels`` uses.)

Difference from published code: the PARC authors' implementation adds 1e-5 to every cell of the joint and
of the marginal before taking logs; here empty cells contribute exactly 0 (0 log 0 = 0), so the value is
the exact empirical conditional entropy.
"""
from __future__ import annotations

import numpy as np

from metrics._checks import as_features, as_labels


def nce(source_probs, labels) -> float:
    """Negative conditional entropy of target labels given source predictions. Higher is better."""
    source_labels = _as_source_labels(source_probs)
    targets, n_classes = as_labels(labels, len(source_labels))
    n_samples = len(targets)
    n_source = int(source_labels.max()) + 1
    joint = np.bincount(targets * n_source + source_labels,
                        minlength=n_classes * n_source).reshape(n_classes, n_source) / n_samples
    marginal = joint.sum(axis=0)
    filled = joint > 0
    conditional = joint[filled] / np.broadcast_to(marginal, joint.shape)[filled]
    return float(np.sum(joint[filled] * np.log(conditional)))


def _as_source_labels(source_probs) -> np.ndarray:
    """Hard source labels (remapped to 0..Z-1) from labels (N,) or probabilities/scores (N, Z)."""
    if np.ndim(source_probs) == 2:
        return np.argmax(as_features(source_probs, "source_probs"), axis=1)
    if np.ndim(source_probs) != 1:
        raise ValueError(f"source_probs must be source probabilities (N, Z) or hard source labels (N,), "
                         f"got shape {np.shape(source_probs)}")
    source_labels, _ = as_labels(source_probs, name="source_probs", min_classes=1)
    return source_labels
