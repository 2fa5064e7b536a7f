"""Values of LEEP, NCE, N-LEEP, GBC, SFDA, PARC, kNN, NCTI and ETran against independent computations
(explicit loops, the published recipes, sklearn), on unbalanced classes, with a dead (constant) feature
dimension, across more than one block where the code works in blocks, and with every documented constant
at its documented value (each reference writes the constant as a literal, so a drifted constant fails).

EMMS, LogME, H-score and TransRate have the same kind of tests in their own files."""
import importlib
import math
import warnings
from collections import Counter

import numpy as np
import pytest
from scipy import linalg
from scipy.special import softmax
from scipy.stats import spearmanr
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from test_metrics_classic import gbc_brute_force
from test_pairwise import stratified_rows
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from metrics import _gram, etran, gbc, knn, leep, nce, ncti, nleep, parc, sfda

GBC_MODULE = importlib.import_module("metrics.gbc")   # the module (metrics.gbc is the function)

COUNTS = [41, 9, 23, 57]   # unbalanced, and no count a multiple of another
DEAD_COLUMN = 2


def unbalanced(d=8, shift=1.0, scale=1.0, seed=0, counts=COUNTS):
    """Shuffled labels with the given class counts; features with class structure and a constant column."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    features = scale * (rng.normal(size=(len(labels), d)) * np.linspace(0.5, 2.0, d)
                        + shift * rng.normal(size=(len(counts), d))[labels])
    features[:, DEAD_COLUMN] = 3.7
    return features, labels


def small_blocks(monkeypatch, rows=13):
    monkeypatch.setattr(_gram, "BLOCK_ROWS", rows)


# ---------------------------------------------------------------------------------------------- LEEP, NCE


def leep_reference(probs, labels):
    """LEEP by explicit loops; a source class with no mass contributes nothing."""
    n, n_source = probs.shape
    classes = sorted(set(labels.tolist()))
    joint = {(y, z): sum(probs[i, z] for i in range(n) if labels[i] == y) / n for y in classes
             for z in range(n_source)}
    marginal = [sum(joint[y, z] for y in classes) for z in range(n_source)]
    total = 0.0
    for i in range(n):
        total += math.log(sum(joint[labels[i], z] / marginal[z] * probs[i, z]
                              for z in range(n_source) if marginal[z] > 0))
    return total / n


@pytest.mark.parametrize("block_rows", [None, 13])   # 13: the sum over samples in 4 row blocks
def test_leep_equals_loops_on_unbalanced_classes_with_an_empty_source_class(block_rows, monkeypatch):
    rng = np.random.default_rng(1)
    labels = np.repeat([5, 0, 9], [30, 4, 13])
    probs = rng.dirichlet(np.ones(6), size=len(labels))
    probs[:, 3] = 0.0
    probs /= probs.sum(axis=1, keepdims=True)
    if block_rows:
        small_blocks(monkeypatch, block_rows)
    assert leep(probs, labels) == pytest.approx(leep_reference(probs, labels), rel=1e-12)


def nce_reference(source, labels):
    """-H(Y | Z) = sum_z P(z) sum_y P(y|z) log P(y|z), by counting."""
    n = len(labels)
    total = 0.0
    for z, n_z in Counter(source.tolist()).items():
        in_z = Counter(labels[source == z].tolist())
        total += n_z / n * sum(count / n_z * math.log(count / n_z) for count in in_z.values())
    return total


def test_nce_equals_counting_on_unbalanced_classes():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(4), COUNTS)
    source = np.where(rng.random(len(labels)) < 0.6, labels * 2, rng.integers(0, 9, len(labels)))
    assert nce(source, labels) == pytest.approx(nce_reference(source, labels), rel=1e-12)
    probs = softmax(3.0 * np.eye(9)[source] + 0.1 * rng.normal(size=(len(labels), 9)), axis=1)
    assert nce(probs, labels) == pytest.approx(nce_reference(probs.argmax(axis=1), labels), rel=1e-12)


def test_nce_with_a_single_source_class_is_minus_the_label_entropy():
    labels = np.repeat(np.arange(4), COUNTS)
    single = np.full(len(labels), 3)   # hard source labels with one value: Z says nothing, NCE = -H(Y)
    expected = sum(n / len(labels) * math.log(n / len(labels)) for n in COUNTS)
    assert nce(single, labels) == pytest.approx(nce_reference(single, labels), rel=1e-12)
    assert nce(single, labels) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------------------------------- GBC




@pytest.mark.parametrize("gaussian, published", [("spherical", False), ("spherical", True), ("diagonal", False)])
def test_gbc_equals_pairwise_loop_unbalanced_dead_and_nearly_dead_dimensions_in_blocks(gaussian, published,
                                                                                      monkeypatch):
    x, labels = unbalanced(d=6, shift=0.6, counts=[41, 9, 23, 57, 30], seed=3)
    x[:, 4] = 0.01 * labels + 1e-3 * (labels + 1) * np.random.default_rng(4).normal(size=len(labels))
    expected = gbc_brute_force(x, labels, gaussian, published)   # column 4: class variances below the floor
    small_blocks(monkeypatch)
    monkeypatch.setattr(GBC_MODULE, "_PAIR_BLOCK_ELEMENTS", 2 * 5 * 6)   # pairs of 2 classes at a time: 3 blocks
    assert gbc(x, labels, gaussian=gaussian, published_spherical=published) == pytest.approx(expected, rel=1e-10)


def test_gbc_with_a_block_smaller_than_one_class_row_takes_one_class_per_block(monkeypatch):
    x, labels = unbalanced(d=6, shift=0.6, seed=3)
    expected = gbc_brute_force(x, labels, "spherical")
    monkeypatch.setattr(GBC_MODULE, "_PAIR_BLOCK_ELEMENTS", 5)   # < C x D = 24 pair elements of one class
    assert gbc(x, labels) == pytest.approx(expected, rel=1e-10)


def test_gbc_pca_dim_equals_the_loop_on_sklearn_pca_scores():
    x, labels = unbalanced(d=10, shift=0.5, seed=5)
    for pca_dim in (3, 7):
        reduced = PCA(n_components=pca_dim, svd_solver="full").fit_transform(x)  # signs do not matter to GBC
        assert gbc(x, labels, pca_dim=pca_dim) == pytest.approx(gbc_brute_force(reduced, labels, "spherical"),
                                                                rel=1e-8)
    assert gbc(x, labels, pca_dim=50) == pytest.approx(gbc(PCA(10).fit_transform(x), labels), rel=1e-8)


# ---------------------------------------------------------------------------------------------------- kNN


def knn_reference(x, labels, k):
    """All N x N cosine similarities at once; neighbours by a stable sort (ties to the lower index); the vote
    by counting, ties to the class of the nearest tied neighbour."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms == 0, 1.0, norms)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    correct = 0
    for i, row in enumerate(labels[nearest]):
        counts = Counter(row.tolist())
        best = max(counts.values())
        correct += next(label for label in row if counts[label] == best) == labels[i]
    return correct / len(labels)


def test_knn_equals_full_matrix_reference_default_k_unbalanced_dead_dimension_more_than_one_block():
    x, labels = unbalanced(d=5, shift=0.4, counts=[900, 250, 610, 340], seed=6)   # N = 2100: two row blocks
    x = np.round(x, 1)   # ties in similarity
    x[:7] = 0.0          # all-zero rows: similarity 0 with everything
    assert knn(x, labels) == pytest.approx(knn_reference(x, labels, k=10), abs=1e-15)   # DEFAULT_K = 10


def test_knn_scores_a_singleton_class_that_is_never_predicted_right():
    x, labels = unbalanced(d=4, shift=1.5, seed=7)
    labels = labels.copy()
    labels[0] = 99
    assert knn(x, labels, k=3) == pytest.approx(knn_reference(x, labels, k=3), abs=1e-15)


# --------------------------------------------------------------------------------------------------- PARC


def parc_reference(x, labels, pca_dim):
    """The published recipe: sklearn randomized PCA (seed 1919, one power iteration), standardise, RDMs as
    1 - corrcoef, 100 x Spearman of their upper triangles (RDM_y exactly two-valued)."""
    if pca_dim is not None and pca_dim < x.shape[1]:
        x = PCA(n_components=pca_dim, svd_solver="randomized", random_state=1919, iterated_power=1).fit_transform(x)
    x = StandardScaler().fit_transform(x)   # as published: a constant column becomes 0
    upper = np.triu_indices(len(x), 1)
    rdm_features = (1 - np.corrcoef(x))[upper]
    rdm_labels = (labels[:, None] != labels[None, :]).astype(float)[upper]
    return 100 * spearmanr(rdm_features, rdm_labels).statistic


def test_parc_equals_the_published_recipe_default_pca_unbalanced_dead_dimension_more_than_one_block():
    # N = 2100: two row blocks; D = 100 > 32 + sklearn's 10 oversamples, so the randomized PCA (and the
    # score) depends on the published seed
    x, labels = unbalanced(d=100, shift=0.3, counts=[900, 250, 610, 340], seed=8)
    assert parc(x, labels) == pytest.approx(parc_reference(x, labels, 32), rel=1e-9)   # pca_dim = 32


def test_parc_without_pca_keeps_a_dead_dimension_out_of_the_standardisation():
    x, labels = unbalanced(d=6, shift=0.5, seed=9)
    assert parc(x, labels, pca_dim=None) == pytest.approx(parc_reference(x, labels, None), rel=1e-9)


def test_parc_subsample_is_a_seeded_per_class_fraction():
    x, labels = unbalanced(d=6, shift=0.5, seed=10)
    max_samples, seed = 60, 3
    rng = np.random.default_rng(seed)
    fraction = max_samples / len(labels)
    keep = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), replace=False,
                                              size=max(2, int(fraction * np.sum(labels == c))))
                                   for c in range(len(COUNTS))]))
    expected = parc_reference(x[keep], labels[keep], None)
    assert parc(x, labels, pca_dim=None, max_samples=max_samples, seed=seed) == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------------------------------ SFDA and LDA


def largest_eigenvalue_published(matrix):
    """The published iterative_A: three rounds of two normalised products from the row sums."""
    x = matrix.sum(axis=1)
    for _ in range(3):
        y = matrix @ x / np.linalg.norm(matrix @ x)
        x = matrix @ y / np.linalg.norm(matrix @ y)
    return x @ matrix @ y


def lda_reference(x, labels, shrinkage=None):
    """The published SFDA/ETran LDA: per-class population covariances weighted by priors, adaptive shrinkage
    max(exp(-5 lambda_max), 1e-10), generalised eigenvectors V of (S_b, shrunk S_w), coef = M V Vᵀ."""
    classes, y = np.unique(labels, return_inverse=True)
    n, dim = x.shape
    priors = np.bincount(y) / n
    means = np.stack([x[y == c].mean(axis=0) for c in range(len(classes))])
    within = sum(priors[c] * np.cov(x[y == c].T, bias=True) for c in range(len(classes)))
    if shrinkage is None:
        shrinkage = max(np.exp(-5 * largest_eigenvalue_published(within)), 1e-10)

    def shrunk(cov):
        return (1 - shrinkage) * cov + shrinkage * np.trace(cov) / dim * np.eye(dim)

    between = shrunk(np.cov(x.T, bias=True)) - shrunk(within)
    _, vectors = linalg.eigh(between, shrunk(within))
    coef = means @ vectors @ vectors.T
    intercept = -0.5 * np.diag(means @ coef.T) + np.log(priors)
    return softmax(x @ coef.T + intercept, axis=1), shrinkage


def sfda_reference(x, labels):
    _, y = np.unique(labels, return_inverse=True)
    rows = np.arange(len(y))
    probs, shrinkage = lda_reference(x, labels)
    confidence = softmax(probs, axis=1)[rows, y][:, None]
    means = np.stack([x[y == c].mean(axis=0) for c in range(y.max() + 1)])
    other_means = (means.sum(axis=0) - means) / (len(means) - 1)
    mixed = confidence * x + (1 - confidence) * other_means[y]
    return np.mean(lda_reference(mixed, labels, shrinkage)[0][rows, y]), shrinkage


@pytest.mark.parametrize("scale", [0.15, 2.0], ids=["adaptive shrinkage", "shrinkage at the floor"])
def test_sfda_equals_the_published_recipe_unbalanced_dead_dimension(scale, monkeypatch):
    x, labels = unbalanced(d=7, shift=0.7, scale=scale, seed=11)
    expected, shrinkage = sfda_reference(x, labels)
    assert (shrinkage > 1e-3) == (scale < 1)   # the first case exercises exp(-5 lambda_max), the second 1e-10
    small_blocks(monkeypatch)
    # At the floor the dead dimension's shrunk variance is ~1e-10: its logit terms (~1e11, the same for every
    # class) cancel in the softmax, leaving ~1e-7 of rounding in either computation.
    assert sfda(x, labels) == pytest.approx(expected, rel=1e-9 if scale < 1 else 1e-6)


# ------------------------------------------------------------------------------------------------ N-LEEP


def nleep_reference(x, labels, fit_rows=slice(None)):
    """sklearn's exact PCA to 80% of the variance, a full-covariance mixture of 5 components per class (seed
    0) fitted on ``fit_rows``, and LEEP by loops on the posteriors of every sample."""
    reduced = PCA(n_components=0.8, svd_solver="full").fit_transform(x)   # pca_variance = 0.8
    mixture = GaussianMixture(n_components=5 * len(np.unique(labels)), covariance_type="full", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        posteriors = mixture.fit(reduced[fit_rows]).predict_proba(reduced)
    return leep_reference(posteriors, labels)


@pytest.mark.parametrize("block_rows", [None, 13])   # 13: posteriors predicted in 7 row blocks
def test_nleep_equals_sklearn_pca_mixture_and_leep_with_the_published_defaults(block_rows, monkeypatch):
    x, labels = unbalanced(d=6, shift=1.2, counts=[45, 12, 33], seed=12)
    if block_rows:
        small_blocks(monkeypatch, block_rows)
    assert nleep(x, labels) == pytest.approx(nleep_reference(x, labels), rel=1e-7)


@pytest.mark.parametrize("max_fit_samples", [60, 45])
def test_nleep_fits_its_mixture_on_the_seeded_stratified_subsample_and_scores_every_sample(max_fit_samples):
    x, labels = unbalanced(d=6, shift=1.2, counts=[45, 12, 33], seed=12)   # N = 90
    fit_rows = stratified_rows(labels, max_fit_samples, seed=0)
    expected = nleep_reference(x, labels, fit_rows)
    assert nleep(x, labels, max_fit_samples=max_fit_samples) == pytest.approx(expected, rel=1e-7)
    assert expected != pytest.approx(nleep_reference(x, labels), rel=1e-3)   # the subsample changes the fit
    assert nleep(x, labels, max_fit_samples=90) == nleep(x, labels)          # N <= max_fit_samples: all of them


def test_nleep_refuses_a_fit_subsample_smaller_than_its_mixture():
    x, labels = unbalanced(d=6, shift=1.2, counts=[45, 12, 33], seed=12)
    with pytest.raises(ValueError, match="only 14 samples would fit them; lower components_per_class, raise"):
        nleep(x, labels, max_fit_samples=14)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="max_fit_samples must be a positive integer or None"):
            nleep(x, labels, max_fit_samples=bad)


def test_gbc_sfda_nleep_score_a_class_of_exactly_two_samples():
    # two samples are the fewest that give a class variance (GBC, SFDA's S_w) and the documented minimum
    x, labels = unbalanced(d=5, shift=0.8, scale=0.15, counts=[30, 2, 17, 11], seed=21)
    assert gbc(x, labels) == pytest.approx(gbc_brute_force(x, labels, "spherical"), rel=1e-10)
    assert sfda(x, labels) == pytest.approx(sfda_reference(x, labels)[0], rel=1e-9)
    assert nleep(x, labels) == pytest.approx(nleep_reference(x, labels), rel=1e-7)


# ------------------------------------------------------------------------------------------ NCTI, ETran


def ncti_components_reference(x, labels):
    """PCA to 64 (sklearn, exact), LDA with shrinkage max(exp(-sum of the top 32 variances), 1e-10) (the
    svd solver at the floor), then seli, ncc, vc."""
    _, y = np.unique(labels, return_inverse=True)
    pca = PCA(n_components=min(64, *x.shape), svd_solver="full").fit(x)
    reduced = pca.transform(x)
    shrinkage = max(np.exp(-pca.explained_variance_[:32].sum()), 1e-10)
    lda = LinearDiscriminantAnalysis(solver="svd") if shrinkage == 1e-10 else \
        LinearDiscriminantAnalysis(solver="eigen", shrinkage=shrinkage)
    projected = lda.fit_transform(reduced, y)
    posteriors = lda.predict_proba(reduced)
    seli = np.linalg.svd(projected - projected.mean(axis=0), compute_uv=False).sum()
    ncc = posteriors[np.arange(len(y)), y].mean()
    vc = np.log(sum(np.linalg.svd(posteriors[y == c], compute_uv=False).sum() for c in range(y.max() + 1)))
    return np.array([seli, ncc, vc]), shrinkage


def ncti_reference(zoo, labels):
    components = np.array([ncti_components_reference(features, labels)[0] for features in zoo.values()])
    seli, ncc, vc = (min_max_reference(column) for column in components.T)
    return dict(zip(zoo, seli + ncc - vc))


def min_max_reference(values):
    values = np.asarray(values, dtype=float)
    return (values - values.min()) / (values.max() - values.min())


def test_ncti_equals_the_published_recipe_unbalanced_dead_dimension_pca_64_and_top_32():
    x, labels = unbalanced(d=70, shift=0.05, scale=0.12, seed=13, counts=[80, 30, 50, 60])
    zoo = {"wide_small": x, "wide_large": 8.0 * x + unbalanced(d=70, shift=0.4, seed=14,
                                                                 counts=[80, 30, 50, 60])[0],
           "narrow": x[:, :20] * 3.0}
    shrinkages = [ncti_components_reference(features, labels)[1] for features in zoo.values()]
    assert shrinkages[0] > 1e-3 and shrinkages[1] == 1e-10   # both LDA branches
    expected = ncti_reference(zoo, labels)
    scores = ncti(zoo, labels)
    for name in zoo:
        assert scores[name] == pytest.approx(expected[name], rel=1e-6, abs=1e-9)


def test_ncti_components_of_each_model_equal_the_published_recipe():
    from metrics.ncti import collapse_components   # the per-model values, before the zoo's min-max

    x, labels = unbalanced(d=70, shift=0.05, scale=0.12, seed=13, counts=[80, 30, 50, 60])
    _, y = np.unique(labels, return_inverse=True)
    for features in (x, 8.0 * x + unbalanced(d=70, shift=0.4, seed=14, counts=[80, 30, 50, 60])[0]):
        expected, _ = ncti_components_reference(features, labels)
        np.testing.assert_allclose(collapse_components(features, y, 4), expected, rtol=1e-7)


def test_sfda_rejects_features_constant_within_every_class():
    labels = np.repeat(np.arange(3), [4, 6, 5])
    with pytest.raises(ValueError, match="not positive definite"):
        sfda(np.eye(3)[labels] * [1.0, 2.0, 3.0], labels)


def test_etran_equals_015_energy_plus_085_lda_with_the_lowest_half_percent():
    x, labels = unbalanced(d=6, shift=0.8, scale=0.3, seed=15, counts=[400, 100, 300, 200])   # N = 1000
    zoo = {"a": x, "b": 0.5 * x + 0.3 * np.random.default_rng(16).normal(size=x.shape), "c": x[:, ::-1] * 1.7}
    _, y = np.unique(labels, return_inverse=True)

    def energy(features):   # mean log-sum-exp over the 5 (0.5% of 1000) lowest samples
        return np.sort(np.log(np.exp(features).sum(axis=1)))[:5].mean()

    def classification(features):
        return lda_reference(features, labels)[0][np.arange(len(y)), y].mean()

    energies = [energy(f) for f in zoo.values()]
    lda_scores = [classification(f) for f in zoo.values()]
    expected = 0.15 * min_max_reference(energies) + 0.85 * min_max_reference(lda_scores)
    scores = etran(zoo, labels)
    for name, value in zip(zoo, expected):
        assert scores[name] == pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("n, count", [(300, 1), (1000, 5), (2100, 10)])   # 0.5%, at least one sample
def test_etran_energy_is_the_mean_of_the_lowest_half_percent_of_shuffled_samples(n, count):
    from metrics.etran import energy_score

    x = np.random.default_rng(n).normal(size=(n, 4)) * [1.0, 2.0, 0.5, 0.0]   # last column dead
    assert energy_score(x) == pytest.approx(np.sort(np.log(np.exp(x).sum(axis=1)))[:count].mean(), rel=1e-12)


def test_etran_published_lda_is_a_nearest_mean_softmax_with_log_priors():
    x, labels = unbalanced(d=5, shift=0.8, scale=0.5, seed=22)   # unbalanced: the log priors matter
    zoo = {"a": x, "b": 0.5 * x + 0.3 * np.random.default_rng(23).normal(size=x.shape), "c": x[:, ::-1] * 1.7}
    _, y = np.unique(labels, return_inverse=True)

    def classification(features):
        means = np.stack([features[y == c].mean(axis=0) for c in range(len(COUNTS))])
        logits = features @ means.T - 0.5 * (means ** 2).sum(axis=1) + np.log(np.array(COUNTS) / len(y))
        return softmax(logits, axis=1)[np.arange(len(y)), y].mean()

    energies = [np.log(np.exp(f).sum(axis=1)).min() for f in zoo.values()]   # N = 130: one sample
    expected = 0.15 * min_max_reference(energies) + 0.85 * min_max_reference([classification(f) for f in zoo.values()])
    assert list(etran(zoo, labels, published_lda=True).values()) == pytest.approx(list(expected), rel=1e-9,
                                                                                   abs=1e-12)


def test_ncti_uses_the_eigen_solver_just_above_the_shrinkage_floor():
    from metrics.ncti import collapse_components

    x, labels = unbalanced(d=12, shift=0.5, seed=23, counts=[30, 9, 20, 14])
    top = PCA(n_components=12, svd_solver="full").fit(x).explained_variance_.sum()
    x *= np.sqrt(-np.log(1.5e-10) / top)   # the top (here all 12) variances sum to -log(1.5e-10)
    expected, shrinkage = ncti_components_reference(x, labels)
    assert shrinkage == pytest.approx(1.5e-10, rel=1e-9)
    # the svd solver (taken at the floor) gives seli 2e-10 relative away from the eigen solver's
    np.testing.assert_allclose(collapse_components(x, labels, 4), expected, rtol=1e-11)


def test_zoo_metrics_accept_a_class_of_two_samples_and_take_at_least_one_energy_sample():
    x, labels = unbalanced(d=4, shift=1.0, scale=0.4, seed=17, counts=[2, 6, 5])   # N = 13: 0.5% is < 1 sample
    zoo = {"a": x, "b": x[:, ::-1] * 0.5 + 0.2 * np.random.default_rng(18).normal(size=x.shape), "c": 1.5 * x}
    _, y = np.unique(labels, return_inverse=True)
    energies = [np.log(np.exp(f).sum(axis=1)).min() for f in zoo.values()]
    lda_scores = [lda_reference(f, labels)[0][np.arange(len(y)), y].mean() for f in zoo.values()]
    expected = 0.15 * min_max_reference(energies) + 0.85 * min_max_reference(lda_scores)
    assert list(etran(zoo, labels).values()) == pytest.approx(list(expected), rel=1e-9, abs=1e-12)
    expected = ncti_reference(zoo, labels)
    assert ncti(zoo, labels) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_parc_with_fewer_samples_than_pca_dim_keeps_n_components():
    x, labels = unbalanced(d=50, shift=0.5, seed=19, counts=[8, 5, 7])   # N = 20 < pca_dim = 32 < D
    assert parc(x, labels) == pytest.approx(parc_reference(x, labels, 20), rel=1e-9)
