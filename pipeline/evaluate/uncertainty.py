"""How sure is the pick: bootstrap intervals of the weighted τ, the baselines it is compared with, the stability
of a metric's top pick without a ground truth, and a consensus of the metrics (issue 27).

Pure functions: mappings {model: value} in, plain floats, dicts and numpy arrays out; nothing is read, written or
printed, every draw is seeded (``numpy.random.default_rng``), and no input is modified.

The statistic
    τ is the project's headline, ``scipy.stats.weightedtau(s, t)`` of :mod:`pipeline.evaluate.correlation`: models
    matched by name, ties snapped (:func:`~pipeline.evaluate.correlation.snap_ties`), at least 3 models. With
    hyperbolic weights w(r) = 1/(r+1) of a model's rank r by decreasing (s, t) (lexicographic), a pair weighs
    W_ij = w(r_i) + w(r_j), and

        τ_x = Σ_{i<j} W_ij sgn(s_i - s_j) sgn(t_i - t_j) / sqrt(Σ_{i<j, s_i≠s_j} W_ij · Σ_{i<j, t_i≠t_j} W_ij),

    clipped to [-1, 1]; τ = (τ_x + τ_y) / 2, τ_y the same with the weights of the ranks by decreasing (t, s).
    :func:`weighted_tau_rows` computes it for many rows at once (O(n²) per row, vectorised; equal to scipy's
    O(n log n) merge sort to rounding, which the tests check draw by draw).

Bootstrap over the candidates (:func:`bootstrap_tau`, the benchmark literature's protocol)
    Each draw resamples the n paired models with replacement (n of them) and computes τ on the resample. A draw
    with fewer than 3 distinct models, or with constant scores or constant truths (τ undefined), is left out and
    counted (``draws_used``). With the same seed and the same models every metric gets the same resamples, so
    two metrics' intervals on one dataset come from the same draws.

    Duplicated models. A model drawn twice makes a pair tied in both lists: weighted τ (like τ-b) leaves such a
    pair out of its numerator and of both normalising sums, while the copies still take rank positions (and so
    weight). Where the lists carry ties this biases τ* one way. Ground truths (0, 0, 0, 0, 0, 4), scores
    (4, 1, 2, 3, 5, 0): τ_x = -sqrt(W_t / W_s) (τ_y alike), W_t the weight of the five pairs with the best
    model (all discordant), W_s that of all pairs untied in the scores. A resample replaces pairs of two
    distinct tied-in-truth models (counted in W_s only) by pairs of a model and its copy (counted in neither),
    so W_s shrinks against W_t and τ* <= τ: 97% of the used draws (seed 0) fall below τ = -0.615. The plain
    percentile interval [q_5%, q_95%] = [-0.878, -0.625] then misses τ, and the bias-corrected one (BC), which
    moves to the upper tail when most draws lie below τ, collapses to [-0.615, -0.615], width 0.

    Interval: the **symmetric bootstrap interval** (Hall, "On symmetric bootstrap confidence intervals",
    JRSS B 50, 1988; here without studentising): with d the ``level`` quantile of |τ* - τ| over the used draws,

        [low, high] = [max(-1, τ - d), min(1, τ + d)],

    which contains τ by construction (never by clamping), is as wide as the draws' spread around τ (so it
    narrows as the candidates grow), and is clipped only to the range τ can take. On untied data it is close to
    the percentile interval (10 models, scores = truth + noise, 200 tables: mean width 0.72 against 0.76,
    ends 0.07 and 0.03 apart on average); where the draws are one-sided it extends as far on the other side.
    Quantiles: np.quantile (linear interpolation); 1000 draws and 90% by default.

Mean over datasets (:func:`bootstrap_mean_tau`)
    The point is the mean of the per-dataset τ over the datasets where τ is defined (as the summary's ``mean``
    row, which skips empty cells). A draw resamples the candidates of every dataset independently (each dataset
    with its own stream, seeded by ``seed`` and the dataset's name, so adding a dataset leaves the others'
    resamples unchanged) and averages the datasets' τ*. The datasets themselves are not resampled: they are the
    benchmark's fixed tasks, few (3-11), and the question is how sure the mean is over these tasks given the
    candidates each holds. A dataset's resample with an undefined τ* is redrawn (its bootstrap distribution
    conditioned on τ* being defined, the same distribution as :func:`bootstrap_tau`'s used draws), so that a
    3-model dataset (2 of 9 resamples defined) does not discard the other datasets' draws. Interval as above.

Random ranking (:func:`random_ranking_tau`)
    The τ of a uniformly random ranking (a permutation, no ties) of the same models against the truth: the
    distribution over all n! permutations when n <= :data:`EXACT_MAX_MODELS` (``exact``: True), else over
    ``draws`` seeded permutations. Its mean is 0 (to rounding) for an untied truth, not where the truth has ties
    (-0.042 for (0, 0, 0, 0, 0, 4)); its spread is what a metric's τ is compared with.

Consensus (:func:`consensus`)
    Each metric's scores (snapped) are ranked over the models it scored (average ranks for ties, 1 = worst) and
    normalised to [0, 1] as (r - 1) / (m - 1): its best model 1, its worst 0, whatever m. A metric with fewer
    than 2 models or all scores equal carries no ranking and is left out. A model's consensus is the mean of its
    normalised ranks over the metrics that scored it (higher = better), so it is correlated and ranked like any
    metric, under the name :data:`CONSENSUS`.

Without a ground truth (:func:`half_subsamples`, :func:`pick_stability`)
    Half-subsamples of the samples (stratified: ceil(n_c / 2) of each class c), and the share of them on which a
    metric picks the model it picks on all samples.

Beating a baseline (:func:`beats`)
    A metric beats a scored baseline (``source_accuracy``, ``params``) when its τ is above the baseline's τ, and
    *clearly* when its interval's ``low`` is too; it beats a random ranking when its τ is above the random
    ranking's ``high`` (the 95th percentile of random rankings' τ at the default 90%), clearly when its ``low``
    is. See :func:`beats` for the exact rule.
"""
from __future__ import annotations

import itertools
import math
import zlib
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

from pipeline.evaluate import correlation

CONSENSUS = "consensus"
DRAWS = 1000
LEVEL = 0.9
EXACT_MAX_MODELS = 7
_MAX_ROW_CELLS = 2_000_000   # rows x n x n cells per block of weighted_tau_rows (~16 MB per float64 array)
_REDRAW_FACTOR = 100         # bootstrap_mean_tau gives up on a dataset after draws * this many resamples


def weighted_tau_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``scipy.stats.weightedtau(x[k], y[k]).statistic`` for every row k, vectorised.

    Parameters
    ----------
    x, y : array_like of shape (rows, n)
        Scores and truths, one candidate list per row (finite; ties exact, e.g. snapped).

    Returns
    -------
    numpy.ndarray of shape (rows,)
        Weighted τ (additive hyperbolic weights, the average over the rankings by (x, y) and by (y, x)), clipped
        to [-1, 1] as scipy does; NaN for a row whose x or y is constant.

    Notes
    -----
    O(n²) memory and time per row, in blocks of at most ~2e6 cells; equal to scipy to rounding (~1e-15).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"x and y must be 2-D arrays of the same shape; got {x.shape} and {y.shape}")
    rows, n = x.shape
    out = np.empty(rows, dtype=np.float64)
    step = max(1, _MAX_ROW_CELLS // max(1, n * n))
    for start in range(0, rows, step):
        block = slice(start, start + step)
        out[block] = _weighted_tau_block(x[block], y[block])
    return out


def _weighted_tau_block(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    sx = np.sign(x[:, :, None] - x[:, None, :])
    sy = np.sign(y[:, :, None] - y[:, None, :])
    concordance = sx * sy
    untied_x, untied_y = np.abs(sx), np.abs(sy)
    taus = []
    for weights in (_hyperbolic_weights(x, y), _hyperbolic_weights(y, x)):
        pair = weights[:, :, None] + weights[:, None, :]   # each pair twice (i, j) and (j, i): the 2s cancel
        numerator = np.einsum("kij,kij->k", pair, concordance)
        denominator = np.sqrt(np.einsum("kij,kij->k", pair, untied_x) * np.einsum("kij,kij->k", pair, untied_y))
        with np.errstate(invalid="ignore", divide="ignore"):
            tau = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)
        taus.append(np.clip(tau, -1.0, 1.0))
    return (taus[0] + taus[1]) / 2


def _hyperbolic_weights(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 / (r + 1), r the rank (0 = first) by decreasing a, ties by decreasing b, per row. Among elements tied in
    both the order is arbitrary: they are interchangeable in every pair sum."""
    order = np.lexsort((-b, -a), axis=-1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(a.shape[-1]), order.shape), axis=-1)
    return 1.0 / (ranks + 1.0)


def _headline(scores: Mapping[str, float], truth: Mapping[str, float]) -> tuple[float, np.ndarray, np.ndarray]:
    """(τ as pipeline.evaluate.correlation computes the headline, snapped scores, snapped truths)."""
    _, s, t = correlation.paired(scores, truth)
    point = correlation.correlate(scores, truth)["weighted_tau"]
    return point, s, t


def _resample_taus(s: np.ndarray, t: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """τ* of `draws` resamples with replacement; NaN where a resample has < 3 distinct models or constant lists."""
    n = len(s)
    index = rng.integers(0, n, size=(draws, n))
    ordered = np.sort(index, axis=1)
    distinct = 1 + np.count_nonzero(np.diff(ordered, axis=1), axis=1)
    xs, ys = s[index], t[index]
    valid = (distinct >= correlation.MIN_MODELS) & (np.ptp(xs, axis=1) > 0) & (np.ptp(ys, axis=1) > 0)
    taus = np.full(draws, np.nan)
    if valid.any():
        taus[valid] = weighted_tau_rows(xs[valid], ys[valid])
    return taus


def _symmetric_interval(point: float, taus: np.ndarray, level: float) -> tuple[float, float]:
    if math.isnan(point) or len(taus) == 0:
        return math.nan, math.nan
    half = float(np.quantile(np.abs(taus - point), level))
    return max(-1.0, point - half), min(1.0, point + half)


def _check(draws: int, level: float) -> None:
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws must be a positive integer; got {draws!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.9); got {level!r}")


def bootstrap_tau(scores: Mapping[str, float], truth: Mapping[str, float], *, draws: int = DRAWS,
                  level: float = LEVEL, seed: int = 0) -> dict:
    """A metric's weighted τ with a seeded bootstrap interval over the candidates.

    Parameters
    ----------
    scores, truth : Mapping[str, float]
        {model: score} and {model: fine-tuned result}; the models both hold are used (at least 3, finite).
    draws : int
        Resamples of the models with replacement (default 1000).
    level : float
        Coverage of the interval (default 0.9).
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    dict
        ``point``: τ on all models (the headline of :func:`pipeline.evaluate.correlation.correlate`);
        ``low``, ``high``: the symmetric bootstrap interval (module docstring), NaN when τ is undefined or no
        draw was usable; ``draws_used``: the draws with a defined τ* (the others are left out).

    Raises
    ------
    ValueError
        Fewer than 3 models in common, a non-finite value, or bad `draws` / `level`.
    """
    _check(draws, level)
    point, s, t = _headline(scores, truth)
    taus = _resample_taus(s, t, draws, np.random.default_rng(seed))
    used = taus[~np.isnan(taus)]
    low, high = _symmetric_interval(point, used, level)
    return {"point": point, "low": low, "high": high, "draws_used": int(len(used))}


def _dataset_rng(seed: int, dataset: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(dataset.encode("utf-8"))]))


def bootstrap_mean_tau(per_dataset: Mapping[str, tuple[Mapping[str, float], Mapping[str, float]]], *,
                       draws: int = DRAWS, level: float = LEVEL, seed: int = 0) -> dict:
    """The mean over datasets of a metric's weighted τ, with a seeded bootstrap interval.

    Parameters
    ----------
    per_dataset : Mapping[str, tuple[Mapping, Mapping]]
        {dataset: (scores, truth)}. A dataset where τ is undefined (fewer than 3 models in common, constant
        scores or truths) is left out, as the summary's ``mean`` row leaves out its empty cells.
    draws, level, seed
        As :func:`bootstrap_tau`; each dataset draws from its own stream (seed and the dataset's name).

    Returns
    -------
    dict
        ``point``: the mean of the per-dataset τ; ``low``, ``high``: the symmetric bootstrap interval of the
        mean (each draw resamples every dataset's candidates independently, redrawing a dataset's resample
        whose τ* is undefined); ``draws_used``: draws in which every dataset had a defined τ* (``draws``
        unless a dataset's resamples were almost never defined); ``datasets``: the datasets averaged, sorted.
        All NaN (and ``datasets`` empty) when no dataset has a defined τ.
    """
    _check(draws, level)
    points, columns = {}, {}
    for dataset in sorted(per_dataset):
        scores, truth = per_dataset[dataset]
        try:
            point, s, t = _headline(scores, truth)
        except ValueError:
            continue
        if math.isnan(point):
            continue
        rng = _dataset_rng(seed, dataset)
        found, tries = [], 0
        while sum(len(f) for f in found) < draws and tries < draws * _REDRAW_FACTOR:
            taus = _resample_taus(s, t, draws, rng)
            tries += draws
            found.append(taus[~np.isnan(taus)])
        points[dataset] = point
        columns[dataset] = np.concatenate(found)[:draws]
    if not points:
        return {"point": math.nan, "low": math.nan, "high": math.nan, "draws_used": 0, "datasets": []}
    used = min(len(c) for c in columns.values())
    means = np.mean([columns[d][:used] for d in points], axis=0)
    point = float(np.mean(list(points.values())))
    low, high = _symmetric_interval(point, means, level)
    return {"point": point, "low": low, "high": high, "draws_used": int(used), "datasets": list(points)}


def random_ranking_tau(truth: Mapping[str, float], *, draws: int = DRAWS, level: float = LEVEL,
                       seed: int = 0) -> dict:
    """The weighted τ of a uniformly random ranking of the models against the truth: a baseline.

    Parameters
    ----------
    truth : Mapping[str, float]
        {model: fine-tuned result} of the models ranked (pass only those the metric compared is correlated on).
    draws : int
        Seeded random permutations when there are more than :data:`EXACT_MAX_MODELS` models.
    level : float
        Central share of the distribution between ``low`` and ``high`` (default 0.9: its 5% and 95% quantiles).
    seed : int
        Seed of ``numpy.random.default_rng`` (unused when exact).

    Returns
    -------
    dict
        ``mean``, ``sd`` (over all permutations when exact, ddof 0; the sample sd of the draws otherwise, ddof
        1), ``low``, ``high`` (quantiles, np.quantile's linear interpolation), ``exact`` (all n! permutations),
        ``draws`` (how many rankings: n! or `draws`), ``models`` (n). NaN statistics for a constant truth.

    Raises
    ------
    ValueError
        Fewer than 3 models, a non-finite truth, or bad `draws` / `level`.
    """
    _check(draws, level)
    _, _, t = correlation.paired(truth, truth)
    n = len(t)
    exact = n <= EXACT_MAX_MODELS
    if exact:
        rankings = np.array(list(itertools.permutations(range(n))), dtype=np.float64)
    else:
        rankings = np.random.default_rng(seed).permuted(np.tile(np.arange(n, dtype=np.float64), (draws, 1)),
                                                        axis=1)
    out = {"mean": math.nan, "sd": math.nan, "low": math.nan, "high": math.nan,
           "exact": exact, "draws": int(len(rankings)), "models": n}
    if np.ptp(t) == 0:
        return out
    taus = weighted_tau_rows(rankings, np.broadcast_to(t, rankings.shape))
    tail = (1 - level) / 2
    out.update(mean=float(np.mean(taus)), sd=float(np.std(taus, ddof=0 if exact else 1)),
               low=float(np.quantile(taus, tail)), high=float(np.quantile(taus, 1 - tail)))
    return out


def random_mean_tau(truths: Sequence[Mapping[str, float]], *, draws: int = DRAWS, level: float = LEVEL,
                    seed: int = 0) -> dict:
    """The mean over datasets of the weighted τ of independent random rankings: the baseline of a mean τ.

    Each draw ranks the models of every dataset by its own seeded random permutation and averages the datasets'
    τ; ``low`` and ``high`` are the quantiles of that mean over the draws. (The mean of each dataset's quantiles
    would be the spread of one ranking repeated on every dataset, too wide by about the square root of the
    number of datasets.)

    Returns
    -------
    dict
        ``mean``, ``low``, ``high``, ``draws``, ``datasets``; NaN statistics where a truth is constant.

    Raises
    ------
    ValueError
        No truth, a truth of fewer than 3 models or not finite, or bad `draws` / `level`.
    """
    _check(draws, level)
    if len(truths) == 0:
        raise ValueError("no ground truth: pass the {model: result} of at least one dataset")
    out = {"mean": math.nan, "low": math.nan, "high": math.nan, "draws": draws, "datasets": len(truths)}
    rng = np.random.default_rng(seed)
    taus = []
    for truth in truths:
        _, _, t = correlation.paired(truth, truth)
        if np.ptp(t) == 0:
            return out
        rankings = rng.permuted(np.tile(np.arange(len(t), dtype=np.float64), (draws, 1)), axis=1)
        taus.append(weighted_tau_rows(rankings, np.broadcast_to(t, rankings.shape)))
    means = np.mean(taus, axis=0)
    tail = (1 - level) / 2
    out.update(mean=float(np.mean(means)), low=float(np.quantile(means, tail)),
               high=float(np.quantile(means, 1 - tail)))
    return out


def consensus(scores_by_metric: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """A consensus score per model: the mean over the metrics of its rank normalised to [0, 1].

    Parameters
    ----------
    scores_by_metric : Mapping[str, Mapping[str, float]]
        {metric: {model: score}} (higher = better); metrics may score different subsets of the models. Pass the
        metrics to combine (not the baselines).

    Returns
    -------
    dict[str, float]
        {model: consensus} in model-name order, higher = better: each metric's average ranks over the models it
        scored (snapped ties share their average rank) mapped to (r - 1) / (m - 1), averaged over the metrics
        that scored the model. A metric with fewer than 2 models or all scores equal is left out; a model that
        only such metrics scored is absent. Empty when no metric ranks anything.

    Raises
    ------
    ValueError
        A score that is not a finite number (the metric and model are named).
    """
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for metric, scores in scores_by_metric.items():
        models = sorted(scores)
        values = np.array([scores[m] for m in models], dtype=np.float64)
        bad = [m for m, v in zip(models, values) if not np.isfinite(v)]
        if bad:
            raise ValueError(f"metric {metric!r}: score is not a finite number for model(s) {bad}; "
                             f"leave failed models out of its scores")
        if len(models) < 2:
            continue
        snapped = correlation.snap_ties(values)
        if np.ptp(snapped) == 0:
            continue
        normalised = (stats.rankdata(snapped, method="average") - 1) / (len(models) - 1)
        for model, value in zip(models, normalised):
            sums[model] = sums.get(model, 0.0) + float(value)
            counts[model] = counts.get(model, 0) + 1
    return {model: sums[model] / counts[model] for model in sorted(sums)}


def half_subsamples(labels: np.ndarray | int, *, draws: int = 20, seed: int = 0) -> list[np.ndarray]:
    """Seeded index sets of half the samples, for the stability of a pick without a ground truth.

    Parameters
    ----------
    labels : numpy.ndarray of int, or int
        Class labels (N,): each subsample holds ceil(n_c / 2) samples of every class c (at least 1, drawn
        without replacement). An int N: ceil(N / 2) of the N samples, unstratified (per-sample tasks).
    draws : int
        How many subsamples.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    list[numpy.ndarray]
        `draws` sorted arrays of sample indices (dtype intp), the same for the same arguments.

    Raises
    ------
    ValueError
        N < 1, labels that are not a 1-D integer array, or `draws` < 1.
    """
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws must be a positive integer; got {draws!r}")
    if isinstance(labels, (int, np.integer)) and not isinstance(labels, bool):
        if labels < 1:
            raise ValueError(f"the number of samples must be at least 1; got {labels}")
        classes = np.zeros(int(labels), dtype=np.intp)
    else:
        classes = np.asarray(labels)
        if classes.ndim != 1 or not (np.issubdtype(classes.dtype, np.integer) or classes.dtype == bool):
            raise ValueError(f"labels must be a 1-D array of integer class labels (or the number of samples as an "
                             f"int); got an array of dtype {classes.dtype} and shape {classes.shape}")
        if len(classes) == 0:
            raise ValueError("labels is empty: there are no samples to subsample")
    _, inverse, sizes = np.unique(classes, return_inverse=True, return_counts=True)
    keep = (sizes + 1) // 2                        # ceil(n_c / 2), >= 1 for every class present
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        order = np.lexsort((rng.random(len(inverse)), inverse))   # by class, randomly within a class
        position = np.arange(len(order)) - starts[inverse[order]]
        out.append(np.sort(order[position < keep[inverse[order]]]).astype(np.intp))
    return out


def pick_stability(full_scores: Mapping[str, float], subsample_scores: Sequence[Mapping[str, float]]) -> float:
    """The share of subsamples on which a metric picks the model it picks on all samples.

    Parameters
    ----------
    full_scores : Mapping[str, float]
        {model: score} on all samples.
    subsample_scores : Sequence[Mapping[str, float]]
        {model: score} on each subsample (e.g. of :func:`half_subsamples`).

    Returns
    -------
    float
        The share in [0, 1]; the top model is the first of :func:`pipeline.evaluate.correlation.ranking`
        (highest score, snapped ties in name order).

    Raises
    ------
    ValueError
        No subsamples, or an empty or non-finite score mapping.
    """
    if len(subsample_scores) == 0:
        raise ValueError("no subsample scores: pass the scores of at least one subsample")
    top = _top(full_scores, "the full-data scores")
    same = sum(_top(scores, f"subsample {k}") == top for k, scores in enumerate(subsample_scores))
    return same / len(subsample_scores)


def _top(scores: Mapping[str, float], what: str) -> str:
    if not scores:
        raise ValueError(f"{what}: no model was scored")
    bad = [m for m, v in scores.items() if not np.isfinite(v)]
    if bad:
        raise ValueError(f"{what}: score is not a finite number for model(s) {sorted(bad)}")
    return correlation.ranking(scores)[0][0]


def beats(metric_tau: Mapping[str, float], baseline_tau: Mapping[str, float], *,
          clearly: bool = False) -> bool | None:
    """Whether a metric's τ beats a baseline's.

    Parameters
    ----------
    metric_tau : Mapping
        The metric's :func:`bootstrap_tau` (or :func:`bootstrap_mean_tau`): ``point``, ``low``.
    baseline_tau : Mapping
        A scored baseline's :func:`bootstrap_tau` (has ``point``), or :func:`random_ranking_tau` (has ``mean``
        and ``high``, no ``point``).
    clearly : bool
        Ask whether the metric's whole interval is above the reference, not only its point.

    Returns
    -------
    bool or None
        The reference is the baseline's ``point`` (scored baseline) or the random ranking's ``high`` (τ that
        only 5% of random rankings exceed at the default level). True when the metric's ``point`` (``low``
        with `clearly`) is strictly above the reference, False when not, None when either is NaN or missing
        (undefined: print nothing).

    Notes
    -----
    The intervals of a metric and a baseline on the same models come from the same resamples (same seed), but
    this rule does not bootstrap their difference: "clearly" is a readable margin, not a paired test.
    """
    value = metric_tau.get("low" if clearly else "point")
    reference = baseline_tau["point"] if "point" in baseline_tau else baseline_tau.get("high")
    if value is None or reference is None or math.isnan(value) or math.isnan(reference):
        return None
    return bool(value > reference)


__all__ = ["CONSENSUS", "DRAWS", "EXACT_MAX_MODELS", "LEVEL", "beats", "bootstrap_mean_tau", "bootstrap_tau",
           "consensus", "half_subsamples", "pick_stability", "random_mean_tau", "random_ranking_tau",
           "weighted_tau_rows"]
