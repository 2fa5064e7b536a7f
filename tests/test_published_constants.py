"""Issue 26, "Published constants pinned": every constant a metric takes from its paper or released code has a
value test here that fails when the constant changes.

Each test computes the metric on a small fixed case and compares it (1e-9 relative unless said) with an
independent brute-force reimplementation of the formula in which the published constant is written out in the
test. Where the constant is a keyword default, the signature's default is asserted too, and the value test calls
the metric without that keyword (so it shows the default is what is used). Each case is built so that a slight
change of the constant moves the value by far more than the tolerance (every one was seen failing under such a
mutation of the module).

Constants pinned (metric: constant = value, source):

- EMMS: STD_EPS = 1e-8 added to every std (released code); ridge default 0 (released code has none).
- N-LEEP: pca_variance = 0.8 (published), components_per_class = 5 (published), seed default 0 (ours, seeds
  the mixture and the fit subsample).
- reg_hscore: the Ledoit-Wolf closed-form shrinkage, ML covariance 1/N, cov(E[f|y]) with 1/(N-1) (np.cov, as
  in the published code), the factor (1 - alpha).
- TransRate: eps default 1e-4 (the published code's, 1/(n eps) normalisation).
- GBC: variance floor 1e-4, gaussian default "spherical" (published code), registry default pca_dim = 64
  (the published experiments).
- SFDA (and ETran's S_cls, metrics._lda): adaptive shrinkage lambda = max(exp(-5 lambda_max), 1e-10), lambda_max by
  3 rounds of power iteration from the row sums (published code).
- PARC: pca_dim default 32, randomized PCA random_state 1919 and iterated_power 1, max_samples default 15000
  (published); factor 100; subsample seed default 0 (ours).
- kNN: k default 10 (ours), query-sample seed default 0 (ours).
- NCTI: PCA to 64, shrinkage exp(-sum of the top 32 PCA variances), floor 1e-10 with the svd solver at the
  floor, NCTI = seli + ncc - vc (published code).
- ETran: 0.15 energy + 0.85 LDA, the lowest 0.5% of samples for the energy score (published code).

Not of this kind (no test here): LogME's tol / max_iter and starting point, EMMS's RANK_RCOND, MAX_ENUMERATED_K and
alternating tol / max_iter, H-score's rcond (a deliberate deviation from the published 1e-15), block sizes.
"""
from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest
from scipy.special import logsumexp, softmax
from scipy.stats import spearmanr

import metrics
from metrics import METRICS, emms, etran, gbc, knn, ncti, nleep, parc, reg_hscore, sfda, transrate

RTOL = 1e-9


def assert_rel(actual, expected, rtol=RTOL):
    assert np.isfinite(actual) and np.isfinite(expected), (actual, expected)
    assert abs(actual - expected) <= rtol * max(abs(expected), 1e-300), \
        f"{actual!r} != {expected!r} (relative {abs(actual - expected) / max(abs(expected), 1e-300):.3g})"


def module(name):
    """metrics.<name> the module (``metrics.parc`` etc. are the functions, which shadow their modules)."""
    return importlib.import_module(f"metrics.{name}")


def default_of(function, name):
    return inspect.signature(function).parameters[name].default


def class_features(rng, n_per_class, dim, n_classes, separation=1.0, scale=1.0):
    labels = np.repeat(np.arange(n_classes), n_per_class)
    centres = rng.normal(size=(n_classes, dim)) * separation
    x = (centres[labels] + rng.normal(size=(len(labels), dim))) * scale
    return x, labels


# ---------------------------------------------------------------------------------------------- EMMS

def _zscore(a):
    return (a - a.mean(axis=0)) / (a.std(axis=0) + 1e-8)   # the released code's std + 1e-8


def brute_emms_two_flabels(x, flabels):
    """min over lambda in [0, 1] of ||(I - P_X)(lambda Y_1 + (1 - lambda) Y_2)||^2 / (N D2), z-scored inputs."""
    xs = _zscore(x)
    ys = [_zscore(y) for y in flabels]
    projector = xs @ np.linalg.pinv(xs)
    residuals = [y - projector @ y for y in ys]
    r = np.array([[np.sum(a * b) for b in residuals] for a in residuals])
    # f(l) = l^2 r00 + 2 l (1 - l) r01 + (1 - l)^2 r11
    a = r[0, 0] - 2 * r[0, 1] + r[1, 1]
    b = 2 * r[0, 1] - 2 * r[1, 1]
    candidates = [0.0, 1.0] + ([-b / (2 * a)] if a > 0 and 0 < -b / (2 * a) < 1 else [])
    f = min(l * l * r[0, 0] + 2 * l * (1 - l) * r[0, 1] + (1 - l) ** 2 * r[1, 1] for l in candidates)
    return -f / (x.shape[0] * flabels[0].shape[1])


def test_emms_std_eps_1e8_and_no_ridge_by_default():
    assert default_of(emms, "ridge") == 0.0
    rng = np.random.default_rng(11)
    n, d1, d2 = 50, 6, 3
    x = rng.normal(size=(n, d1))
    # F-labels of tiny spread (std ~1e-7 and ~3e-8): the + 1e-8 changes their scale by 10% and 30%
    y1 = 1e-7 * (x @ rng.normal(size=(d1, d2)) / 3 + rng.normal(size=(n, d2)))
    y2 = 3e-8 * (x @ rng.normal(size=(d1, d2)) / 3 + 2 * rng.normal(size=(n, d2)))
    assert_rel(emms(x, [y1, y2]), brute_emms_two_flabels(x, [y1, y2]))


# ---------------------------------------------------------------------------------------------- N-LEEP

def _features_with_variance_ratios(rng, labels, ratios):
    """Class-structured features whose PCA explained-variance ratios are exactly ``ratios``."""
    z = rng.normal(size=(len(labels), len(ratios))) + 1.5 * rng.normal(size=(labels.max() + 1, len(ratios)))[labels]
    z -= z.mean(axis=0)
    u, _, vt = np.linalg.svd(z, full_matrices=False)
    return 3.0 + u @ np.diag(np.sqrt(np.asarray(ratios) * len(labels))) @ vt


def brute_nleep(x, labels, variance=0.8, per_class=5, seed=0):
    from sklearn.mixture import GaussianMixture

    n_classes = labels.max() + 1
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    ratio = s ** 2 / np.sum(s ** 2)
    k = int(np.argmax(np.cumsum(ratio) > variance)) + 1      # the fewest components whose ratio exceeds 0.8
    loadings = vt[:k].T
    loadings = loadings * np.sign(loadings[np.argmax(np.abs(loadings), axis=0), np.arange(k)])
    scores = centred @ loadings
    mixture = GaussianMixture(n_components=per_class * n_classes, covariance_type="full", random_state=seed)
    posteriors = mixture.fit(scores).predict_proba(scores)
    joint = np.array([posteriors[labels == c].sum(axis=0) for c in range(n_classes)]) / len(labels)
    conditional = joint / joint.sum(axis=0)
    return float(np.mean(np.log(np.sum(posteriors * conditional[labels], axis=1))))


@pytest.mark.parametrize("ratios", [(0.5, 0.2999, 0.2001), (0.5, 0.3001, 0.1999)],
                         ids=["cumulative-0.7999-keeps-3", "cumulative-0.8001-keeps-2"])
def test_nleep_pca_variance_08_five_components_per_class_seed_0(ratios):
    assert default_of(nleep, "pca_variance") == 0.8
    assert default_of(nleep, "components_per_class") == 5
    assert default_of(nleep, "seed") == 0
    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(2), 30)
    x = _features_with_variance_ratios(rng, labels, ratios)
    assert_rel(nleep(x, labels), brute_nleep(x, labels), rtol=1e-7)


# ---------------------------------------------------------------------------------------------- reg_hscore

def brute_reg_hscore(x, labels):
    from sklearn.covariance import ledoit_wolf_shrinkage

    n, d = x.shape
    centred = x - x.mean(axis=0)
    s = centred.T @ centred / n                                   # maximum-likelihood covariance
    alpha = ledoit_wolf_shrinkage(x)
    shrunk = (1 - alpha) * s + alpha * np.trace(s) / d * np.eye(d)
    means = np.array([x[labels == c].mean(axis=0) for c in range(labels.max() + 1)])
    between = np.cov(means[labels], rowvar=False)                 # 1/(N - 1), as np.cov in the published code
    return float((1 - alpha) * np.trace(np.linalg.pinv(shrunk) @ between)), alpha


def test_reg_hscore_ledoit_wolf_shrinkage_and_normalisations():
    rng = np.random.default_rng(3)
    x, labels = class_features(rng, 12, 10, 3, separation=0.7)
    x[:, :3] *= 4.0
    expected, alpha = brute_reg_hscore(x, labels)
    assert 0.05 < alpha < 0.95                                    # the shrinkage is neither 0 nor 1 here
    assert_rel(reg_hscore(x, labels), expected)


# ---------------------------------------------------------------------------------------------- TransRate

def brute_transrate(x, labels, eps=1e-4):
    def rate(z):
        n, d = z.shape
        return 0.5 * np.linalg.slogdet(np.eye(d) + z.T @ z / (n * eps))[1]

    z = x - x.mean(axis=0)
    return rate(z) - np.mean([rate(z[labels == c]) for c in range(labels.max() + 1)])


def test_transrate_eps_1e4():
    assert default_of(transrate, "eps") == 1e-4
    rng = np.random.default_rng(7)
    x, labels = class_features(rng, 20, 5, 3, scale=0.01)          # variances ~1e-4: eps matters
    assert_rel(transrate(x, labels), brute_transrate(x, labels))


# ---------------------------------------------------------------------------------------------- GBC

def brute_gbc(x, labels, gaussian="spherical", pca_dim=None):
    if pca_dim is not None:
        centred = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        x = centred @ vt[:pca_dim].T
    n_classes, dim = labels.max() + 1, x.shape[1]
    covariances, means = [], []
    for c in range(n_classes):
        members = x[labels == c]
        variance = np.maximum(members.var(axis=0), 1e-4)              # the published floor
        if gaussian == "spherical":
            variance = np.full(dim, variance.mean())
        covariances.append(np.diag(variance))
        means.append(members.mean(axis=0))
    total = 0.0
    for i in range(n_classes):
        for j in range(n_classes):
            if i != j:
                average = (covariances[i] + covariances[j]) / 2
                diff = means[i] - means[j]
                distance = diff @ np.linalg.solve(average, diff) / 8 + 0.5 * (
                    np.linalg.slogdet(average)[1]
                    - 0.5 * np.linalg.slogdet(covariances[i])[1] - 0.5 * np.linalg.slogdet(covariances[j])[1])
                total += np.exp(-distance)
    return -total


def _gbc_case():
    rng = np.random.default_rng(13)
    x, labels = class_features(rng, 15, 6, 3, separation=0.004, scale=1.0)
    x[:, :3] *= 0.005                           # within-class variances ~2.5e-5, below the floor
    x[:, 3:] *= 0.012                           # ~1.4e-4, above it
    x[labels == 1, 3:] *= 0.5                   # a class below the floor there too
    return x, labels


@pytest.mark.parametrize("gaussian", ["spherical", "diagonal"])
def test_gbc_variance_floor_1e4(gaussian):
    x, labels = _gbc_case()
    assert_rel(gbc(x, labels, gaussian=gaussian), brute_gbc(x, labels, gaussian))


def test_gbc_default_is_spherical():
    assert default_of(gbc, "gaussian") == "spherical"
    x, labels = _gbc_case()
    assert_rel(gbc(x, labels), brute_gbc(x, labels, "spherical"))


def test_gbc_registry_passes_pca_dim_64():
    assert METRICS["gbc"].defaults == {"pca_dim": 64}
    rng = np.random.default_rng(17)
    x, labels = class_features(rng, 40, 80, 3, separation=0.25)
    x *= np.linspace(0.5, 1.5, 80)
    assert_rel(METRICS["gbc"](x, labels), brute_gbc(x, labels, "spherical", pca_dim=64))


# ---------------------------------------------------------------------------------------------- SFDA / LDA

def brute_lda_posterior(x, labels, shrinkage=None):
    n, d = x.shape
    n_classes = labels.max() + 1
    priors = np.bincount(labels) / n
    means = np.array([x[labels == c].mean(axis=0) for c in range(n_classes)])
    within = sum(priors[c] * np.cov(x[labels == c], rowvar=False, bias=True) for c in range(n_classes))
    if shrinkage is None:
        v = within.sum(axis=1)                                    # published power iteration, 3 rounds
        for _ in range(3):
            w = within @ v
            w = w / np.linalg.norm(w)
            v = within @ w
            v = v / np.linalg.norm(v)
        largest = v @ within @ w
        shrinkage = max(np.exp(-5 * largest), 1e-10)
    shrunk = (1 - shrinkage) * within + shrinkage * np.trace(within) / d * np.eye(d)
    coef = np.linalg.solve(shrunk, means.T).T
    logits = x @ coef.T - 0.5 * np.sum(means * coef, axis=1) + np.log(priors)
    return softmax(logits, axis=1), shrinkage


def brute_sfda(x, labels):
    n_classes = labels.max() + 1
    probs, shrinkage = brute_lda_posterior(x, labels)
    confidence = softmax(probs, axis=1)[np.arange(len(labels)), labels][:, None]
    means = np.array([x[labels == c].mean(axis=0) for c in range(n_classes)])
    others = (means.sum(axis=0) - means) / (n_classes - 1)
    challenged = confidence * x + (1 - confidence) * others[labels]
    probs, _ = brute_lda_posterior(challenged, labels, shrinkage)
    return float(np.mean(probs[np.arange(len(labels)), labels])), shrinkage


def test_sfda_shrinkage_rate_5_and_three_power_rounds():
    rng = np.random.default_rng(19)
    labels = np.repeat(np.arange(3), 20)
    # within-class covariance with two close top eigenvalues (0.3, 0.28): 3 rounds do not converge
    rotation = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    noise = rng.normal(size=(60, 5)) * np.sqrt([0.3, 0.28, 0.1, 0.05, 0.02]) @ rotation.T
    x = 0.4 * rng.normal(size=(3, 5))[labels] + noise
    expected, shrinkage = brute_sfda(x, labels)
    assert 0.05 < shrinkage < 0.9
    assert_rel(sfda(x, labels), expected)


def test_sfda_shrinkage_floor_1e10():
    rng = np.random.default_rng(23)
    labels = np.repeat(np.arange(3), 20)
    x = 3 * rng.normal(size=(3, 4))[labels] + 4 * rng.normal(size=(60, 4))   # lambda_max ~16: at the floor
    # a dimension constant within each class with class offsets ~1e-5: only the shrinkage (1e-10 * tr/D)
    # bounds its inverse, so the posteriors depend on the floor
    offsets = np.array([0.0, 1.0, -0.6]) * 2e-5
    x = np.hstack([x, offsets[labels][:, None]])
    expected, shrinkage = brute_sfda(x, labels)
    assert shrinkage == 1e-10
    assert_rel(sfda(x, labels), expected)


# ---------------------------------------------------------------------------------------------- PARC

def brute_parc(x, labels, pca_dim=32):
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    if pca_dim is not None and pca_dim < x.shape[1]:
        x = PCA(n_components=min(pca_dim, x.shape[0]), svd_solver="randomized", random_state=1919,
                iterated_power=1).fit_transform(x)
    x = StandardScaler().fit_transform(x)
    dissimilarity = 1 - np.corrcoef(x)
    different = (labels[:, None] != labels[None, :]).astype(float)   # RDM_y up to a monotone map
    upper = np.triu_indices(len(x), 1)
    return 100 * spearmanr(dissimilarity[upper], different[upper])[0]


def test_parc_pca_32_seed_1919_iterated_power_1_factor_100():
    assert default_of(parc, "pca_dim") == 32
    rng = np.random.default_rng(29)
    x, labels = class_features(rng, 20, 64, 4, separation=0.3)   # 64 > 32 + 10 oversamples: randomized is inexact
    x *= np.linspace(0.3, 2.0, 64)
    assert_rel(parc(x, labels), brute_parc(x, labels))


def test_parc_max_samples_15000_is_what_is_passed(monkeypatch):
    parc_module = module("parc")
    assert default_of(parc, "max_samples") == 15000
    seen = []
    real = parc_module.stratified_subsample

    def recording(targets, max_samples, seed):
        seen.append((max_samples, seed))
        return real(targets, max_samples, seed)

    monkeypatch.setattr(parc_module, "stratified_subsample", recording)
    rng = np.random.default_rng(31)
    x, labels = class_features(rng, 10, 5, 3)
    parc(x, labels)
    assert seen == [(15000, 0)]


def _stratified(labels, max_samples, seed=0):
    rng = np.random.default_rng(seed)
    fraction = max_samples / len(labels)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=max(2, int(fraction * np.sum(labels == c))),
                         replace=False) for c in range(labels.max() + 1)]
    return np.sort(np.concatenate(chosen))


def test_parc_subsample_seed_0():
    assert default_of(parc, "seed") == 0
    rng = np.random.default_rng(37)
    x, labels = class_features(rng, 30, 8, 3, separation=0.5)
    keep = _stratified(labels, 40, seed=0)
    assert_rel(parc(x, labels, max_samples=40), brute_parc(x[keep], labels[keep]))


# ---------------------------------------------------------------------------------------------- kNN

def brute_knn(x, labels, k=10, queries=None):
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    queries = range(len(x)) if queries is None else queries
    correct = 0
    for i in queries:
        similarity = unit @ unit[i]
        order = sorted((j for j in range(len(x)) if j != i), key=lambda j: (-similarity[j], j))[:k]
        votes = {}
        for j in order:
            votes[labels[j]] = votes.get(labels[j], 0) + 1
        best = max(votes.values())
        winner = next(labels[j] for j in order if votes[labels[j]] == best)
        correct += winner == labels[i]
    return correct / len(queries)


def _knn_case():
    rng = np.random.default_rng(41)
    return class_features(rng, 40, 6, 3, separation=0.45)


def test_knn_k_10():
    assert default_of(knn, "k") == 10
    x, labels = _knn_case()
    assert_rel(knn(x, labels), brute_knn(x, labels, k=10))


def test_knn_query_seed_0():
    assert default_of(knn, "seed") == 0
    x, labels = _knn_case()
    queries = np.sort(np.random.default_rng(0).choice(len(x), size=30, replace=False))
    assert_rel(knn(x, labels, max_queries=30), brute_knn(x, labels, k=10, queries=queries))


# ---------------------------------------------------------------------------------------------- NCTI

def brute_ncti_components(x, labels):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(64, *x.shape)                                          # PCA to 64
    reduced = centred @ vt[:k].T
    variances = s[:k] ** 2 / (len(x) - 1)
    shrinkage = max(np.exp(-variances[:32].sum()), 1e-10)          # top 32, floor 1e-10
    lda = (LinearDiscriminantAnalysis(solver="svd") if shrinkage == 1e-10
           else LinearDiscriminantAnalysis(solver="eigen", shrinkage=shrinkage))
    projected = lda.fit_transform(reduced, labels)
    seli = np.linalg.norm(projected - projected.mean(axis=0), ord="nuc")
    posteriors = lda.predict_proba(reduced)
    ncc = np.mean(posteriors[np.arange(len(labels)), labels])
    vc = np.log(sum(np.linalg.norm(posteriors[labels == c], ord="nuc") for c in range(labels.max() + 1)))
    return np.array([seli, ncc, vc])


def _min_max(values):
    spread = values.max() - values.min()
    return (values - values.min()) / spread if spread > 0 else np.zeros_like(values)


def brute_ncti(zoo, labels):
    components = np.array([brute_ncti_components(x, labels) for x in zoo.values()])
    seli, ncc, vc = (_min_max(column) for column in components.T)
    return dict(zip(zoo, seli + ncc - vc))


def _scaled_to_top32_variance(x, total):
    """x scaled so that its 32 largest PCA variances sum to ``total`` (NCTI's shrinkage exp(-total))."""
    centred = x - x.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return x * np.sqrt(total / np.sum(s[:32] ** 2 / (len(x) - 1)))


def _assert_zoo(actual, expected):
    assert actual.keys() == expected.keys()
    for name in expected:
        assert abs(actual[name] - expected[name]) <= 1e-9 * max(1.0, abs(expected[name])), (name, actual, expected)


def test_ncti_pca_64_top_32_and_weights():
    rng = np.random.default_rng(43)
    labels = np.repeat(np.arange(4), 25)
    zoo = {}
    for m, (total, separation) in enumerate([(0.5, 0.3), (1.0, 0.5), (2.0, 0.4)]):
        x = separation * rng.normal(size=(4, 70))[labels] + rng.normal(size=(100, 70)) * np.linspace(0.2, 1.5, 70)
        zoo[f"m{m}"] = _scaled_to_top32_variance(x, total)
    _assert_zoo(ncti(zoo, labels), brute_ncti(zoo, labels))


def test_ncti_shrinkage_floor_1e10_and_svd_solver_at_it():
    rng = np.random.default_rng(47)
    labels = np.repeat(np.arange(3), 25)
    zoo = {}
    # exp(-total) = 1.05e-10 just above the floor (eigen solver), 0.95e-10 just below it (svd solver). One
    # direction of small within-class spread (std 3e-3 against ~1, classes 1 apart) makes the tiny shrinkage, and
    # so the choice of solver, move seli by ~1e-6 relative
    for m, (total, separation) in enumerate([(-np.log(1.05e-10), 0.4), (-np.log(0.95e-10), 0.6), (1.0, 0.5)]):
        x = separation * rng.normal(size=(3, 40))[labels] + rng.normal(size=(75, 40)) * np.linspace(0.3, 1.2, 40)
        narrow = np.array([0.0, 1.0, -0.7])[labels] + 3e-3 * rng.normal(size=75)
        zoo[f"m{m}"] = _scaled_to_top32_variance(np.hstack([x, narrow[:, None]]), total)
    _assert_zoo(ncti(zoo, labels), brute_ncti(zoo, labels))


# ---------------------------------------------------------------------------------------------- ETran

def brute_etran(zoo, labels):
    energies, classifications = [], []
    for x in zoo.values():
        negative_energy = np.sort(logsumexp(x, axis=1))
        energies.append(np.mean(negative_energy[:max(1, int(0.005 * len(x)))]))   # the lowest 0.5%
        posteriors, _ = brute_lda_posterior(x, labels)
        classifications.append(np.mean(posteriors[np.arange(len(labels)), labels]))
    combined = 0.15 * _min_max(np.array(energies)) + 0.85 * _min_max(np.array(classifications))
    return dict(zip(zoo, combined))


def test_etran_weights_015_085_and_lowest_half_percent():
    rng = np.random.default_rng(53)
    labels = np.repeat(np.arange(4), 250)                          # N = 1000: the lowest 5 samples
    zoo = {}
    for m, (scale, separation) in enumerate([(1.0, 0.3), (1.4, 0.5), (0.8, 0.8)]):
        zoo[f"m{m}"] = scale * (separation * rng.normal(size=(4, 8))[labels] + rng.normal(size=(1000, 8)))
    _assert_zoo(etran(zoo, labels), brute_etran(zoo, labels))


def test_every_metric_module_constant_pinned_here_has_its_published_value():
    """The module-level names, so that a renamed or re-valued constant is seen even before the value tests."""
    _lda, emms_module, etran_module, gbc_module, knn_module, ncti_module, parc_module = (
        module(name) for name in ("_lda", "emms", "etran", "gbc", "knn", "ncti", "parc"))

    assert emms_module.STD_EPS == 1e-8
    assert gbc_module.VARIANCE_FLOOR == 1e-4
    assert _lda.SHRINKAGE_FLOOR == 1e-10 and _lda.ADAPTIVE_SHRINKAGE_RATE == 5
    assert default_of(_lda.largest_eigenvalue_estimate, "rounds") == 3
    assert parc_module.PUBLISHED_PCA_SEED == 1919
    assert knn_module.DEFAULT_K == 10
    assert (ncti_module.PCA_DIM, ncti_module.SHRINKAGE_FROM_TOP, ncti_module.SHRINKAGE_FLOOR) == (64, 32, 1e-10)
    assert (etran_module.ENERGY_WEIGHT, etran_module.LDA_WEIGHT, etran_module.LOWEST_ENERGY_PER_MILLE) == \
        (0.15, 0.85, 5)
    assert metrics.METRICS["gbc"].defaults["pca_dim"] == 64
