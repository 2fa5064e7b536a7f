"""How well a transferability metric's scores agree with fine-tuning results.

For a zoo of M models with scores s_m and fine-tuned results t_m (the ground truth):

- ``weighted_tau``: ``scipy.stats.weightedtau(s, t)``, Vigna's weighted Kendall tau with hyperbolic weights
  1/(r+1), where r is the rank of an element by decreasing score (``rank=True``: the weight of a pair is the
  sum of both rankings' weights, the average of weighting by s and by t). The convention of SFDA (ECCV 2022),
  NCTI, ETran and EMMS (NeurIPS 2023), and this project's headline number.
- ``weighted_tau_truth_ranked``: ``scipy.stats.weightedtau(t, s, rank=None)``: the weights come from the
  true ranking alone (the convention of Model Spider, NeurIPS 2023). On the same scores the two differ
  by up to ~0.29, so both are reported.
- ``kendall_tau``: Kendall tau-b (ties counted), ``pearson``: Pearson's r of the raw values.
- ``rel1``, ``rel3``: Rel@k = max{t_m : m among the k best-scored models} / max_m t_m, i.e. how much of the
  best achievable result one keeps by fine-tuning the metric's top k (Rel@1 = 1: the top pick is the best).

Ties: scores equal to within a relative ``TIE_RTOL`` = 1e-9 (e.g. H-score saturating at C-1 as 9.0,
8.999999999999998 and 9.000000000000002) are the same score here (:func:`snap_ties`): rankings list them in name
order, and every correlation sees them as ties (Kendall tau-b and scipy's weighted tau both count ties), so no
table depends on the BLAS thread count's rounding. Scores within an absolute ``TIE_ATOL`` = 1e-12 of each other
tie too: rounding noise around zero (EMMS's exact fit at N <= D gives 0, -0.0 and -3.6e-16) has no relative
scale, and no metric here tells models apart by 1e-12.

Deliberate differences from the published scripts: the published code correlates lists in dict order (and
some weight Pearson by it); here models are matched by name and sorted, so the result does not depend on the
order anything was stored in. A correlation that is undefined (constant scores or results) is NaN, as is
Rel@k where the best true result is not positive (negated errors: a ratio of negatives has no meaning).
"""
from __future__ import annotations

import math
import warnings
from typing import Mapping

import numpy as np
from scipy import stats

CORRELATION_KEYS = ("weighted_tau", "weighted_tau_truth_ranked", "kendall_tau", "pearson", "rel1", "rel3")
MIN_MODELS = 3
TIE_RTOL = 1e-9
TIE_ATOL = 1e-12


def snap_ties(values: np.ndarray, rtol: float = TIE_RTOL, atol: float = TIE_ATOL) -> np.ndarray:
    """A copy of `values` in which each run of values that differ from their sorted neighbour by at most
    `rtol` times their magnitude, or by at most `atol`, takes the run's smallest value (a tie)."""
    values = np.asarray(values, dtype=np.float64)
    snapped = values.copy()
    order = np.argsort(values, kind="stable")
    anchor = values[order[0]] if len(values) else 0.0
    for previous, current in zip(order[:-1], order[1:]):
        a, b = values[previous], values[current]
        if abs(b - a) > max(rtol * max(abs(a), abs(b)), atol):
            anchor = b
        snapped[current] = anchor
    return snapped


def paired(scores: Mapping[str, float], truth: Mapping[str, float]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(models, scores, truths) on the models both mappings hold, sorted by name; ValueError if < 3 or not finite."""
    models = sorted(set(scores) & set(truth))
    if len(models) < MIN_MODELS:
        raise ValueError(f"a correlation needs at least {MIN_MODELS} models with both a score and a ground truth; "
                         f"got {len(models)} ({', '.join(models) or 'none'}): scores for {sorted(scores)}, "
                         f"ground truth for {sorted(truth)}")
    s = np.array([scores[m] for m in models], dtype=np.float64)
    t = np.array([truth[m] for m in models], dtype=np.float64)
    for name, values in (("score", s), ("ground truth", t)):
        bad = [m for m, v in zip(models, values) if not np.isfinite(v)]
        if bad:
            raise ValueError(f"{name} is not a finite number for model(s) {bad}")
    return models, snap_ties(s), snap_ties(t)


def correlate(scores: Mapping[str, float], truth: Mapping[str, float]) -> dict[str, float]:
    """{key: value} for every key of CORRELATION_KEYS, on the models both `scores` and `truth` hold."""
    _, s, t = paired(scores, truth)
    with warnings.catch_warnings():  # constant input: scipy warns and returns NaN, which is what we report
        warnings.simplefilter("ignore")
        result = {
            "weighted_tau": stats.weightedtau(s, t).statistic,
            "weighted_tau_truth_ranked": stats.weightedtau(t, s, rank=None).statistic,
            "kendall_tau": stats.kendalltau(s, t).statistic,
            "pearson": _pearson(s, t),
            "rel1": relative_best(s, t, 1),
            "rel3": relative_best(s, t, 3),
        }
    return {key: float(value) for key, value in result.items()}


def _pearson(s: np.ndarray, t: np.ndarray) -> float:
    if np.ptp(s) == 0 or np.ptp(t) == 0:
        return math.nan
    return float(stats.pearsonr(s, t).statistic)


def relative_best(s: np.ndarray, t: np.ndarray, k: int) -> float:
    """Rel@k: best true result among the k best-scored models over the best true result overall.
    Ties in score are broken by the order of the (sorted) models, stably."""
    best = t.max()
    if best <= 0:
        return math.nan
    top = np.argsort(-s, kind="stable")[:k]
    return float(t[top].max() / best)


def ranking(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """[(model, score)] best first; ties (within TIE_RTOL) in name order."""
    models = sorted(scores)
    snapped = dict(zip(models, snap_ties(np.array([scores[m] for m in models], dtype=np.float64))))
    return sorted(scores.items(), key=lambda item: (-snapped[item[0]], item[0]))


def all_tied(scores: Mapping[str, float]) -> bool:
    """Whether every score ties with every other (within TIE_RTOL): a metric that tells no model apart."""
    return len(set(snap_ties(np.array(list(scores.values()), dtype=np.float64)))) == 1


def ties_another(ranking: list[tuple[str, float]], index: int) -> bool:
    """Whether the score at `index` of a ranking (as :func:`ranking` gives it) ties with another one's."""
    snapped = snap_ties(np.array([score for _, score in ranking], dtype=np.float64))
    return int(np.sum(snapped == snapped[index])) > 1


def agreement(scores_by_metric: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Kendall tau-b between every two metrics' rankings, on the models both scored (NaN below 3 models).

    Returns {metric_a: {metric_b: tau}}, symmetric, 1.0 on the diagonal."""
    names = list(scores_by_metric)
    table = {a: {} for a in names}
    for i, a in enumerate(names):
        table[a][a] = 1.0
        for b in names[i + 1:]:
            try:
                _, x, y = paired(scores_by_metric[a], scores_by_metric[b])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tau = float(stats.kendalltau(x, y).statistic)
            except ValueError:
                tau = math.nan
            table[a][b] = table[b][a] = tau
    return table
