"""Each key of stage 3's score cache: change that input alone and the cell is scored again; change nothing and it
is skipped. And an interrupted F-label rewrite never leaves a table that looks complete."""
import numpy as np
import pytest

import metrics
from metrics.registry import MetricSpec
from pipeline import evaluate, store as store_module
from pipeline.store import Store


def _zoo(tmp_path):
    store = Store(tmp_path / "results")
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    for model in ("a", "b", "c"):
        store.save_features("set", model, rng.normal(size=(60, 8)) + labels[:, None], labels,
                            {"weights": "w1", "data": {"fingerprint": "same"}})
    store.save_flabels("set", "enc", "class", rng.normal(size=(3, 5)), {"template": "{}"})
    return store


def _run(store, **changes):
    settings = dict(task="classification", zoo="z", datasets=["set"], metrics=["emms", "ncti"],
                    results=str(store.root))
    return evaluate.run(evaluate.Settings(**{**settings, **changes}))["counts"]


def test_nothing_changed_nothing_rescored(tmp_path):
    store = _zoo(tmp_path)
    assert _run(store)["scored"] == 6
    assert _run(store) == {"scored": 0, "skipped": 4, "failed": 0, "not applicable": 0}   # 3 emms + ncti (zoo)


def test_changed_features_meta_rescores_that_model(tmp_path):
    store = _zoo(tmp_path)
    _run(store)
    features, labels, meta = store.load_features("set", "b")
    store.save_features("set", "b", np.array(features), labels, {**meta, "weights": "w2"})
    counts = _run(store)
    assert counts["scored"] == 1 + 3 and counts["skipped"] == 2    # emms of b; ncti of the whole zoo


def test_changed_flabels_rescore_every_model_of_emms(tmp_path):
    store = _zoo(tmp_path)
    _run(store)
    store.save_flabels("set", "enc", "class", np.ones((3, 5)) + np.eye(3, 5), {"template": "a {}"})
    counts = _run(store, metrics=["emms"])
    assert counts["scored"] == 3 and counts["skipped"] == 0


def test_changed_zoo_rescores_a_whole_zoo_metric(tmp_path):
    store = _zoo(tmp_path)
    _run(store, models=["a", "b", "c"])
    counts = _run(store, models=["a", "b"], metrics=["ncti"])       # NCTI normalises over the zoo
    assert counts["scored"] == 2 and counts["skipped"] == 0


def test_changed_options_rescore_and_changed_defaults_rescore(tmp_path, monkeypatch):
    store = _zoo(tmp_path)
    _run(store, metrics=["emms"])
    assert _run(store, metrics=["emms"], metric_options={"emms": {"ridge": 1.0}})["scored"] == 3
    spec = metrics.METRICS["emms"]
    monkeypatch.setitem(metrics.METRICS, "emms", MetricSpec("emms", spec.function, spec.needs, spec.targets,
                                                             defaults={"ridge": 2.0}))
    assert _run(store, metrics=["emms"])["scored"] == 3


def test_changed_feature_dim_rescores(tmp_path):
    store = _zoo(tmp_path)
    _run(store, metrics=["emms"])
    assert _run(store, metrics=["emms"], feature_dim=4)["scored"] == 3
    assert _run(store, metrics=["emms"])["skipped"] == 3           # the widths' scores are kept apart
    assert sorted(store.load_scores("set", "emms_d4")) == ["a", "b", "c"]


def test_an_interrupted_flabel_rewrite_does_not_look_complete(tmp_path, monkeypatch):
    store = _zoo(tmp_path)
    assert store.has_flabels("set", "enc", "class")

    def failing_save(path, array):
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "save_npy", failing_save)
    with pytest.raises(OSError):
        store.save_flabels("set", "enc", "class", np.zeros((3, 5)), {"template": "new"})
    assert not store.has_flabels("set", "enc", "class")     # neither the new table with the old settings
    assert store.list_flabel_encoders("set", "class") == []
