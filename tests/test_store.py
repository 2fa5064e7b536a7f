"""The store: paths, atomic writes, completeness markers, and messages that say what to run."""
import os

import numpy as np
import pytest

from pipeline import store as store_module
from pipeline.store import MissingInputError, SettingsMismatchError, Store, safe_name


def test_safe_names_keep_ordinary_names_and_clean_hub_ids():
    assert safe_name("resnet50") == "resnet50"
    assert safe_name("hf-hub:laion/CLIP-ViT-g-14") == "hf-hub_laion_CLIP-ViT-g-14"
    with pytest.raises(ValueError, match="no characters"):
        safe_name("///")


def test_features_round_trip_as_float32_and_int64_with_meta(tmp_path):
    store = Store(tmp_path)
    features = np.arange(12, dtype=np.float64).reshape(4, 3)
    store.save_features("toy", "net", features, np.array([0, 1, 0, 1]), {"split": "train"})
    loaded, labels, meta = store.load_features("toy", "net")
    assert loaded.dtype == np.float32 and labels.dtype == np.int64
    np.testing.assert_array_equal(loaded, features)
    assert meta == {"split": "train", "model": "net", "dataset": "toy", "N": 4, "D": 3,
                    "source_probs_saved": False}
    assert oct(os.stat(store.feature_paths("toy", "net")["feature"]).st_mode & 0o777) != "0o600"


def test_missing_features_name_the_file_and_the_command(tmp_path):
    with pytest.raises(MissingInputError, match=r"net_meta\.json .*make it with: stage 1"):
        Store(tmp_path).load_features("toy", "net")


def test_an_interrupted_write_leaves_no_complete_set_and_no_temporary_file(tmp_path, monkeypatch):
    store = Store(tmp_path)
    store.save_features("toy", "net", np.zeros((2, 2)), np.array([0, 1]), {})

    def failing_save(handle, array, allow_pickle=False):
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module.np, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        store.save_features("toy", "net", np.ones((2, 2)), np.array([0, 1]), {})
    monkeypatch.undo()
    assert not store.has_features("toy", "net")                     # the old set no longer counts as done
    assert not [p for p in (tmp_path / "features" / "toy").iterdir() if p.name.endswith(".tmp")]


def test_settings_mismatch_is_refused_with_what_differs(tmp_path):
    store = Store(tmp_path)
    store.save_features("toy", "net", np.zeros((2, 2)), np.array([0, 1]), {"split": "train", "input_size": 64})
    store.check_settings("toy", "net", {"split": "train", "other": 1})    # equal where both have the key
    with pytest.raises(SettingsMismatchError, match="input_size: stored 64, requested 224"):
        store.check_settings("toy", "net", {"input_size": 224})


def test_class_and_caption_flabels_of_one_encoder_keep_their_own_settings(tmp_path):
    store = Store(tmp_path)
    store.save_flabels("mix", "enc", "class", np.ones((3, 4)), {"template": "{}"})
    store.save_flabels("mix", "enc", "sample", np.zeros((5, 4)), {"split": "train"})
    table, class_meta = store.load_flabels("mix", "enc", "class")
    captions, caption_meta = store.load_flabels("mix", "enc", "sample")
    assert table.shape == (3, 4) and class_meta["template"] == "{}" and class_meta["rows"] == 3
    assert captions.shape == (5, 4) and caption_meta["split"] == "train" and caption_meta["rows"] == 5
    assert store.list_flabel_encoders("mix", "class") == ["enc"] == store.list_flabel_encoders("mix", "sample")
    with pytest.raises(MissingInputError, match="make it with: python Label_embedding/bert.py --datasets mix"):
        store.load_flabels("mix", "other", "class", make_command="python Label_embedding/bert.py --datasets mix")


def test_scores_merge_per_model(tmp_path):
    store = Store(tmp_path)
    store.save_scores("toy", "emms", {"a": {"score": -1.0, "seconds": 0.1}})
    store.save_scores("toy", "emms", {"b": {"score": -2.0, "seconds": 0.2}})
    assert store.load_scores("toy", "emms") == {"a": {"score": -1.0, "seconds": 0.1},
                                                "b": {"score": -2.0, "seconds": 0.2}}
