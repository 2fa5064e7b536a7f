"""EMMS: weighted least squares from a model's features onto foundation-model F-labels.

Paper: F. Meng et al., "Foundation Model is Efficient Multimodal Multitask Model Selector", NeurIPS 2023,
arXiv 2308.06262. Released code: github.com/OpenGVLab/Multitask-Model-Selector (``metrics.py``, ``EMMS``).

Formula. Z-score every column of the features X (N, D1) and of each F-label Y_k (N, D2), k = 1..K
(population std, dividing by std + 1e-8), then

    min over w (D1 x D2) and lambda on the simplex of  ||X w - sum_k lambda_k Y_k||_F^2 + ridge ||w||_F^2

    score = -(minimum) / (N * D2)        higher = more transferable; 0 = F-labels inside X's span

Eliminating w leaves a K x K quadratic program over the simplex,

    min lambda^T R lambda,   R_kl = <Y_k, Y_l> - <Y_k, X (X^T X + ridge I)^+ X^T Y_l>,

which ``solver="exact"`` (the default) solves exactly. R comes from the cross products X^T Y_k and one
pivoted Cholesky factorization X^T X + ridge I = L L^T (LAPACK ``pstrf``: a column whose variance left
unexplained by the columns already chosen is below 1e-10 of the largest diagonal entry is dropped, so a
rank-deficient X is handled like a pseudo-inverse; with ridge=0 the second term is the squared norm of the
projection of Y onto X's column space): R = <Y_k, Y_l> - <M_k, M_l> with M_k = L^-1 X^T Y_k. The
factorization costs a fraction of X^T X, where an eigendecomposition of D1 x D1 would cost about as much
again. The QP is solved by enumerating supports (KKT conditions) for K <= 12, by projected gradient beyond.
The alternating and published solvers reuse the same factor: in the coordinates u = L^T w the objective is
||u||^2 - 2 sum_k lambda_k <M_k, u> + lambda^T <Y, Y> lambda.

Inputs. ``flabels`` is a list of K arrays (N, D2_k) or one array (N, D2, K). With ``labels`` (N,) given, each
F-label is a class table with exactly C rows, row c for the c-th smallest label value (for a subset of the
classes pass ``table[np.unique(labels)]``); the score equals that of the expanded per-sample arrays and is
computed from class sums and class counts without building them. The features (and per-sample F-labels) are
read in blocks of rows (a float32 ``np.memmap`` is fine); no float64 copy of X is made. ``device`` (a torch
device such as "cuda") runs the block products in torch float64; the rest stays in numpy.

Deliberate differences from the released code:

- The released ``EMMS`` runs one alternation from lambda = 1/K: a least-squares w for the uniform mix, an
  unconstrained least-squares lambda projected onto the simplex by sparsemax, then the residual of that
  stale w against the new mix, scaled ``sum / N * D2`` (times D2, by operator precedence, so its scores are
  D2^2 times ours in size). That is a residual from a single stale step, not the minimum of the objective
  the paper states. Here the default is the exact minimum;
  ``solver="alternating"`` is the paper's alternating minimisation run to convergence (each lambda-step the
  exact simplex-constrained least squares, not sparsemax of the unconstrained one), and
  ``solver="published"`` reproduces the released number (in float64; the released code computes in the
  features' dtype, usually float32, and standardizes the caller's F-label array in place).
- F-labels of different widths (the released code fails there): each F-label wider than the narrowest is
  reduced to that width by PCA fitted on it (for a class table, PCA weighted by class counts, which equals
  the PCA of the expanded array), components in decreasing variance, each signed so that its largest
  entry is positive. F-labels already at the narrowest width are left as they are.
- ``ridge`` > 0 adds ``ridge * ||w||^2`` (the released code has none). With N <= D1 and ridge = 0 the least
  squares can fit the F-labels exactly: every model whose N feature rows are linearly independent gets the same
  score, 0 (duplicated samples, e.g. one image under several questions, keep it below 0); a warning says so.

``precision="float32"`` computes X^T X and the cross products X^T Y in float32 block by block (sgemm/ssyrk,
blocks summed in float64); the decomposition stays float64. Measured difference from the float64 default
(``bench/bench_grid.py --targets``): relative at most 1e-7 on class-structured synthetic features (N
2000-20000, D 512-2048, class tables and per-sample F-labels, rank-deficient X included); the default stays
float64.
"""
from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np

from metrics import _gram
from metrics._checks import as_features, as_features_blockwise, as_labels
from metrics._warnings import MetricWarning

STD_EPS = 1e-8          # added to every standard deviation, as in the paper's code
RANK_RCOND = 1e-10      # pivoted Cholesky stops at residual variances below this fraction of the largest
MAX_ENUMERATED_K = 12   # the simplex QP enumerates all 2^K - 1 supports up to this many F-labels
SOLVERS = ("exact", "alternating", "published")


@dataclass(frozen=True)
class EmmsFit:
    """What :func:`emms_fit` found.

    ``score``: the EMMS score (what :func:`emms` returns). ``weights``: lambda, one weight per F-label (encoder
    or class table) in the order given, on the simplex (>= 0, summing to 1): which F-labels the features
    explain. ``objective_history``: the objective ||X w - sum_k lambda_k Y_k||^2 + ridge ||w||^2 after each
    alternation (``solver="alternating"``), or the one value the "exact" and "published" solvers reach.
    """
    score: float
    weights: np.ndarray
    objective_history: tuple[float, ...]


@dataclass(frozen=True)
class _Statistics:
    """Everything the solvers need, whitened by the Cholesky factor L of X^T X + ridge I (rank r)."""
    cross: np.ndarray         # (K, r, D2): M_k = L^-1 X^T Y_k (on the r columns kept)
    flabel_gram: np.ndarray   # (K, K): <Y_k, Y_l>
    n_samples: int
    width: int


def emms(features, flabels, labels=None, *, solver: str = "exact", ridge: float = 0.0, max_iter: int = 100,
         tol: float = 1e-8, device=None, precision: str = "float64") -> float:
    """EMMS score of ``features`` (N, D1) against F-labels; higher = more transferable (at most 0).

    ``flabels``: list of K arrays (N, D2_k), or one array (N, D2, K); with ``labels`` (N,) integer classes,
    class tables (C, D2_k) instead (row c = c-th smallest label). ``solver``: "exact" (default),
    "alternating" (stops when the relative objective change is below ``tol`` or after ``max_iter``
    alternations) or "published" (the released code's one-step number). ``ridge`` >= 0 penalises
    ``ridge * ||w||^2``. ``device``: None or "cpu" for numpy, a torch device (e.g. "cuda") for the dense
    products in torch float64. ``precision="float32"``: the products X^T X and X^T Y in float32 (see the
    module docstring). See the module docstring for the formula and the differences from the released code.
    """
    return emms_fit(features, flabels, labels, solver=solver, ridge=ridge, max_iter=max_iter, tol=tol,
                    device=device, precision=precision).score


def emms_fit(features, flabels, labels=None, *, solver: str = "exact", ridge: float = 0.0, max_iter: int = 100,
             tol: float = 1e-8, device=None, precision: str = "float64") -> EmmsFit:
    """:func:`emms` with the F-label weights lambda and the objective history (see :class:`EmmsFit`);
    same inputs and options as :func:`emms`, whose score is ``emms_fit(...).score``."""
    _check_options(solver, ridge, max_iter, tol)
    _gram.check_precision(precision)
    x = as_features_blockwise(features, "features")
    n_samples, n_dims = x.shape
    if labels is None:
        stats = _sample_statistics(x, _as_flabel_list(flabels, n_samples, per_sample=True), ridge, device, precision)
    else:
        classes, n_classes = as_labels(labels, n_samples)
        stats = _class_statistics(x, classes, n_classes,
                                  _as_flabel_list(flabels, n_classes, per_sample=False), ridge, device, precision)
    if ridge == 0 and n_samples <= n_dims:
        warnings.warn(f"EMMS with N={n_samples} samples <= D={n_dims} feature dimensions and ridge=0: the "
                      f"least squares can fit the F-labels exactly: every model whose {n_samples} feature rows are "
                      f"linearly independent gets the same score, 0, whatever its features. Pass ridge > 0 (of the "
                      f"order of 0.1 * N) or use more samples",
                      MetricWarning, stacklevel=3)
    if solver == "exact":
        weights, objectives = _solve_exact(stats)
    elif solver == "alternating":
        weights, objectives = _solve_alternating(stats, max_iter, tol)
    else:
        weights, objectives = _solve_published(stats)
    minimum = objectives[-1]
    if solver == "published":
        score = -(minimum / stats.n_samples) * stats.width  # the released `np.sum(...) / N*D2`
    else:
        score = -minimum / (stats.n_samples * stats.width)
    return EmmsFit(float(score), weights, tuple(float(value) for value in objectives))


# ---------------------------------------------------------------------------------------------- inputs

def _check_options(solver, ridge, max_iter, tol) -> None:
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if not _is_real(ridge) or not np.isfinite(ridge) or ridge < 0:
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
    if solver == "published" and ridge != 0:
        raise ValueError("solver='published' reproduces the released code, which has no ridge; use ridge=0")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if not _is_real(tol) or not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _as_flabel_list(flabels, n_rows: int, per_sample: bool) -> list:
    """The K F-labels as 2-D arrays: per-sample ones are checked in blocks and not copied; class tables
    are small and copied to float64."""
    if isinstance(flabels, np.ndarray):
        if flabels.ndim == 3:
            flabels = [flabels[:, :, k] for k in range(flabels.shape[2])]
        elif flabels.ndim == 2:
            flabels = [flabels]
        else:
            raise ValueError(f"flabels must be a list of K 2-D arrays or one (N, D2, K) array, got shape "
                             f"{flabels.shape}")
    elif not isinstance(flabels, (list, tuple)):
        raise ValueError(f"flabels must be a list of K 2-D arrays or one (N, D2, K) array, got "
                         f"{type(flabels).__name__}")
    if len(flabels) == 0:
        raise ValueError("flabels is empty: pass at least one F-label (K >= 1)")
    checked = []
    for k, flabel in enumerate(flabels):
        name = f"flabels[{k}]"
        if per_sample:
            array = as_features_blockwise(flabel, name)
            if array.shape[0] != n_rows:
                raise ValueError(f"{name} has {array.shape[0]} rows but features have {n_rows}; per-sample "
                                 f"F-labels must describe the same samples in the same order (or pass "
                                 f"labels= with class tables)")
        else:
            array = as_features(flabel, name)
            if array.shape[0] != n_rows:
                raise ValueError(f"{name} is a class table with {array.shape[0]} rows but labels hold "
                                 f"{n_rows} classes; row c must be the F-label of the c-th smallest label "
                                 f"value (if some classes are absent, pass table[np.unique(labels)])")
        checked.append(array)
    return checked


# ---------------------------------------------------------------------------------------------- statistics

def _pca_basis(centred_gram: np.ndarray, width: int) -> np.ndarray:
    """The top-`width` principal directions (D, width) of a centred Gram, each signed so that its largest
    entry is positive (a fixed sign keeps F-label columns aligned across inputs)."""
    values, vectors = np.linalg.eigh(centred_gram)
    vectors = vectors[:, np.argsort(values)[::-1][:width]]
    signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(width)])
    return vectors * np.where(signs == 0, 1.0, signs)


def _whitening(standardized_gram: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """Pivoted Cholesky of X^T X + ridge I: the kept columns J and L (|J| x |J|) with L L^T = that matrix
    on J. Columns whose residual variance falls below RANK_RCOND of the largest diagonal entry are dropped.
    Only the lower triangle of the returned factor is L (its upper one holds what LAPACK left there; the
    triangular solves read only the lower, so it is not cleared: a copy costs a tenth of EMMS at D = 2048).
    ``standardized_gram`` (the caller's temporary) is overwritten, for the same reason."""
    from scipy.linalg import lapack

    matrix = standardized_gram
    matrix.flat[:: len(matrix) + 1] += ridge
    largest = matrix.diagonal().max()
    if largest <= 0:   # every feature column is constant: X explains nothing
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0))
    factor, pivots, rank, info = lapack.dpstrf(matrix, tol=RANK_RCOND * largest, lower=1, overwrite_a=True)
    if info < 0:
        raise RuntimeError(f"LAPACK dpstrf rejected argument {-info}")
    return pivots[:rank] - 1, factor[:rank, :rank]


def _whiten(factor: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """L^-1 rows (the rows of X^T Y on the kept columns), by a triangular solve."""
    from scipy.linalg import solve_triangular

    return solve_triangular(factor, rows, lower=True, check_finite=False)


def _standardized_features_gram(centred_gram: np.ndarray, n_samples: int):
    """Scale the centred Gram of X to the Gram of the z-scored X; return it and the column scales."""
    scale = np.sqrt(np.clip(np.diag(centred_gram), 0.0, None) / n_samples) + STD_EPS
    return centred_gram / np.outer(scale, scale), scale


def _class_statistics(x, classes, n_classes, tables, ridge, device, precision) -> _Statistics:
    """Statistics from class sums of X and class tables: X^T Y_k = (class sums of z-scored X)^T table_k."""
    n_samples = x.shape[0]
    counts = np.bincount(classes, minlength=n_classes).astype(np.float64)
    sums = _gram.class_sums(x, classes, n_classes)
    x_mean = sums.sum(axis=0) / n_samples
    gram, scale = _standardized_features_gram(_gram.centred_cross(x, x_mean=x_mean, device=device,
                                                                dtype=precision), n_samples)
    kept, factor = _whitening(gram, ridge)
    whitened_sums = _whiten(factor, ((sums[:, kept] - counts[:, None] * x_mean[kept]) / scale[kept]).T)  # (r, C)
    width = min(table.shape[1] for table in tables)
    standardized_tables = np.stack([_standardize_table(table, counts, width) for table in tables])  # (K, C, D2)
    weighted = standardized_tables * np.sqrt(counts)[None, :, None]
    flat = weighted.reshape(len(tables), -1)
    cross = np.tensordot(whitened_sums, standardized_tables, axes=([1], [1]))   # (r, K, D2), one BLAS call
    return _Statistics(np.ascontiguousarray(cross.transpose(1, 0, 2)), flat @ flat.T, n_samples, width)


def _standardize_table(table: np.ndarray, counts: np.ndarray, width: int) -> np.ndarray:
    """Z-score a class table as its expanded per-sample array would be (count-weighted moments),
    after a count-weighted PCA down to `width` columns when it is wider."""
    centred = table - counts @ table / counts.sum()
    if table.shape[1] > width:
        centred = centred @ _pca_basis(centred.T @ (counts[:, None] * centred), width)
    std = np.sqrt(counts @ centred ** 2 / counts.sum())
    return centred / (std + STD_EPS)


def _sample_statistics(x, flabels, ridge, device, precision) -> _Statistics:
    """Statistics from per-sample F-labels, read in blocks: one pass for X^T X and all X^T Y_k together.

    The F-labels enter the products centred (and PCA-rotated) but not yet scaled: their standard deviations
    come from the same pass (the per-column products of the blocks), and the scaling is applied to the small
    results, so each F-label is read twice (its mean, then the pass) rather than three times.
    """
    n_samples = x.shape[0]
    width = min(flabel.shape[1] for flabel in flabels)
    transforms = [_flabel_transform(flabel, width) for flabel in flabels]
    buffers = [_gram.block_buffer(flabel) for flabel in flabels]
    pairs = list(itertools.combinations_with_replacement(range(len(flabels)), 2))
    column_products = {pair: np.zeros(width) for pair in pairs}

    def centred_blocks(start, stop):
        parts = [_centred_rows(flabel, start, stop, transform, buffer)
                 for flabel, transform, buffer in zip(flabels, transforms, buffers)]
        for k, l in pairs:   # sum_i Y_ikj Y_ilj per column j, for the scales and <Y_k, Y_l>
            column_products[k, l] += np.einsum("ij,ij->j", parts[k], parts[l])
        return parts

    x_mean = _gram.column_means(x)
    gram, crosses = _gram.gram_and_cross(x, centred_blocks, x_mean=x_mean, device=device, dtype=precision)
    flabel_scales = [np.sqrt(column_products[k, k] / n_samples) + STD_EPS for k in range(len(flabels))]
    flabel_gram = np.zeros((len(flabels), len(flabels)))
    for k, l in pairs:
        flabel_gram[k, l] = flabel_gram[l, k] = np.sum(column_products[k, l] / (flabel_scales[k] * flabel_scales[l]))
    gram, scale = _standardized_features_gram(gram, n_samples)
    kept, factor = _whitening(gram, ridge)
    cross = np.hstack([part[kept] / flabel_scale for part, flabel_scale in zip(crosses, flabel_scales)])
    cross = _whiten(factor, cross / scale[kept, None]).reshape(len(kept), len(flabels), width)
    return _Statistics(np.ascontiguousarray(cross.transpose(1, 0, 2)), flabel_gram, n_samples, width)


def _centred_rows(flabel, start: int, stop: int, transform, buffer: np.ndarray) -> np.ndarray:
    """Rows start..stop of a per-sample F-label, centred (and PCA-reduced) as float64 (centred in buffer)."""
    mean, rotation = transform
    block = _gram.centred_block(flabel, start, stop, mean, out=buffer)
    return block if rotation is None else block @ rotation


def _flabel_transform(flabel, width: int):
    """(column means, PCA rotation to `width` columns or None) of a per-sample F-label."""
    mean = _gram.column_means(flabel)
    if flabel.shape[1] == width:
        return mean, None
    return mean, _pca_basis(_gram.centred_cross(flabel, x_mean=mean), width)


# ---------------------------------------------------------------------------------------------- solvers

def _solve_exact(stats: _Statistics):
    """lambda minimising lambda^T R lambda on the simplex, R = <Y_k, (I - X (X^T X + ridge)^+ X^T) Y_l>."""
    explained = stats.cross.reshape(len(stats.cross), -1)
    residual_gram = stats.flabel_gram - explained @ explained.T
    weights, value = _simplex_qp((residual_gram + residual_gram.T) / 2, np.zeros(len(residual_gram)))
    return weights, (max(value, 0.0),)


def _w_step(stats: _Statistics, weights: np.ndarray) -> np.ndarray:
    """Least-squares w, as u = L^T w, for the target sum_k lambda_k Y_k."""
    return np.tensordot(weights, stats.cross, axes=1)


def _objective(stats: _Statistics, u: np.ndarray, weights: np.ndarray) -> float:
    """||X w - sum_k lambda_k Y_k||^2 + ridge ||w||^2 from the statistics alone (u = L^T w)."""
    return float(np.sum(u * u) - 2 * weights @ _cross_with(stats, u) + weights @ stats.flabel_gram @ weights)


def _cross_with(stats: _Statistics, u: np.ndarray) -> np.ndarray:
    """<Y_k, X w> for every k."""
    return np.einsum("krd,rd->k", stats.cross, u)


def _solve_alternating(stats: _Statistics, max_iter: int, tol: float):
    """The paper's alternating minimisation: w-step least squares, lambda-step exact simplex least squares."""
    weights = np.full(len(stats.cross), 1.0 / len(stats.cross))
    objectives = []
    for _ in range(max_iter):
        u = _w_step(stats, weights)
        weights, _ = _simplex_qp(stats.flabel_gram, _cross_with(stats, u))
        objectives.append(max(_objective(stats, u, weights), 0.0))
        if len(objectives) > 1 and abs(objectives[-2] - objectives[-1]) <= tol * max(objectives[-2], 1e-300):
            break
    return weights, tuple(objectives)


def _solve_published(stats: _Statistics):
    """The released code: from lambda = 1/K one w-step, unconstrained lambda then sparsemax, and the residual
    of that (pre-update) w against the new mix."""
    n_flabels = len(stats.cross)
    u = _w_step(stats, np.full(n_flabels, 1.0 / n_flabels))
    unconstrained = np.linalg.lstsq(stats.flabel_gram, _cross_with(stats, u), rcond=None)[0]
    weights = _project_to_simplex(unconstrained)   # sparsemax
    return weights, (max(_objective(stats, u, weights), 0.0),)


def _project_to_simplex(values: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (= sparsemax)."""
    ordered = np.sort(values)[::-1]
    cumulative = np.cumsum(ordered) - 1.0
    last = np.nonzero(ordered - cumulative / np.arange(1, len(values) + 1) > 0)[0][-1]
    return np.maximum(values - cumulative[last] / (last + 1), 0.0)


def _simplex_qp(quadratic: np.ndarray, linear: np.ndarray) -> tuple[np.ndarray, float]:
    """min over the simplex of lambda^T Q lambda - 2 q^T lambda (Q symmetric PSD): (lambda, value).

    Exact for K <= MAX_ENUMERATED_K: on each support S the equality-constrained minimum solves the KKT
    system [Q_SS 1; 1^T 0][lambda; nu] = [q_S; 1]; the best non-negative one is the optimum (a minimiser with
    the smallest support is the unique solution of its system, so the enumeration meets it).
    """
    n_flabels = len(linear)
    if n_flabels > MAX_ENUMERATED_K:
        return _simplex_qp_projected_gradient(quadratic, linear)
    best_weights, best_value = None, np.inf
    for size in range(1, n_flabels + 1):
        for support in map(list, itertools.combinations(range(n_flabels), size)):
            kkt = np.ones((size + 1, size + 1))
            kkt[:size, :size] = quadratic[np.ix_(support, support)]
            kkt[size, size] = 0.0
            solution = np.linalg.lstsq(kkt, np.append(linear[support], 1.0), rcond=None)[0][:size]
            if solution.min() < -1e-10:
                continue
            weights = np.zeros(n_flabels)
            weights[support] = np.clip(solution, 0.0, None)
            weights /= weights.sum()
            value = weights @ quadratic @ weights - 2 * linear @ weights
            if value < best_value:
                best_weights, best_value = weights, value
    return best_weights, float(best_value)


def _simplex_qp_projected_gradient(quadratic, linear, max_steps: int = 100_000):
    """Projected gradient with step 1/L for many F-labels, until lambda moves by less than 1e-13."""
    step = 0.5 / max(np.linalg.eigvalsh(quadratic).max(), 1e-300)
    weights = np.full(len(linear), 1.0 / len(linear))
    for _ in range(max_steps):
        updated = _project_to_simplex(weights - step * 2 * (quadratic @ weights - linear))
        converged = np.abs(updated - weights).max() < 1e-13
        weights = updated
        if converged:
            break
    return weights, float(weights @ quadratic @ weights - 2 * linear @ weights)
