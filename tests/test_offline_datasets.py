import numpy as np
import pytest
from PIL import Image

from pipeline.tasks.classification.offline import OFFLINE_DATASETS, SPLITS, load_offline, split_indices, split_subset

EXPECTED = {  # name: (all samples, classes, first class names)
    "mnist5k": (5000, 10, ["0", "1"]),
    "textiles": (2000, 3, ["global defect", "local defect", "no defect"]),
    "digits": (1797, 10, ["0", "1"]),
}


@pytest.mark.parametrize("name", OFFLINE_DATASETS)
def test_sizes_classes_and_images(name):
    n_all, n_classes, first_names = EXPECTED[name]
    images, labels, classes = load_offline(name, "all")
    assert len(images) == len(labels) == n_all
    assert labels.dtype == np.int64 and len(classes) == n_classes
    assert classes[: len(first_names)] == first_names
    assert set(np.unique(labels)) == set(range(n_classes))
    image = images[n_all - 1]
    assert isinstance(image, Image.Image) and image.mode == "RGB"


@pytest.mark.parametrize("name", ["mnist5k", "textiles"])
def test_splits_are_disjoint_stratified_and_cover_everything(name):
    _, labels, _ = load_offline(name, "all")
    parts = {split: split_indices(labels, split) for split in SPLITS}
    train, val, test = parts["train"], parts["val"], parts["test"]
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
    assert np.array_equal(np.sort(np.concatenate([train, val, test])), np.arange(len(labels)))
    assert np.array_equal(parts["trainval"], np.sort(np.concatenate([train, val])))
    for part in (train, val, test):
        assert np.all(np.diff(part) > 0)  # the dataset's own order
    # 60/20/20 within each class
    for c in np.unique(labels):
        n_c = np.sum(labels == c)
        assert np.sum(labels[train] == c) == round(0.6 * n_c)
        assert np.sum(labels[test] == c) == n_c - round(0.8 * n_c)


def test_splits_are_deterministic_and_images_match_labels():
    first_images, first_labels, _ = load_offline("digits", "val")
    second_images, second_labels, _ = load_offline("digits", "val")
    assert np.array_equal(first_labels, second_labels)
    assert np.array_equal(np.asarray(first_images[5]), np.asarray(second_images[5]))
    from sklearn.datasets import load_digits
    bunch = load_digits()
    index = split_indices(bunch.target, "val")[5]
    expected = np.rint(bunch.data[index].reshape(8, 8) * 255 / 16)
    assert np.array_equal(np.asarray(first_images[5])[:, :, 0], expected)
    assert first_labels[5] == bunch.target[index]


def test_max_samples_is_a_stratified_subset_of_the_split():
    all_labels = load_offline("textiles", "all")[1]
    images, labels, _ = load_offline("textiles", "train", max_samples=40)
    assert len(images) == len(labels) == 40
    kept = split_subset(all_labels, "train", 40)
    assert set(kept) <= set(split_indices(all_labels, "train")) and np.array_equal(all_labels[kept], labels)
    assert np.array_equal(np.bincount(labels), [10, 10, 20])
    again = load_offline("textiles", "train", max_samples=40)[1]
    assert np.array_equal(labels, again)


def test_images_are_fresh_copies():
    images, _, _ = load_offline("digits", "test")
    images[0].paste((255, 0, 0), (0, 0, 8, 8))
    assert np.asarray(images[0])[0, 0, 1] != 0 or np.asarray(images[0])[0, 0, 0] != 255


def test_unknown_name_or_split_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown offline dataset 'cifar'.*mnist5k"):
        load_offline("cifar")
    with pytest.raises(ValueError, match="unknown split 'validation'.*trainval"):
        load_offline("digits", "validation")
    with pytest.raises(ValueError, match="fewer than the 10 classes"):
        load_offline("digits", "train", max_samples=5)


def test_splits_are_pinned_because_the_committed_ground_truth_was_made_on_them():
    """data/ground_truth/efficientnet_lite.json was fine-tuned and tested on these exact images."""
    for name, total in (("mnist5k", 2495889), ("textiles", 393423)):
        _, labels, _ = load_offline(name, "all")
        test = split_indices(labels, "test")
        assert test[:6].tolist() == [1, 15, 21, 25, 27, 29] and int(test.sum()) == total
    images, _, _ = load_offline("mnist5k", "train", max_samples=400)
    brightness = np.mean([np.asarray(images[i])[:, :, 0].mean() for i in range(0, 400, 37)])
    assert brightness == pytest.approx(34.160366419294995, abs=1e-9)
