"""Degenerate inputs give their number with a word: a warning stored with the score, never a silent value or NaN."""
import numpy as np
import pytest

import metrics
from pipeline import evaluate
from pipeline.store import Store


def _scored(tmp_path, labels, table=None, metric_names=("knn", "emms")):
    store = Store(tmp_path / "results")
    rng = np.random.default_rng(0)
    for model in ("a", "b", "c"):
        store.save_features("odd", model, rng.normal(size=(len(labels), 4)), labels, {"data": {"fingerprint": "x"}})
    classes = int(labels.max()) + 1
    store.save_flabels("odd", "enc", "class", rng.normal(size=(classes, 6)) if table is None else table, {})
    outcome = evaluate.run(evaluate.Settings(task="classification", zoo="mine", datasets=["odd"],
                                             metrics=list(metric_names), results=str(store.root)))
    return store, [p.message for p in outcome["problems"] if p.kind == "warning"]


def test_classes_of_one_sample_are_warned_and_the_warning_is_stored(tmp_path):
    labels = np.r_[np.arange(30) % 2, 2, 3]   # classes 2 and 3 have one sample each
    store, warnings = _scored(tmp_path, labels)
    assert any("2 of 4 classes have a single sample" in w for w in warnings)
    assert any("2 of 4 classes" in w for w in store.load_scores("odd", "knn")["a"]["warnings"])


def test_every_class_its_own_sample_is_warned(tmp_path):
    _, warnings = _scored(tmp_path, np.arange(6), metric_names=("logme",))
    assert any("every class has a single sample" in w for w in warnings)


def test_a_constant_flabel_table_is_warned(tmp_path):
    labels = np.arange(30) % 3
    store, warnings = _scored(tmp_path, labels, table=np.ones((3, 6)), metric_names=("emms",))
    assert any("F-label table of 'enc' is constant" in w for w in warnings)
    assert np.isfinite(store.load_scores("odd", "emms")["a"]["score"])


def test_reg_hscore_does_not_overflow_on_huge_features():
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(60, 5)), np.arange(60) % 3
    expected = metrics.reg_hscore(features, labels)
    for scale in (1e100, 1e-100):
        assert metrics.reg_hscore(features * scale, labels) == pytest.approx(expected, rel=1e-9)
