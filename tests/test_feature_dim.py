"""--feature-dim: every candidate reduced by PCA to one width before the metrics; cached apart; N <= D marked."""
import numpy as np
import pytest
from sklearn.decomposition import PCA

import metrics
from pipeline import evaluate
from pipeline.evaluate.reduce import reduce_width
from pipeline.store import Store


def test_reduce_width_is_pca_computed_in_blocks():
    rng = np.random.default_rng(0)
    features = (rng.normal(size=(500, 12)) * np.arange(1, 13)).astype(np.float32)
    reduced = reduce_width(features, 4, block_rows=64)                  # 8 blocks
    expected = PCA(n_components=4, svd_solver="full").fit_transform(features.astype(np.float64))
    signs = np.sign((reduced * expected).sum(axis=0))                   # PCA's sign is a convention
    np.testing.assert_allclose(reduced, expected * signs, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(reduced, reduce_width(features, 4, block_rows=500))
    assert reduce_width(features, 12) is features and reduce_width(features, 20) is features
    with pytest.raises(ValueError, match="positive width"):
        reduce_width(features, 0)


def _zoo(tmp_path):
    store = Store(tmp_path / "results")
    rng = np.random.default_rng(1)
    labels = np.arange(40) % 4
    for model, width in (("narrow", 6), ("wide", 64), ("middle", 20)):
        store.save_features("set", model, rng.normal(size=(40, width)) + labels[:, None], labels,
                            {"data": {"fingerprint": "same"}})
    store.save_flabels("set", "enc", "class", rng.normal(size=(4, 5)), {})
    truth = tmp_path / "truth.json"
    truth.write_text('{"zoo": "z", "description": "-", "source": "-", "measure": {"set": "accuracy"}, '
                     '"finetune": {"set": {"narrow": 1, "wide": 2, "middle": 3}}}')
    return store, truth


def test_a_score_cached_without_feature_dim_is_not_reused_with_it(tmp_path):
    store, truth = _zoo(tmp_path)
    settings = dict(task="classification", zoo="z", datasets=["set"], metrics=["emms", "logme"],
                    results=str(store.root), ground_truth=str(truth))
    assert evaluate.run(evaluate.Settings(**settings))["counts"]["scored"] == 6
    plain = store.load_scores("set", "emms")["middle"]["score"]
    outcome = evaluate.run(evaluate.Settings(**settings, feature_dim=8))
    assert outcome["counts"]["scored"] == 6 and outcome["counts"]["skipped"] == 0
    features, labels, _ = store.load_features("set", "middle")
    table = store.load_flabels("set", "enc", "class")[0]
    reduced = store.load_scores("set", "emms_d8")["middle"]["score"]
    assert reduced == pytest.approx(metrics.emms(reduce_width(features, 8), [table], labels), rel=1e-10)
    assert reduced != pytest.approx(plain)
    notes = [p for p in outcome["problems"] if p.kind == "note" and "kept at its width" in p.message]
    assert [p.model for p in notes] == ["narrow"] and "kept at its width 6 <= --feature-dim 8" in notes[0].message
    assert evaluate.run(evaluate.Settings(**settings, feature_dim=8))["counts"]["skipped"] == 6
    assert evaluate.run(evaluate.Settings(**settings))["counts"]["skipped"] == 6     # kept apart by width
    assert store.load_scores("set", "emms")["middle"]["score"] == plain


def test_metrics_that_saturate_are_marked_where_a_candidate_has_n_le_d(tmp_path):
    store, truth = _zoo(tmp_path)   # "wide": N=40 <= D=64
    settings = dict(task="classification", zoo="z", datasets=["set"], metrics=["emms", "knn"],
                    results=str(store.root), ground_truth=str(truth))

    def summary_row(name="z/classification_summary.md"):
        text = store.table_path(name).read_text()
        return [cell.strip() for cell in next(line for line in text.splitlines() if line.startswith("| set ")).split("|")]

    evaluate.run(evaluate.Settings(**settings))
    emms, knn = summary_row()[2:4]
    assert emms.endswith("*") and not knn.endswith("*")     # kNN does not saturate at N <= D
    assert "N <= D" in store.table_path("z/classification_summary.md").read_text()
    assert "*" not in store.table_path("z/classification_summary.csv").read_text()   # CSV keeps the number
    evaluate.run(evaluate.Settings(**settings, feature_dim=16))   # every candidate at most 16 wide: N > D
    assert not any(cell.endswith("*") for cell in summary_row("z/classification_d16_summary.md"))
