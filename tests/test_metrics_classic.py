"""Values of the classic transferability metrics: known answers, brute force on small cases, contracts."""
import math

import numpy as np
import pytest

from metrics.etran import etran
from metrics.gbc import gbc
from metrics.knn import knn
from metrics.leep import leep
from metrics.nce import nce
from metrics.ncti import ncti
from metrics.nleep import nleep
from metrics.parc import parc
from metrics.sfda import sfda

N_CLASSES = 4


def make_data(n=120, dim=12, n_classes=N_CLASSES, separation=8.0, seed=0):
    """Balanced labels and features: class centres `separation` apart (0 gives pure noise)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    centres = rng.normal(size=(n_classes, dim)) * separation
    return rng.normal(size=(n, dim)) + centres[labels], labels


SEPARABLE, LABELS = make_data()
RANDOM, _ = make_data(separation=0.0, seed=1)

FEATURE_METRICS = {
    "nleep": lambda x, y: nleep(x, y, components_per_class=2),
    "gbc": gbc,
    "gbc_diagonal_pca": lambda x, y: gbc(x, y, gaussian="diagonal", pca_dim=6),
    "sfda": sfda,
    "parc": lambda x, y: parc(x, y, pca_dim=8),
    "knn": lambda x, y: knn(x, y, k=5),
}
ZOO_METRICS = {"ncti": ncti, "etran": etran}


# ----------------------------------------------------------------------------------------------- LEEP


def leep_brute_force(probs, labels):
    n, n_source = probs.shape
    n_target = labels.max() + 1
    joint = np.zeros((n_target, n_source))
    for i in range(n):
        for z in range(n_source):
            joint[labels[i], z] += probs[i, z] / n
    total = 0.0
    for i in range(n):
        total += math.log(sum(joint[labels[i], z] / joint[:, z].sum() * probs[i, z] for z in range(n_source)))
    return total / n


def test_leep_is_zero_for_perfect_one_hot_predictions():
    assert leep(np.eye(N_CLASSES)[LABELS], LABELS) == pytest.approx(0.0, abs=1e-12)


def test_leep_is_log_one_over_c_for_uninformative_predictions():
    rng = np.random.default_rng(2)
    labels = np.arange(4000) % 5
    probs = rng.dirichlet(np.ones(7), size=4000)
    assert leep(probs, labels) == pytest.approx(math.log(1 / 5), abs=0.01)


def test_leep_equals_brute_force_double_loop():
    rng = np.random.default_rng(3)
    labels = np.array([0, 2, 1, 2, 0, 1, 1, 2])
    probs = rng.dirichlet(np.ones(3), size=8)
    assert leep(probs, labels) == pytest.approx(leep_brute_force(probs, labels), rel=1e-12)


def test_leep_rejects_logits():
    with pytest.raises(ValueError, match="source_probs"):
        leep(np.random.default_rng(0).normal(size=(8, 3)), np.arange(8) % 2)


# ------------------------------------------------------------------------------------------------ NCE


def test_nce_equals_hand_computed_conditional_entropy():
    source = np.array([0, 0, 1, 1, 1])
    target = np.array([0, 1, 1, 1, 0])
    # P(y,z): (0,0)=1/5 (1,0)=1/5 (1,1)=2/5 (0,1)=1/5; P(z=0)=2/5, P(z=1)=3/5
    expected = 0.2 * math.log(0.5) + 0.2 * math.log(0.5) + 0.4 * math.log(2 / 3) + 0.2 * math.log(1 / 3)
    assert nce(source, target) == pytest.approx(expected, rel=1e-12)


def test_nce_takes_probabilities_by_argmax_and_hard_labels_of_any_values():
    source = np.array([0, 0, 1, 1, 1, 2])
    target = np.array([0, 1, 1, 1, 0, 0])
    probs = np.eye(3)[source] * 0.6 + 0.4 / 3
    assert nce(probs, target) == nce(source, target) == nce(source * 10 + 7, target)


def test_nce_is_zero_when_source_determines_target_and_minus_entropy_when_independent():
    assert nce(LABELS, LABELS) == pytest.approx(0.0, abs=1e-12)
    independent_source = np.repeat(np.arange(2), 2 * N_CLASSES)  # each source class sees every label twice
    labels = np.tile(np.arange(N_CLASSES), 4)
    assert nce(independent_source, labels) == pytest.approx(-math.log(N_CLASSES), rel=1e-12)


# ------------------------------------------------------------------------------------------------ GBC


def gbc_brute_force(x, labels, gaussian, published_spherical=False):
    """Pairwise loop with explicit covariance matrices and determinants."""
    classes = np.unique(labels)
    dim = x.shape[1]
    stats = {}
    for c in classes:
        members = x[labels == c]
        variance = np.maximum(members.var(axis=0), 1e-4)
        if gaussian == "spherical":
            variance = np.full(dim, variance.mean())
        stats[c] = (members.mean(axis=0), np.diag(variance))
    total = 0.0
    for i in classes:
        for j in classes:
            if i == j:
                continue
            (mu_i, cov_i), (mu_j, cov_j) = stats[i], stats[j]
            cov = (cov_i + cov_j) / 2
            diff = mu_i - mu_j
            log_term = math.log(np.linalg.det(cov) / math.sqrt(np.linalg.det(cov_i) * np.linalg.det(cov_j)))
            if published_spherical:
                log_term /= dim
            total += math.exp(-(diff @ np.linalg.solve(cov, diff) / 8 + log_term / 2))
    return -total


@pytest.mark.parametrize("gaussian", ["spherical", "diagonal"])
def test_gbc_equals_brute_force_pairwise_loop(gaussian):
    x, labels = make_data(n=60, dim=5, separation=1.0, seed=4)
    x = x * np.linspace(0.5, 2.0, 5)  # unequal variances, so the log-determinant term matters
    assert gbc(x, labels, gaussian=gaussian) == pytest.approx(gbc_brute_force(x, labels, gaussian), rel=1e-10)


def test_gbc_published_spherical_counts_the_log_term_once():
    x, labels = make_data(n=60, dim=5, separation=1.0, seed=4)
    x[labels == 0] *= 3.0
    published = gbc(x, labels, published_spherical=True)
    assert published == pytest.approx(gbc_brute_force(x, labels, "spherical", published_spherical=True), rel=1e-10)
    assert published != pytest.approx(gbc(x, labels), rel=1e-3)


def test_gbc_range_and_separated_classes():
    c = N_CLASSES
    assert gbc(SEPARABLE * 10, LABELS) == pytest.approx(0.0, abs=1e-12)
    for x in (SEPARABLE, RANDOM):
        assert -c * (c - 1) <= gbc(x, LABELS) <= 0
    identical = np.tile(RANDOM[: len(LABELS) // c], (c, 1))[np.argsort(np.argsort(LABELS, kind="stable"))]
    assert gbc(identical, LABELS) == pytest.approx(-c * (c - 1), rel=1e-9)


# ------------------------------------------------------------------------------------------------ kNN


def knn_brute_force(x, labels, k):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms == 0, 1.0, norms)   # an all-zero row: cosine similarity 0 with everything
    correct = 0
    for i in range(len(x)):
        others = sorted((-float(unit[i] @ unit[j]), j) for j in range(len(x)) if j != i)
        nearest = [labels[j] for _, j in others[:k]]
        counts = {label: nearest.count(label) for label in nearest}
        best = max(counts.values())
        prediction = next(label for label in nearest if counts[label] == best)
        correct += prediction == labels[i]
    return correct / len(x)


@pytest.mark.parametrize("k", [1, 4, 7])
def test_knn_equals_brute_force_loop_including_ties(k):
    x, labels = make_data(n=50, dim=3, separation=0.7, seed=5)
    x[10:20] = x[0]  # exact duplicates: tied similarities
    x[30:35] = 2.5 * x[25]  # same direction: tied cosine similarity
    assert knn(x, labels, k=k) == pytest.approx(knn_brute_force(x, labels, k), abs=1e-15)


def test_knn_perfect_and_bad_k():
    assert knn(SEPARABLE, LABELS) == 1.0
    for bad in (0, len(LABELS), 2.5):
        with pytest.raises(ValueError, match="k must"):
            knn(SEPARABLE, LABELS, k=bad)


# ------------------------------------------------------------------------------------ N-LEEP, SFDA, PARC


def test_nleep_is_deterministic_and_ranks_separable_above_random():
    first = nleep(SEPARABLE, LABELS, components_per_class=2)
    assert first == nleep(SEPARABLE, LABELS, components_per_class=2)
    assert first == pytest.approx(0.0, abs=1e-6)
    assert first > nleep(RANDOM, LABELS, components_per_class=2) + 0.5
    assert nleep(SEPARABLE, LABELS, covariance_type="diag") > nleep(RANDOM, LABELS, covariance_type="diag")


def test_nleep_rejects_more_components_than_samples():
    with pytest.raises(ValueError, match="components"):
        nleep(SEPARABLE[:12], LABELS[:12], components_per_class=5)


def test_sfda_and_parc_rank_separable_above_random():
    assert sfda(SEPARABLE, LABELS) == pytest.approx(1.0, abs=1e-6)
    assert 0 < sfda(RANDOM, LABELS) < 0.6
    assert parc(SEPARABLE, LABELS) > 50 > 10 > parc(RANDOM, LABELS)


# ------------------------------------------------------------------------------------------ NCTI, ETran


@pytest.mark.parametrize("metric", ZOO_METRICS.values(), ids=ZOO_METRICS.keys())
def test_zoo_metrics_return_floats_and_rank_separable_first(metric):
    wide_random = np.random.default_rng(6).normal(size=(len(LABELS), 70))
    wide_separable = np.hstack([SEPARABLE * 3, wide_random[:, :58]])
    scores = metric({"separable": wide_separable, "random": wide_random, "narrow": SEPARABLE}, LABELS)
    assert set(scores) == {"separable", "random", "narrow"}
    assert all(type(value) is float for value in scores.values())
    assert scores["separable"] > scores["random"]


@pytest.mark.parametrize("metric", ZOO_METRICS.values(), ids=ZOO_METRICS.keys())
def test_zoo_metrics_reject_one_model_and_mismatched_rows(metric):
    with pytest.raises(ValueError, match="at least 2 models"):
        metric({"only": SEPARABLE}, LABELS)
    with pytest.raises(ValueError, match="same samples"):
        metric({"a": SEPARABLE, "b": RANDOM[:-4]}, LABELS)
    with pytest.raises(ValueError, match="model name"):
        metric([SEPARABLE, RANDOM], LABELS)


# ------------------------------------------------------------------------------- shared contract, all


@pytest.mark.parametrize("metric", FEATURE_METRICS.values(), ids=FEATURE_METRICS.keys())
def test_separable_features_outrank_random_features(metric):
    assert metric(SEPARABLE, LABELS) > metric(RANDOM, LABELS)


def test_informative_source_probabilities_outrank_random_ones():
    informative = np.eye(N_CLASSES)[LABELS] * 0.7 + 0.3 / N_CLASSES
    random = np.random.default_rng(7).dirichlet(np.ones(N_CLASSES), size=len(LABELS))
    assert leep(informative, LABELS) > leep(random, LABELS)
    assert nce(informative, LABELS) > nce(random, LABELS)


RENAMED = np.array([30, -2, 7, 11])[LABELS]  # a permutation of the classes with other values


@pytest.mark.parametrize("metric", FEATURE_METRICS.values(), ids=FEATURE_METRICS.keys())
def test_invariant_to_label_renaming(metric):
    x, labels = make_data(separation=1.0, seed=8)
    assert metric(x, np.array([30, -2, 7, 11])[labels]) == pytest.approx(metric(x, labels), rel=1e-9, abs=1e-12)


def test_probability_and_zoo_metrics_invariant_to_label_renaming():
    probs = np.random.default_rng(9).dirichlet(np.ones(5), size=len(LABELS))
    assert leep(probs, RENAMED) == pytest.approx(leep(probs, LABELS), rel=1e-12)
    assert nce(probs, RENAMED) == pytest.approx(nce(probs, LABELS), rel=1e-12)
    x, labels = make_data(separation=1.0, seed=8)
    zoo = {"a": x, "b": RANDOM, "c": x + RANDOM}
    renamed = np.array([30, -2, 7, 11])[labels]
    for metric in ZOO_METRICS.values():
        for name, value in metric(zoo, renamed).items():
            assert value == pytest.approx(metric(zoo, labels)[name], rel=1e-7, abs=1e-9)


def test_inputs_are_never_modified_and_repeated_calls_are_identical():
    x, labels = make_data(separation=1.0, seed=10)
    x32 = x.astype(np.float32)
    probs = np.random.default_rng(11).dirichlet(np.ones(5), size=len(labels))
    zoo = {"a": x32, "b": RANDOM}
    saved = [x32.copy(), labels.copy(), probs.copy(), RANDOM.copy()]
    for metric in FEATURE_METRICS.values():
        assert metric(x32, labels) == metric(x32, labels)
    for metric in ZOO_METRICS.values():
        assert metric(zoo, labels) == metric(zoo, labels)
    assert leep(probs, labels) == leep(probs, labels) and nce(probs, labels) == nce(probs, labels)
    for before, after in zip(saved, [x32, labels, probs, RANDOM]):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("metric", FEATURE_METRICS.values(), ids=FEATURE_METRICS.keys())
def test_float32_input_gives_nearly_the_float64_score(metric):
    # float32 rounding of the input (relative 6e-8) moves an unsaturated score by far less than 1e-4
    x, labels = make_data(separation=1.0, seed=8)
    score = metric(x, labels)
    assert 1e-3 < abs(score) and metric(x.astype(np.float32), labels) == pytest.approx(score, rel=1e-4)


BAD_FEATURE_INPUTS = {
    "nan": (np.where(np.eye(len(LABELS), 12, dtype=bool), np.nan, SEPARABLE), LABELS, "NaN"),
    "1-D": (SEPARABLE[:, 0], LABELS, "2-D"),
    "rows": (SEPARABLE[:-1], LABELS, "same samples"),
    "one class": (SEPARABLE, np.zeros_like(LABELS), "at least 2"),
    "float labels": (SEPARABLE, LABELS + 0.5, "integer"),
    "singleton class": (SEPARABLE, np.where(np.arange(len(LABELS)) == 0, 99, LABELS), "per class"),
}


# leave-one-out kNN is defined for a singleton class (never predicted right): its value is tested in
# test_metric_values.py
@pytest.mark.parametrize("metric, case", [
    pytest.param(metric, case, id=f"{name}-{case_name}")
    for name, metric in FEATURE_METRICS.items() for case_name, case in BAD_FEATURE_INPUTS.items()
    if not (name == "knn" and case_name == "singleton class")])
def test_bad_feature_inputs_raise_value_error(metric, case):
    features, labels, message = case
    with pytest.raises(ValueError, match=message):
        metric(features, labels)


@pytest.mark.parametrize("metric, option, optional, good", [
    (nleep, "components_per_class", False, 2), (nleep, "max_fit_samples", True, 100), (gbc, "pca_dim", True, 2),
    (parc, "pca_dim", True, 2), (knn, "max_queries", True, 2)])
def test_count_options_take_positive_integers_only(metric, option, optional, good):
    """One check (metrics._checks.as_positive_int) for every option that counts something: 0, a float and a
    bool are refused with the option's name; a numpy integer is taken, and so is None where it means 'all'."""
    expected = f"{option} must be a positive integer{' or None' if optional else ''}, got"
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match=expected):
            metric(SEPARABLE, LABELS, **{option: bad})
    accepted = [np.int64(good)] + ([None] if optional else [])
    assert all(np.isfinite(metric(SEPARABLE, LABELS, **{option: value})) for value in accepted)


def test_bad_options_and_probability_inputs_raise_value_error():
    with pytest.raises(ValueError, match="gaussian"):
        gbc(SEPARABLE, LABELS, gaussian="full")
    with pytest.raises(ValueError, match="pca_dim"):
        gbc(SEPARABLE, LABELS, pca_dim=0)
    with pytest.raises(ValueError, match="pca_dim"):
        parc(SEPARABLE, LABELS, pca_dim=-3)
    with pytest.raises(ValueError, match="covariance_type"):
        nleep(SEPARABLE, LABELS, covariance_type="round")
    with pytest.raises(ValueError, match="pca_variance"):
        nleep(SEPARABLE, LABELS, pca_variance=1.5)
    with pytest.raises(ValueError, match="sum to 1"):
        leep(np.full((len(LABELS), 3), 0.5), LABELS)
    with pytest.raises(ValueError, match="labels have|features have"):
        leep(np.eye(N_CLASSES)[LABELS][:-1], LABELS)
    with pytest.raises(ValueError, match="source_probs"):
        nce(np.zeros((2, 3, 4)), LABELS[:2])
    with pytest.raises(ValueError, match="integer"):
        nce(LABELS + 0.5, LABELS)


@pytest.mark.parametrize("shape", [(40, 6), (12, 30), (6, 6)], ids=["covariance path", "gram path", "square"])
@pytest.mark.parametrize("scale", [1.0, 0.01])   # 0.01: eigenvalues below 1 (nothing may be clipped at 1)
def test_pca_reduce_matches_sklearn_with_the_largest_loading_positive(shape, scale):
    from sklearn.decomposition import PCA

    from metrics._pca import pca_reduce

    x = scale * np.random.default_rng(12).normal(size=shape) * np.linspace(3.0, 0.5, shape[1])
    n_components = min(5, shape[0] - 1)
    scores, variances = pca_reduce(x, n_components=n_components)
    reference = PCA(n_components=n_components, svd_solver="full").fit(x)
    components = reference.components_
    components *= np.sign(components[np.arange(n_components), np.abs(components).argmax(axis=1)])[:, None]
    np.testing.assert_allclose(variances, reference.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(scores, (x - x.mean(axis=0)) @ components.T, rtol=1e-8, atol=1e-10 * scale)
    kept, _ = pca_reduce(x, variance=0.8)
    assert kept.shape[1] == PCA(n_components=0.8, svd_solver="full").fit(x).n_components_


def test_etran_published_lda_agrees_with_lda_when_within_class_scatter_is_identity():
    rng = np.random.default_rng(13)
    labels = np.arange(200) % N_CLASSES
    residuals = rng.normal(size=(200, 6))
    residuals -= np.stack([residuals[labels == c].mean(axis=0) for c in range(N_CLASSES)])[labels]
    eigenvalues, vectors = np.linalg.eigh(residuals.T @ residuals / 200)
    whitened = residuals @ vectors @ np.diag(eigenvalues ** -0.5) @ vectors.T  # pooled within scatter = I
    zoo = {name: whitened + scale * rng.normal(size=(N_CLASSES, 6))[labels]  # class shifts keep that scatter
           for name, scale in (("a", 2.0), ("b", 1.0), ("c", 0.5))}
    expected = etran(zoo, labels)
    assert etran(zoo, labels, published_lda=True) == pytest.approx(expected, rel=1e-9)
    skewed = {name: x * np.linspace(0.2, 3.0, 6) for name, x in zoo.items()}
    assert etran(skewed, labels, published_lda=True) != pytest.approx(etran(skewed, labels), rel=1e-6)


def test_knn_gives_an_all_zero_row_similarity_zero_to_every_sample():
    features = np.vstack([np.zeros((1, SEPARABLE.shape[1])), SEPARABLE[1:]])
    expected = knn_brute_force(features, LABELS, k=5)
    assert knn(features, LABELS, k=5) == pytest.approx(expected)


def test_pca_components_beyond_the_rank_are_exact_zeros():
    from metrics._pca import pca_reduce

    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 5)) @ rng.normal(size=(5, 50)) + 3.0   # centred rank 5
    scores, variances = pca_reduce(x, n_components=12)
    np.testing.assert_array_equal(scores[:, 5:], 0.0)
    singular = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    np.testing.assert_allclose(variances[:5], singular[:5] ** 2 / 29, rtol=1e-10)
    np.testing.assert_allclose(np.abs(scores[:, :5]).sum(axis=0), np.abs(
        np.linalg.svd(x - x.mean(axis=0), full_matrices=False)[0][:, :5] * singular[:5]).sum(axis=0), rtol=1e-8)


def test_ncti_with_fewer_samples_than_pca_dimensions_is_not_moved_by_rounding():
    """N=40 < NCTI's 64 PCA dimensions: the 40th component of the centred features (rank 39) is rounding noise;
    kept, the LDA fits it and a 1e-9 change of the features moved NCTI by O(1)."""
    rng = np.random.default_rng(1)
    labels = np.arange(40) % 4
    zoo = {f"m{i}": rng.normal(size=(40, 100)) + labels[:, None] * rng.normal(size=100) for i in range(3)}
    nudged = {name: x * (1 + 1e-9 * rng.normal(size=x.shape)) for name, x in zoo.items()}
    before, after = ncti(zoo, labels), ncti(nudged, labels)
    assert after == pytest.approx(before, abs=1e-5)


def test_sfda_and_etran_in_row_blocks_equal_one_block(monkeypatch):
    """SFDA's challenged features, the LDA's within-class scatter and ETran's energies are built block by block
    (memory at sun397's size); blocks of 7 rows with a short last one give the one-block numbers."""
    from metrics import _gram

    rng = np.random.default_rng(8)
    labels = np.repeat(np.arange(3), [9, 14, 23])
    x = rng.normal(size=(46, 5)) + labels[:, None] * rng.normal(size=5)
    whole = sfda(x, labels), etran({"a": x, "b": x[:, :3] ** 2}, labels)
    monkeypatch.setattr(_gram, "BLOCK_ROWS", 7)
    blocked = sfda(x, labels), etran({"a": x, "b": x[:, :3] ** 2}, labels)
    assert blocked[0] == pytest.approx(whole[0], rel=1e-12)
    assert blocked[1] == pytest.approx(whole[1], rel=1e-12, abs=1e-12)


def test_zoo_metrics_of_identical_models_are_all_zero():
    """min-max over a zoo whose models are the same: every component has spread 0 and is normalised to 0, not
    0/0."""
    rng = np.random.default_rng(9)
    labels = np.repeat(np.arange(3), [5, 7, 8])
    x = rng.normal(size=(20, 4)) + labels[:, None]
    assert etran({"a": x, "b": x.copy()}, labels) == {"a": 0.0, "b": 0.0}
    assert ncti({"a": x, "b": x.copy()}, labels) == {"a": 0.0, "b": 0.0}
