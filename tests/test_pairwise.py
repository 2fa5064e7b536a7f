"""The pairwise metrics' large-N paths: PARC's rank correlation without a rank array, kNN's sampled queries."""
import functools
import importlib

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.decomposition import PCA

from metrics import knn, parc

parc_module = importlib.import_module("metrics.parc")   # `metrics.parc` is the function
knn_module = importlib.import_module("metrics.knn")


def clustered(n=240, d=12, c=5, seed=0, noise=1.5):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    return rng.normal(size=(c, d))[labels] + noise * rng.normal(size=(n, d)), labels


def unbalanced(counts, d=6, seed=0, noise=1.5):
    """Shuffled labels with the given class counts, features with class structure and a dead (all-zero) last
    column."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    x = rng.normal(size=(len(counts), d))[labels] + noise * rng.normal(size=(len(labels), d))
    x[:, -1] = 0.0
    return x, labels


def standardised(x):
    """Each column to mean 0 and std 1; a dead (all-zero) column stays 0."""
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)


def parc_brute_force(x, labels):
    """100 x Spearman of the upper triangles of 1 - corrcoef of the standardised features and of the labels."""
    z = standardised(x)
    upper = np.triu_indices(len(x), 1)
    different = (labels[:, None] != labels[None, :]).astype(float)
    return 100 * spearmanr((1 - np.corrcoef(z))[upper], different[upper]).statistic


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parc_equals_spearman_of_the_full_matrices(seed):
    x, labels = clustered(seed=seed, noise=1.0 + seed)
    assert parc(x, labels, pca_dim=None) == pytest.approx(parc_brute_force(x, labels), abs=1e-10)


def test_parc_with_tied_dissimilarities_equals_spearman_with_average_ranks():
    x, labels = clustered()
    x[10] = x[3]
    x[11] = x[3]          # three identical samples: ties at dissimilarity 0 and in every row they meet
    x[20] = 2 * x[4]      # perfectly correlated with sample 4
    assert parc(x, labels, pca_dim=None) == pytest.approx(parc_brute_force(x, labels), abs=1e-10)


def stratified_rows(labels, max_samples, seed):
    """The documented subsample: per class, a seeded draw of max(2, floor(max_samples / N x its size)) members."""
    rng = np.random.default_rng(seed)
    fraction = max_samples / len(labels)
    return np.sort(np.concatenate([rng.choice(members, size=max(2, int(fraction * len(members))), replace=False)
                                   for members in (np.flatnonzero(labels == c) for c in range(labels.max() + 1))]))


def test_parc_scores_a_class_of_exactly_two_samples():
    x, labels = unbalanced([2, 30, 45])
    assert parc(x, labels, pca_dim=None) == pytest.approx(parc_brute_force(x, labels), abs=1e-10)


def test_parc_with_pca_dim_equal_to_the_feature_dimension_keeps_the_features_unreduced():
    x, labels = unbalanced([20, 30, 45])
    assert parc(x, labels, pca_dim=x.shape[1]) == pytest.approx(parc_brute_force(x, labels), abs=1e-10)


@pytest.mark.parametrize("max_samples", [99, 50])
def test_parc_subsample_above_max_samples_keeps_at_least_two_per_class_with_seed_0(max_samples):
    x, labels = unbalanced([4, 40, 56])   # at max_samples = 50, the first class keeps max(2, floor(4 / 2))
    keep = stratified_rows(labels, max_samples, seed=0)
    expected = parc_brute_force(x[keep], labels[keep])
    assert parc(x, labels, pca_dim=None, max_samples=max_samples) == pytest.approx(expected, abs=1e-10)
    assert parc(x, labels, pca_dim=None, max_samples=100) == pytest.approx(parc_brute_force(x, labels), abs=1e-10)
    assert expected != pytest.approx(parc_brute_force(x, labels), abs=1e-3)


def test_parc_treats_a_constant_column_as_zero_whatever_its_value():
    """The mean of 95 copies of 3.7 is not 3.7: the column's computed std is 9e-16, not 0."""
    x, labels = unbalanced([20, 30, 45])   # a dead column of zeros
    shifted = x.copy()
    shifted[:, -1] = 3.7
    assert parc(shifted, labels, pca_dim=None) == pytest.approx(parc_brute_force(x, labels), abs=1e-10)


def test_parc_treats_the_last_principal_component_of_n_samples_as_zero():
    """N = 20 < pca_dim: the 20th component of 20 centred samples is rounding noise, not a dimension."""
    x, labels = unbalanced([8, 5, 7], d=50)
    reduced = PCA(n_components=19, svd_solver="full").fit_transform(x)
    expected = parc_brute_force(np.column_stack([reduced, np.zeros(len(x))]), labels)
    assert parc(x, labels) == pytest.approx(expected, abs=1e-10)


class _PairStep(Exception):
    """Raised in place of PARC's N^2 pair step."""


def rows_parc_scores(monkeypatch, x, labels):
    """The (standardised) rows and labels that parc(x, labels) with its defaults passes to its pair step."""
    seen = []

    def stop(rows, targets):
        seen.append((rows, targets))
        raise _PairStep

    monkeypatch.setattr(parc_module, "_upper_pairs", stop)
    with pytest.raises(_PairStep):
        parc(x, labels)
    return seen[0]


def test_parc_by_default_subsamples_above_15000_samples_with_seed_0(monkeypatch):
    x, labels = unbalanced([5001, 4000, 6000], d=3)   # N = 15001 <= 32 dimensions: no PCA
    keep = stratified_rows(labels, 15000, seed=0)      # 5000 + 3999 + 5999 rows
    rows, targets = rows_parc_scores(monkeypatch, x, labels)
    np.testing.assert_array_equal(targets, labels[keep])
    np.testing.assert_allclose(rows, standardised(x[keep]), rtol=1e-12, atol=1e-12)
    rows, targets = rows_parc_scores(monkeypatch, x[:15000], labels[:15000])   # N = 15000: every sample
    np.testing.assert_array_equal(targets, labels[:15000])
    np.testing.assert_allclose(rows, standardised(x[:15000]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block_elements", [1, 7 * 77])
def test_parc_in_blocks_of_rows_equals_spearman_of_the_full_matrices(monkeypatch, block_elements):
    x, labels = unbalanced([12, 25, 40])   # N = 77: blocks of 1 row, then of 7 rows (the last one short)
    monkeypatch.setattr(parc_module, "_upper_pairs",
                        functools.partial(parc_module._upper_pairs, block_elements=block_elements))
    assert parc(x, labels, pca_dim=None) == pytest.approx(parc_brute_force(x, labels), abs=1e-10)


def knn_correct(x, labels, k, rows):
    """Brute force: for each query row, the k most cosine-similar other rows vote (ties to the lower index); an
    all-zero row has similarity 0 with every row."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms == 0, 1.0, norms)
    correct = []
    for i in rows:
        similarity = unit @ unit[i]
        similarity[i] = -np.inf
        neighbours = sorted(range(len(x)), key=lambda j: (-similarity[j], j))[:k]
        votes = np.bincount(labels[neighbours], minlength=labels.max() + 1)
        winners = np.flatnonzero(votes == votes.max())
        correct.append(next(labels[j] for j in neighbours if labels[j] in winners) == labels[i])
    return np.array(correct)


def test_knn_max_queries_scores_the_seeded_sample_against_all_samples():
    x, labels = clustered(noise=3.0)
    rows = np.sort(np.random.default_rng(7).choice(len(x), size=50, replace=False))
    expected = knn_correct(x, labels, 5, rows).mean()
    assert knn(x, labels, k=5, max_queries=50, seed=7) == pytest.approx(expected, abs=1e-15)
    assert knn(x, labels, k=5, max_queries=50, seed=7) != knn(x, labels, k=5)   # a sample, not the full score


def test_knn_max_queries_at_least_n_is_the_exact_score():
    x, labels = clustered(noise=3.0)
    assert knn(x, labels, max_queries=len(x)) == knn(x, labels) == knn(x, labels, max_queries=10 ** 6)


def test_knn_sampled_estimates_average_to_the_exact_score():
    x, labels = clustered(n=300, noise=3.0)
    estimates = [knn(x, labels, max_queries=60, seed=seed) for seed in range(40)]
    # 40 estimates of 60 queries: standard error of their mean <= 0.5 / sqrt(60 * 40) ~ 0.01
    assert np.mean(estimates) == pytest.approx(knn(x, labels), abs=0.035)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_knn_bad_max_queries_is_a_clear_error(bad):
    x, labels = clustered()
    with pytest.raises(ValueError, match="max_queries must be a positive integer or None"):
        knn(x, labels, max_queries=bad)


def test_knn_max_queries_draws_with_seed_0_by_default():
    x, labels = clustered(noise=3.0)
    rows = np.sort(np.random.default_rng(0).choice(len(x), size=50, replace=False))
    assert knn(x, labels, k=5, max_queries=50) == pytest.approx(knn_correct(x, labels, 5, rows).mean(), abs=1e-15)


@pytest.mark.parametrize("block_elements", [1, 3 * 80])
def test_knn_in_blocks_of_rows_equals_brute_force(monkeypatch, block_elements):
    x, labels = unbalanced([10, 25, 45])   # N = 80: blocks of 1 row, then of 3 rows (the last one short)
    x[5] = 0.0                             # an all-zero row
    monkeypatch.setattr(knn_module, "_BLOCK_ELEMENTS", block_elements)
    expected = knn_correct(x, labels, 4, range(len(x))).mean()
    assert knn(x, labels, k=4) == pytest.approx(expected, abs=1e-15)


def test_knn_with_k_1_takes_the_most_similar_sample_in_a_large_row():
    """N = 1600: in shorter rows numpy's partition happens to order more positions than the one asked for."""
    x, labels = clustered(n=1600, d=6, noise=3.0)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    assert knn(x, labels, k=1) == pytest.approx(np.mean(labels[np.argmax(similarity, axis=1)] == labels), abs=1e-15)


def test_knn_with_a_large_k_equals_brute_force():
    """k = 187 of 299 neighbours: only the k-th position of numpy's partition is in order (as above)."""
    x, labels = clustered(n=300, d=6, noise=3.0)
    assert knn(x, labels, k=187) == pytest.approx(knn_correct(x, labels, 187, range(len(x))).mean(), abs=1e-15)


def test_parc_zeroes_principal_components_beyond_the_rank_of_the_features():
    """Features of rank 5 reduced to 32 components: the 27 beyond the rank are rounding noise (variance ~1e-32 of
    the first); kept, StandardScaler scales them to unit variance and they swamp the 5 real ones."""
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(4), [6, 10, 12, 12])
    x = (rng.normal(size=(40, 5)) + labels[:, None]) @ rng.normal(size=(5, 100)) + 7.0
    real = PCA(n_components=5, svd_solver="randomized", random_state=1919, iterated_power=1).fit_transform(x)
    reduced = np.hstack([(real - real.mean(axis=0)) / real.std(axis=0), np.zeros((40, 27))])
    upper = np.triu_indices(40, 1)
    expected = 100 * spearmanr((1 - np.corrcoef(reduced))[upper], (labels[:, None] != labels)[upper]).correlation
    assert parc(x, labels) == pytest.approx(expected, rel=1e-9)
    nudged = x * (1 + 1e-12 * rng.normal(size=x.shape))
    assert parc(nudged, labels) == pytest.approx(parc(x, labels), rel=1e-6)
