"""Mutation testing of metrics/: make one small, realistic bug at a time and check that a test fails.

    python tools/mutate.py [--files metrics/gbc.py,metrics/knn.py] [--jobs 2] [--list]

Each mutant changes one expression of one module (an arithmetic or comparison operator swapped, a number
changed, min for max, a sign or a `not` dropped, and/or swapped, a `range(n)` one shorter), plus the bugs
named in issue 19, which always run. For every mutant the mutated module's own test files run (`-x`; for a shared
private module such as _gram.py, every metric test file) against a mutated copy of metrics/, in a fork of this process (the libraries are imported
once); a mutant survives when they all pass, and one that runs past --timeout counts as killed. Code inside `raise`
statements, warning messages, f-strings and docstrings is not mutated (only wording), nor the condition of
an `if` whose body only raises (an input check: the bad-input tests cover those, one case per message), nor
type annotations. A survivor is listed
with the reason it is accepted when it is in EXPLAINED (an equivalent mutant: the same numbers whatever the
input), else as UNEXPLAINED. An EXPLAINED entry whose mutant no longer exists (the line changed) or was killed
is listed as stale. The exit status is 1 when any survivor is unexplained or any entry is stale.
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")   # before numpy: one thread per test run, no start-up spin
ROOT = Path(__file__).resolve().parents[1]
METRIC_TESTS = ["tests/test_emms.py", "tests/test_logme.py", "tests/test_hscore.py", "tests/test_transrate.py",
                "tests/test_metrics_classic.py", "tests/test_metric_values.py", "tests/test_metric_contract.py",
                "tests/test_precision.py", "tests/test_pairwise.py"]
CLASSIC = ["tests/test_metric_values.py", "tests/test_metrics_classic.py"]
PRECISION = "tests/test_precision.py"   # the float32 paths of EMMS, LogME, H-score and TransRate
OWN_TESTS = {"emms": ["tests/test_emms.py", "tests/test_metric_contract.py", PRECISION],
             "logme": ["tests/test_logme.py", PRECISION], "hscore": ["tests/test_hscore.py", PRECISION],
             "transrate": ["tests/test_transrate.py", PRECISION], "registry": ["tests/test_metric_contract.py"],
             **{name: CLASSIC for name in ("leep", "nce", "nleep", "gbc", "sfda", "ncti", "etran",
                                           "_leep", "_pca", "_lda", "_zoo")},
             **{name: [*CLASSIC, "tests/test_pairwise.py"] for name in ("parc", "knn", "_sampling")}}

# The bugs issue 19 names, as (file, exact text, replacement, what it does).
NAMED = [
    ("metrics/logme.py", "for _ in range(max_iter):", "for _ in range(max_iter - 1):",
     "LogME: one fewer fixed-point iteration"),
    ("metrics/logme.py", "np.where(curvature < 0,", "np.where(curvature > 0,",
     "LogME: Newton step taken on the wrong side of the curvature test"),
    ("metrics/gbc.py", "distances[start:stop] =", "distances[:stop - start] =",
     "GBC: pair blocks written from row 0 instead of the block's first row"),
    ("metrics/gbc.py", "average = (variances[start:stop, None, :]", "average = (variances[:stop - start, None, :]",
     "GBC: pair blocks read from row 0 instead of the block's first row"),
    ("metrics/gbc.py",
     "    variances = np.maximum(variances, VARIANCE_FLOOR)\n    log_weight = 1.0\n    if gaussian == \"spherical\":\n"
     "        variances = variances.mean(axis=1, keepdims=True)\n",
     "    log_weight = 1.0\n    if gaussian == \"spherical\":\n        variances = variances.mean(axis=1, keepdims=True)\n"
     "    variances = np.maximum(variances, VARIANCE_FLOOR)\n    if gaussian == \"spherical\":\n",
     "GBC: variance floor applied after the spherical mean"),
    ("metrics/hscore.py", "self.between = (projected ** 2 / counts[:, None]).sum(axis=0)",
     "self.between = (projected ** 2 / (self.n / n_classes)).sum(axis=0)",
     "H-score: class counts replaced by N/C"),
]

# Survivors accepted, keyed by (file, the mutated source line stripped, the mutation): why no test can fail.
SIGNS = "PCA signs are +-1, never 0 (an eigenvector has a largest non-zero entry): equivalent"
ROW_BLOCKS = ("a block size (rows per matrix product: memory and speed only); BLAS may round a dot product 1 ulp "
              "differently for another block shape, as for another BLAS or thread count; the tests run blocks of 1 "
              "row, of several rows with a short last one, and the default, against brute force")
STOPPING = ("accepted: LogME's stopping rule; weakened, the targets stop on 'no measurable gain' (or keep "
            "iterating without moving) at the same maximum, within the tests' 1e-7")
RESHAPE = "numpy takes -2 as the unknown size too: equivalent"
RANK_SIZE = ("accepted: the size factor of rank_mask's tolerance (max(N, D) eps times the largest variance, "
             "numpy's matrix_rank rule); min(N, D) differs only for a component between the two, while the rounding "
             "noise it removes sits ~1e-30 below the largest")
EXPLAINED: dict[tuple[str, str, str], str] = {
    ("metrics/_checks.py", "array = as_features(np.asarray(targets).reshape(len(targets), -1) if np.ndim(targets) == 1 "
     "else targets, name)", "drop USub"): "reshape(N, 1) of a 1-D array is reshape(N, -1): equivalent",
    ("metrics/_checks.py", "array = as_features(np.asarray(targets).reshape(len(targets), -1) if np.ndim(targets) == 1 "
     "else targets, name)", "1 -> 2"): "numpy takes -2 as the unknown size too: reshape(N, -2) = reshape(N, -1)",
    ("metrics/_gram.py", "BLOCK_ROWS = 8192", "8192 -> 8193"): "a block size: the same sums (tests that need "
     "several blocks set BLOCK_ROWS themselves): equivalent",
    ("metrics/_lda.py", "SHRINKAGE_FLOOR = 1e-10", "1e-10 -> 2e-10"): "accepted: the floor acts only when "
     "lambda_max(S_w) > 4.6, where it shifts the posteriors by ~1e-10 relative, below what a comparison with an "
     "independent computation resolves (the tests check that the floor branch runs, at rel 1e-6)",
    ("metrics/_lda.py", "priors = np.bincount(targets, minlength=n_classes) / n_samples", "Div -> Mult"):
        "priors times N^2 add the same log N^2 to every class's logit; the softmax cancels it: equivalent",
    ("metrics/_lda.py", "dim = within.shape[0]", "0 -> 1"): "S_w is square: equivalent",
    ("metrics/_lda.py", "x = np.ones(matrix.shape[0])", "0 -> 1"): "S_w is square: equivalent",
    ("metrics/_pca.py", "explained = eigenvalues / max(n_samples - 1, 1)", "1 -> 2"): "the surviving one of the "
     "two is max(N - 1, 2): the same for N >= 3, and every caller has N >= 4 (2 classes of 2): equivalent",
    ("metrics/_pca.py", "signs = np.where(signs == 0, 1.0, signs)", "1.0 -> 2.0"): SIGNS,
    ("metrics/_pca.py", "signs = np.where(signs == 0, 1.0, signs)", "0 -> 1"): SIGNS,
    ("metrics/_pca.py", "scores = centred @ (vectors * signs) if scores is None else scores * signs",
     "Mult -> Div"): SIGNS,
    ("metrics/_spectral.py", "return values > top * size * np.finfo(np.float64).eps if top > 0 else "
     "np.zeros(values.shape, dtype=bool)", "Gt -> GtE"): "values >= the tolerance differs only for an eigenvalue "
     "exactly at it; top >= 0 only adds top = 0, where no value is > 0 either: equivalent",
    ("metrics/emms.py", "def _simplex_qp_projected_gradient(quadratic, linear, max_steps: int = 100_000):",
     "100000 -> 100001"): "an iteration cap never reached (it converges first): equivalent",
    ("metrics/emms.py", "if largest <= 0:   # every feature column is constant: X explains nothing", "0 -> 1"):
        "accepted: differs only when ridge + N x the largest z-scored column variance is at most 1, i.e. every "
        "feature column has a std below ~1e-8 / sqrt(N) (z-scoring divides by std + 1e-8)",
    ("metrics/emms.py", "explained = stats.cross.reshape(len(stats.cross), -1)", "1 -> 2"): RESHAPE,
    ("metrics/emms.py", "if solution.min() < -1e-10:", "Lt -> LtE"): "differs only for a weight of exactly "
     "-1e-10: equivalent",
    ("metrics/emms.py", "if solution.min() < -1e-10:", "drop USub"): "accepted: rejects supports whose KKT "
     "solution has a weight in [-1e-10, 1e-10); the minimum is then met on the smaller support without it, with the "
     "same value",
    ("metrics/emms.py", "step = 0.5 / max(np.linalg.eigvalsh(quadratic).max(), 1e-300)", "1e-300 -> 2e-300"):
        "a guard against a zero quadratic, where any step is optimal: equivalent",
    ("metrics/emms.py", "last = np.nonzero(ordered - cumulative / np.arange(1, len(values) + 1) > 0)[0][-1]",
     "Gt -> GtE"): "sparsemax: an index where the term is exactly 0 gives the same threshold: equivalent",
    ("metrics/etran.py", "priors = np.bincount(targets, minlength=n_classes) / len(targets)", "Div -> Mult"):
        "priors times N^2 add the same log N^2 to every class's logit; the softmax cancels it: equivalent",
    ("metrics/gbc.py", "block = max(1, _PAIR_BLOCK_ELEMENTS // (n_classes * dim))", "1 -> 2"): "a block size "
     "(the tests' blocks already hold 2 classes): equivalent",
    ("metrics/gbc.py", "stop = min(start + block, n_classes)", "min -> max"): "every block then runs to the last "
     "class and rewrites the same rows with the same values (numpy clips the slices): equivalent, only slower",
    ("metrics/logme.py", "settled = (np.abs(t_new - ta) <= tol * ta) | (t_new == t_low) | (t_new == t_high) | "
     "no_gain", "BitOr -> BitAnd"): STOPPING,
    ("metrics/logme.py", "settled = (np.abs(t_new - ta) <= tol * ta) | (t_new == t_low) | (t_new == t_high) | "
     "no_gain", "Sub -> Add"): STOPPING,
    ("metrics/logme.py", "no_gain = gain <= 4 * tiny * np.maximum(np.abs(evidence_a), 1.0)", "1.0 -> 2.0"): STOPPING,
    ("metrics/logme.py", "newton = np.where(curvature < 0, t * np.exp(np.clip(-slope / curvature, -1.0, 1.0)), "
     "mackay)", "1.0 -> 2.0"): "accepted: the cap on a Newton step (a factor e); a cap of e^2 reaches the same "
     "maximum, and no test's first step hits the cap",
    ("metrics/_sampling.py", "if len(targets) <= max_samples:", "LtE -> Lt"): "at N = max_samples the per-class "
     "fraction is 1: every sample is kept, in the same order: equivalent",
    ("metrics/transrate.py", "gram = centred_cross(z if n > d else z.T, device=device, dtype=precision)",
     "Gt -> GtE"): "at n = d both Grams give the same log-determinant exactly: equivalent",
    ("metrics/logme.py", "def logme(features, labels, *, regression: bool = False, device=None, tol: float = 1e-6,",
     "1e-06 -> 2e-06"): "accepted: the tolerance on t; near the maximum the evidence is quadratic in log t, so 2e-6 "
     "moves it by ~1e-12, below the brute-force comparisons' 1e-7",

    # ---- the code changed after the helpers' runs (2026-12-02)
    ("metrics/_gram.py", "return np.empty((min(step, x.shape[0]), x.shape[1]))", "min -> max"): "accepted: a "
     "buffer of max(block, N) rows instead of min: more memory, the same numbers",
    ("metrics/_pca.py", "scores[:, ~rank_mask(eigenvalues[:k], max(n_samples, dim))] = 0.0", "max -> min"): RANK_SIZE,
    ("metrics/parc.py", "x[:, ~rank_mask(pca.explained_variance_, max(pca.n_samples_, pca.n_features_in_))] = 0.0",
     "max -> min"): RANK_SIZE,
    ("metrics/parc.py", "x[:, ~rank_mask(pca.explained_variance_, max(pca.n_samples_, pca.n_features_in_))] = 0.0",
     "0.0 -> 1.0"): "a constant column either way: StandardScaler centres it to 0 whatever the constant: equivalent",
    ("metrics/logme.py", "slope = gamma - n * q_du / q", "Mult -> Div"): "accepted: the slope only proposes the "
     "Newton step, which is kept only when its evidence beats MacKay's update; with a wrong slope MacKay's steps "
     "climb to the same maximum (every LogME test within its 1e-7 to 1e-12)",

    # ---- emms.py (2026-12-02 survivors)
    ("metrics/emms.py", "return vectors * np.where(signs == 0, 1.0, signs)", "Mult -> Div"): SIGNS,
    ("metrics/emms.py", "return vectors * np.where(signs == 0, 1.0, signs)", "1.0 -> 2.0"): SIGNS,
    ("metrics/emms.py", "return vectors * np.where(signs == 0, 1.0, signs)", "0 -> 1"): SIGNS,
    ("metrics/emms.py", "if largest <= 0:   # every feature column is constant: X explains nothing", "LtE -> Lt"):
        "largest = 0 only for the zero matrix (every feature column constant, ridge 0), for which dpstrf with "
        "tol 0 returns rank 0: the same empty factor (test_all_constant_features_explain_nothing): equivalent",
    ("metrics/emms.py", "flat = weighted.reshape(len(tables), -1)", "1 -> 2"): RESHAPE,
    ("metrics/emms.py", "for size in range(1, n_flabels + 1):", "1 -> 2"): "range(1, K + 2) adds the support size "
     "K + 1, for which itertools.combinations yields nothing (range(2, K + 1) is killed): equivalent",
    ("metrics/emms.py", "if value < best_value:", "Lt -> LtE"): "accepted: on an exact tie the later support is kept: "
     "the same minimum and score; lambda differs only where the minimiser is not unique (e.g. duplicate "
     "F-labels), and both are minimisers",
    ("metrics/emms.py", "if solution.min() < -1e-10:", "1e-10 -> 2e-10"): "accepted: also keeps supports whose KKT "
     "solution has a weight in [-2e-10, -1e-10); clipped and renormalised it is a feasible point within ~1e-10 of "
     "that support's minimum, so it can win only by rounding (value ~1e-20 relative, lambda ~1e-10)",
    ("metrics/emms.py", "converged = np.abs(updated - weights).max() < 1e-13", "Lt -> LtE"): "accepted: differs only "
     "when lambda moves by exactly 1e-13 in a step; it then stops one step (a move below 1e-13) earlier",
    ("metrics/emms.py", "if len(objectives) > 1 and abs(objectives[-2] - objectives[-1]) <= tol * max(objectives[-2], "
     "1e-300):", "1e-300 -> 2e-300"): "accepted: a guard for a zero objective; differs only when the previous "
     "objective is below 2e-300, which float64 rounding of a sum of squares of z-scored data (errors ~1e-16 of "
     "N D2) never produces except as an exact 0, where both stop alike",

    # ---- logme.py and _spectral.py (2026-12-02 survivors)
    ("metrics/logme.py", 'max_iter: int = 2000, precision: str = "float64") -> float:', "2000 -> 2001"):
        "accepted: the cap acts only on a search still moving after 2000 steps; from the scale-aware start no test "
        "case (nor 432 random class-structured ones) needs more than a few hundred, and the warning test pins "
        "the cap's meaning with max_iter=1",
    ("metrics/logme.py", "newton = np.where(curvature < 0, t * np.exp(np.clip(-slope / curvature, -1.0, 1.0)), "
     "mackay)", "Lt -> LtE"): "accepted: differs only where the curvature is exactly 0.0 in float64; the mutant then "
     "tries a step of a factor e along the slope, kept only if its evidence beats MacKay's, and climbs to the same "
     "maximum",
    ("metrics/logme.py", "newton = np.where(curvature < 0, t * np.exp(np.clip(-slope / curvature, -1.0, 1.0)), "
     "mackay)", "0 -> 1"): "accepted: with 0 <= curvature < 1 (a convex stretch of 2N x the evidence in log t) the "
     "'Newton' step points against the slope, to the quadratic model's minimum; it is kept only if its evidence "
     "beats MacKay's step, which needs a steep rise within a factor e beyond a local minimum: on 450 random cases "
     "(N < D and N > D, feature scales e^+-8, max_iter 1, 3 and 5000) every score was identical",
    ("metrics/logme.py", "newton_better = evidence_newton > evidence_mackay", "Gt -> GtE"): "accepted: differs only "
     "on an exact tie of the two steps' evidence in float64, where the evidence is flat to rounding; either t then "
     "settles at the same maximum (on 450 random cases the scores moved by at most 2e-15)",
    ("metrics/logme.py", "t[active] = np.where(gain > 0, t_new, ta)  # a step that loses (to rounding) is not taken",
     "Gt -> GtE"): "gain == 0 is also 'no gain' (0 <= 4 eps max(|E|, 1)), so the target settles and its t is "
     "never read again: equivalent",
    ("metrics/logme.py", "no_gain = gain <= 4 * tiny * np.maximum(np.abs(evidence_a), 1.0)", "LtE -> Lt"): STOPPING,
    ("metrics/logme.py", "no_gain = gain <= 4 * tiny * np.maximum(np.abs(evidence_a), 1.0)", "Mult -> Div"): STOPPING,
    ("metrics/logme.py", "settled = (np.abs(t_new - ta) <= tol * ta) | (t_new == t_low) | (t_new == t_high) | "
     "no_gain", "LtE -> Lt"): STOPPING,
    ("metrics/logme.py", "no_gain = gain <= 4 * tiny * np.maximum(np.abs(evidence_a), 1.0)", "4 -> 5"): "accepted: "
     "a target may stop one step earlier, on a gain of at most 5 eps |E|: the score moves by under 1e-15 relative",

    # ---- parc.py and knn.py (2026-12-02 survivors)
    ("metrics/knn.py", "_BLOCK_ELEMENTS = 1 << 22", "1 -> 2"): "accepted: " + ROW_BLOCKS,
    ("metrics/knn.py", "_BLOCK_ELEMENTS = 1 << 22", "22 -> 23"): "accepted: " + ROW_BLOCKS,
    ("metrics/knn.py", "block = max(1, _BLOCK_ELEMENTS // n_samples)", "1 -> 2"):
        "accepted: blocks of 2 rows instead of 1 only where N > _BLOCK_ELEMENTS / 2; " + ROW_BLOCKS,
    ("metrics/knn.py", "if max_queries is None or max_queries >= n_samples:", "GtE -> Gt"): "at max_queries = N "
     "the seeded draw of N of the N rows, sorted, is every row in order: equivalent",
    ("metrics/knn.py", "np.add.at(counts, (np.broadcast_to(rows, neighbour_labels.shape), neighbour_labels), 1)",
     "1 -> 2"): "every vote counts 2: the same majority and the same ties: equivalent",
    ("metrics/knn.py", "unit = x / np.where(norms == 0, 1.0, norms)[:, None]   # an all-zero row stays zero: "
     "similarity 0 to all", "1.0 -> 2.0"): "accepted: an all-zero row stays zero (0 / 2 = 0); the only other rows "
     "with norm 0 are those whose squares all underflow (|x| < 1.5e-154), and halving one halves its similarities "
     "exactly, in the same order, unless they are subnormal (< 2.2e-308)",
    ("metrics/parc.py", "def _upper_pairs(x: np.ndarray, targets: np.ndarray, block_elements: int = 1 << 22) -> "
     "tuple[np.ndarray, np.ndarray]:", "1 -> 2"): "accepted: " + ROW_BLOCKS,
    ("metrics/parc.py", "def _upper_pairs(x: np.ndarray, targets: np.ndarray, block_elements: int = 1 << 22) -> "
     "tuple[np.ndarray, np.ndarray]:", "22 -> 23"): "accepted: " + ROW_BLOCKS,
    ("metrics/parc.py", "block = max(1, block_elements // n_samples)", "1 -> 2"):
        "accepted: blocks of 2 rows instead of 1 only where N > block_elements / 2; " + ROW_BLOCKS,
    ("metrics/parc.py", "values = 1.0 - np.clip(unit[rows] @ unit[start:].T, -1.0, 1.0)", "1.0 -> 2.0"): "accepted "
     "(the three constants): PARC uses only the order of the dissimilarities; 2 - r orders the pairs as 1 - r "
     "except where rounding on its coarser float grid merges correlations within 2 ulps, and a clip at +-2 "
     "instead of +-1 acts only on dot products that round beyond +-1 (identical or opposite samples), leaving "
     "them 1 ulp off 0 or 2: each changes a rank only through a last-bit tie, which np.corrcoef (the brute force, "
     "with its own rounding) does not reproduce",

    # ---- hscore.py, gbc.py, etran.py, ncti.py, nce.py, sfda.py, nleep.py (2026-12-02 survivors)
    ("metrics/hscore.py", "if self.n > self.d:", "Gt -> GtE"): "accepted: at N = D the D x D scatter and the "
     "N x N Gram are both exact, with the same non-zero eigenvalues and between-class parts "
     "(v_jᵀ s_c = sqrt(w_j) u_jᵀ y_c); they differ by rounding only (at most 7e-15 relative measured at N = D = "
     "5..100, both scores), below the tests' 1e-9 at N = D",
    ("metrics/gbc.py", "_PAIR_BLOCK_ELEMENTS = 1 << 22  # class pairs x dimensions held at once", "1 -> 2"):
        "a block size: each class row's distances are the same sums over D whatever the block (bit-identical "
        "scores measured at block sizes 1 to 2^23; the tests set it small to run several blocks): equivalent",
    ("metrics/gbc.py", "_PAIR_BLOCK_ELEMENTS = 1 << 22  # class pairs x dimensions held at once", "22 -> 23"):
        "a block size: each class row's distances are the same sums over D whatever the block (bit-identical "
        "scores measured at block sizes 1 to 2^23; the tests set it small to run several blocks): equivalent",
    ("metrics/etran.py", "return float(np.mean(np.partition(negative_energy, count - 1)[:count]))", "Sub -> Add"):
        "accepted: partitioning at count + 1 puts the count + 2 lowest first, and the first count are the lowest "
        "count unless the partition leaves one of the two largest of them in front; numpy's partition "
        "(x86-simd-sort, and introselect, both end by sorting the small range that holds kth) kept them in order "
        "on every array tried (random, sorted, reversed, tied, N = 4..20000); numpy does not promise it",
    ("metrics/ncti.py", "seli = np.linalg.norm(projected - projected.mean(axis=0), ord=\"nuc\")", "Sub -> Add"):
        "accepted: the projection is centred up to rounding (PCA scores are centred; the eigen solver's transform "
        "is linear, the svd solver's subtracts the mean), so its mean m is rounding; with Q centred (Qᵀ1 = 0), "
        "||Q + 2·1mᵀ||_* differs from ||Q||_* at second order in m: at most 4e-16 relative measured with a "
        "feature mean of 1e12",
    ("metrics/nce.py", "n_source = int(source_labels.max()) + 1", "1 -> 2"): "one more source column, always "
     "empty: the joint's filled cells, their values and their row-major order are unchanged: equivalent",

}

SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult,
         ast.FloorDiv: ast.Div, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
         ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.And: ast.Or, ast.Or: ast.And, ast.BitAnd: ast.BitOr,
         ast.BitOr: ast.BitAnd, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


@dataclass
class Mutant:
    file: str
    line: int
    original: str      # the source line, stripped
    description: str
    source: str        # the whole mutated module
    outcome: str = ""  # killed / survived / timeout / error
    seconds: float = 0.0

    @property
    def key(self):
        return self.file, self.original, self.description


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes not to mutate: raise statements, warnings, f-strings, docstrings and their insides."""
    skipped = set()
    for node in ast.walk(tree):
        inside = isinstance(node, (ast.Raise, ast.JoinedStr))
        inside |= isinstance(node, ast.Call) and ast.unparse(node.func).endswith("warn")
        inside |= isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        annotations = [node.annotation] if isinstance(node, (ast.arg, ast.AnnAssign)) and node.annotation else []
        annotations += [node.returns] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns \
            else []
        for annotation in annotations:   # not evaluated (from __future__ import annotations)
            skipped.update(id(child) for child in ast.walk(annotation))
        if isinstance(node, ast.If) and all(isinstance(statement, ast.Raise) for statement in node.body):
            skipped.update(id(child) for child in ast.walk(node.test))   # an input check's condition
        if inside:
            skipped.update(id(child) for child in ast.walk(node))
    return skipped


def _variants(node: ast.AST):
    """(description, a mutated copy of node) for each mutation of this node itself."""
    def copy_with(**changes):
        clone = ast.parse(ast.unparse(node), mode="eval").body
        for name, value in changes.items():
            setattr(clone, name, value)
        return clone

    if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
        yield f"{type(node.op).__name__} -> {SWAPS[type(node.op)].__name__}", copy_with(op=SWAPS[type(node.op)]())
    elif isinstance(node, ast.BoolOp):
        yield f"{type(node.op).__name__} -> {SWAPS[type(node.op)].__name__}", copy_with(op=SWAPS[type(node.op)]())
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPS:
        new = SWAPS[type(node.ops[0])]
        yield f"{type(node.ops[0]).__name__} -> {new.__name__}", copy_with(ops=[new()])
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        changed = node.value + 1 if isinstance(node.value, int) else (node.value * 2 if node.value else 1.0)
        yield f"{node.value!r} -> {changed!r}", ast.Constant(changed)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not, ast.Invert)):
        yield f"drop {type(node.op).__name__}", node.operand
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
        other = "max" if node.func.id == "min" else "min"
        yield f"{node.func.id} -> {other}", copy_with(func=ast.Name(other, ast.Load()))
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
          and len(node.args) == 1):
        shorter = ast.BinOp(ast.parse(ast.unparse(node.args[0]), mode="eval").body, ast.Sub(), ast.Constant(1))
        yield "range(n) -> range(n - 1)", copy_with(args=[shorter])


def _line_offsets(source: str) -> list[int]:
    offsets, total = [], 0
    for line in source.splitlines(keepends=True):
        offsets.append(total)
        total += len(line.encode())
    return offsets


def generated_mutants(path: Path) -> list[Mutant]:
    source = path.read_text()
    encoded = source.encode()
    lines = source.splitlines()
    offsets = _line_offsets(source)
    tree = ast.parse(source)
    skipped = _skipped_nodes(tree)
    mutants = []
    for node in ast.walk(tree):
        if id(node) in skipped or not hasattr(node, "lineno"):
            continue
        start = offsets[node.lineno - 1] + node.col_offset
        stop = offsets[node.end_lineno - 1] + node.end_col_offset
        for description, replacement in _variants(node):
            text = f"({ast.unparse(replacement)})"
            mutated = (encoded[:start] + text.encode() + encoded[stop:]).decode()
            try:
                ast.parse(mutated)
            except SyntaxError:
                continue
            mutants.append(Mutant(str(path.relative_to(ROOT)), node.lineno, lines[node.lineno - 1].strip(),
                                  description, mutated))
    return mutants


def named_mutants() -> list[Mutant]:
    mutants = []
    for file, old, new, description in NAMED:
        source = (ROOT / file).read_text()
        if source.count(old) != 1:
            raise SystemExit(f"named mutant {description!r}: {old!r} is not exactly once in {file}; update NAMED")
        line = source[:source.index(old)].count("\n") + 1
        mutants.append(Mutant(file, line, old.strip().splitlines()[0], "named: " + description,
                              source.replace(old, new)))
    return mutants


def _preload() -> None:
    """Import the heavy libraries once: every mutant's test run is a fork of this process (no start-up)."""
    import numpy, pytest, scipy.linalg, scipy.sparse, scipy.special, scipy.stats  # noqa: F401,E401
    import sklearn.covariance, sklearn.decomposition, sklearn.discriminant_analysis, sklearn.mixture  # noqa
    try:
        import torch  # noqa: F401  (the torch-path tests)
    except ImportError:
        pass


def _start(mutant: Mutant, workdir: Path) -> int:
    """Fork a child that runs the metric tests against the mutated copy of metrics/ in workdir; its pid."""
    shutil.copytree(ROOT / "metrics", workdir / "metrics", ignore=shutil.ignore_patterns("__pycache__"))
    (workdir / mutant.file).write_text(mutant.source)
    tests = OWN_TESTS.get(Path(mutant.file).stem) or [t for t in METRIC_TESTS if (ROOT / t).exists()]
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: never returns
        import pytest

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        sys.dont_write_bytecode = True
        sys.path.insert(0, str(workdir))
        os.chdir(ROOT)
        code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *tests])
    except BaseException:
        code = 3
    os._exit(int(code))


def run_all(mutants: list[Mutant], jobs: int, timeout: float, report) -> None:
    """Run the mutants, `jobs` children at a time; report(done, mutant) after each."""
    _preload()
    pending, running, done = list(mutants), {}, 0
    with tempfile.TemporaryDirectory(prefix="mutants-") as root:
        while pending or running:
            while pending and len(running) < jobs:
                mutant = pending.pop(0)
                workdir = Path(root) / str(len(pending))
                workdir.mkdir()
                running[_start(mutant, workdir)] = (mutant, workdir, time.perf_counter())
            time.sleep(0.05)
            for pid, (mutant, workdir, started) in list(running.items()):
                finished, status = os.waitpid(pid, os.WNOHANG)
                elapsed = time.perf_counter() - started
                if not finished and elapsed < timeout:
                    continue
                if not finished:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    mutant.outcome = "timeout"
                else:
                    code = os.waitstatus_to_exitcode(status)
                    mutant.outcome = {0: "survived", 1: "killed"}.get(code, f"error {code}")
                mutant.seconds = elapsed
                shutil.rmtree(workdir)
                del running[pid]
                done += 1
                report(done, mutant)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", default="", help="comma-separated modules (default: every metrics/*.py)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant (a hang counts as killed)")
    parser.add_argument("--survivors-of", metavar="LOG", help="rerun only the mutants a previous run's output "
                        "lists as survived (and the named ones)")
    parser.add_argument("--every", type=int, default=1, metavar="K", help="only every K-th generated mutant of "
                        "each module (a quick sample; the named ones always run)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    files = [ROOT / f for f in args.files.split(",") if f] or sorted((ROOT / "metrics").glob("*.py"))
    generated = {path: generated_mutants(path) for path in files}
    mutants = named_mutants() + [m for path in files for m in generated[path][::args.every]]
    if args.survivors_of:
        found = re.findall(r"\] survived \([\d.]+ s\): (\S+?):(\d+): (.*?): ", Path(args.survivors_of).read_text())
        previous = {(file, int(line), description) for file, line, description in found}
        mutants = [m for m in mutants if m.description.startswith("named")
                   or (m.file, m.line, m.description) in previous]
    stale = stale_explanations(files, [m for path in files for m in generated[path]])
    if args.list:
        for m in mutants:
            print(f"{m.file}:{m.line}: {m.description}: {m.original}")
        print(f"{len(mutants)} mutants")
        return 0
    print(f"{len(mutants)} mutants of {len(files)} modules, {args.jobs} at a time", flush=True)
    start = time.perf_counter()

    def report(done, mutant):
        if mutant.outcome != "killed" or mutant.description.startswith("named"):
            print(f"[{done}/{len(mutants)}] {mutant.outcome} ({mutant.seconds:.1f} s): {mutant.file}:{mutant.line}: "
                  f"{mutant.description}: {mutant.original}", flush=True)

    run_all(mutants, args.jobs, args.timeout, report)
    survivors = [m for m in mutants if m.outcome == "survived"]
    unexplained = [m for m in survivors if m.key not in EXPLAINED]
    counts = {outcome: sum(m.outcome == outcome for m in mutants) for outcome in sorted({m.outcome for m in mutants})}
    print(f"\n{len(mutants)} mutants in {time.perf_counter() - start:.0f} s: {counts}")
    for m in survivors:
        reason = EXPLAINED.get(m.key, "UNEXPLAINED")
        print(f"survivor {m.file}:{m.line}: {m.description}: {m.original}\n    -> {reason}")
    survived = {m.key for m in survivors}   # one key can name several mutants (two `>` on a line)
    stale += [f"{file}: {line}: {description} (now killed)" for file, line, description
              in sorted({m.key for m in mutants if m.key in EXPLAINED} - survived)]
    for entry in stale:
        print(f"stale EXPLAINED entry, remove it: {entry}")
    return 1 if unexplained or stale or any(m.outcome.startswith("error") for m in mutants) else 0


def stale_explanations(files: list[Path], generated: list[Mutant]) -> list[str]:
    """EXPLAINED entries of these files that no generated mutant matches any more (the line changed)."""
    names = {str(path.relative_to(ROOT)) for path in files}
    keys = {m.key for m in generated}
    return [f"{file}: {line}: {description} (no such mutant)" for file, line, description in EXPLAINED
            if file in names and (file, line, description) not in keys]


if __name__ == "__main__":
    sys.exit(main())
