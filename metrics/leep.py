"""LEEP: Log Expected Empirical Prediction (Nguyen, Hassner, Seeger, Archambeau; ICML 2020).

Given the source head's softmax θ(x_i) over Z source classes and the target labels y_i (C classes):

    P(y, z) = (1/N) Σ_i θ(x_i)_z [y_i = y]          empirical joint of target label and source class
    P(z)    = Σ_y P(y, z)                           (= (1/N) Σ_i θ(x_i)_z)
    P(y|z)  = P(y, z) / P(z)
    LEEP    = (1/N) Σ_i log Σ_z P(y_i|z) θ(x_i)_z

LEEP ≤ 0; it is ~0 when the source head predicts the target label perfectly (one-hot, one source class
per target class) and ~log(1/C) when θ carries no information about y (balanced classes).

Differences from published code:
- The code shipped with EMMS and SFDA returns the mean of Σ_z P(y_i|z) θ(x_i)_z without the log; here the
  log is taken as in the paper (Eq. 2), as in the PARC authors' implementation.
- A source class that receives no probability mass at all (P(z) = 0) gets P(y|z) = 0 instead of 0/0;
  it cannot affect the score, since θ(x_i)_z = 0 for every sample.
"""
from __future__ import annotations

from metrics._checks import as_labels, as_probabilities
from metrics._leep import leep_from_validated


def leep(source_probs, labels) -> float:
    """LEEP of source-head probabilities (N, Z) for integer target labels (N,). Higher is better."""
    probs = as_probabilities(source_probs, name="source_probs")
    targets, n_classes = as_labels(labels, probs.shape[0])
    return leep_from_validated(probs, targets, n_classes)
