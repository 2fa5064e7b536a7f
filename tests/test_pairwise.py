"""The pairwise metrics' large-N paths: PARC's rank correlation without a rank array, kNN's sampled queries."""
import numpy as np
import pytest
from scipy.stats import spearmanr

from metrics import knn, parc


def clustered(n=240, d=12, c=5, seed=0, noise=1.5):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    return rng.normal(size=(c, d))[labels] + noise * rng.normal(size=(n, d)), labels


def parc_brute_force(x, labels):
    """100 x Spearman of the upper triangles of 1 - corrcoef of the standardised features and of the labels."""
    z = (x - x.mean(axis=0)) / x.std(axis=0)
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


def knn_correct(x, labels, k, rows):
    """Brute force: for each query row, the k most cosine-similar other rows vote (ties to the lower index)."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
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
