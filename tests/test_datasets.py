"""pipeline.tasks.classification.datasets: the registry of the paper's datasets, ImageFolder folders and the offline sets."""
import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.tasks.classification import datasets

PUBLISHED_CLASS_COUNTS = {"aircraft": 100, "caltech101": 101, "cars": 196, "cifar10": 10, "cifar100": 100,
                          "dtd": 47, "flowers": 102, "food": 101, "pets": 37, "sun397": 397, "voc2007": 20}


def _image(path, value=0, size=(12, 10), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 0)).save(path)


def test_registry_is_the_papers_eleven():
    assert set(datasets.PAPER_DATASETS) == set(PUBLISHED_CLASS_COUNTS)
    for name, count in PUBLISHED_CLASS_COUNTS.items():
        assert datasets.TORCHVISION_DATASETS[name].num_classes == count
        assert datasets.TORCHVISION_DATASETS[name].default_split in datasets.TORCHVISION_DATASETS[name].splits()


@pytest.mark.parametrize("name", sorted(PUBLISHED_CLASS_COUNTS))
def test_class_lists_have_the_published_counts(name):
    data_root = Path(__file__).resolve().parents[1] / "data"  # read the files where a copy was downloaded
    try:
        classes = datasets.class_names(name, data_root=data_root)
    except datasets.DatasetNotFoundError:
        pytest.skip(f"{name}: its class names come from the dataset files, not in data/{name} here")
    assert len(classes) == PUBLISHED_CLASS_COUNTS[name] == len(set(classes))


def test_shipped_lists_are_the_standard_ones():
    assert datasets.class_names("cifar10")[:3] == ["airplane", "automobile", "bird"]
    assert datasets.CIFAR100_CLASSES == tuple(sorted(datasets.CIFAR100_CLASSES))  # the meta file's order
    assert datasets.class_names("voc2007")[-1] == "tvmonitor"
    assert datasets.class_names("flowers")[0] == "pink primrose"


def test_a_missing_dataset_fails_at_once_saying_how_to_get_it(tmp_path):
    started = time.perf_counter()
    with pytest.raises(datasets.DatasetNotFoundError) as caught:
        datasets.load_dataset("dtd", data_root=tmp_path)
    assert time.perf_counter() - started < 5
    message = str(caught.value)
    assert str(tmp_path / "dtd") in message and "--download" in message and "--dataset-dir" in message
    with pytest.raises(datasets.DatasetNotFoundError, match="Kaggle"):
        datasets.load_dataset("cars", data_root=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.load_dataset("imagenet_typo", data_root=tmp_path)


def test_image_folder_order_labels_and_name(tmp_path):
    root = tmp_path / "my_pets"
    for c, count in (("dog", 3), ("cat", 2), ("emu", 1)):
        for i in range(count):
            _image(root / c / f"{i}.png", value=10 * i, mode="L")
    (root / "cat" / "notes.txt").write_text("not an image")
    data = datasets.load_dataset(None, dataset_dir=root, transform=lambda im: np.asarray(im))
    assert datasets.dataset_name(dataset_dir=str(root) + "/") == "my_pets" == data.name
    assert data.classes == ["cat", "dog", "emu"] == datasets.class_names(None, dataset_dir=root)
    np.testing.assert_array_equal(data.labels, [0, 0, 1, 1, 1, 2])
    assert data.split == "all" and len(data) == 6
    image, label = data[3]
    assert image.shape == (10, 12, 3) and label == 1 and image[0, 0, 0] == 10  # dog/1.png, grey made RGB
    with pytest.raises(ValueError):
        data.labels[0] = 5  # labels are read-only


def test_image_folder_split_subfolders_and_errors(tmp_path):
    for split in ("train", "test"):
        for c in ("a", "b"):
            _image(tmp_path / "set" / split / c / "0.png")
    data = datasets.load_dataset(None, dataset_dir=tmp_path / "set", split="test")
    assert data.split == "test" and data.classes == ["a", "b"] and data.name == "set"
    with pytest.raises(datasets.DatasetNotFoundError, match="leave --split unset"):
        datasets.load_dataset(None, dataset_dir=tmp_path / "set", split="val")
    with pytest.raises(datasets.DatasetNotFoundError, match="not a folder"):
        datasets.load_dataset(None, dataset_dir=tmp_path / "nowhere")


def test_stratified_first_k_known_answer():
    labels = np.array([0, 0, 0, 1, 1, 2])
    np.testing.assert_array_equal(datasets.stratified_first_k(labels, 4), [0, 1, 3, 5])
    np.testing.assert_array_equal(datasets.stratified_first_k(labels, 10), np.arange(6))
    np.testing.assert_array_equal(datasets.stratified_first_k(np.array([2, 0, 2, 0, 1]), 3), [0, 1, 4])


def test_max_samples_on_a_folder_is_fixed_and_recorded(tmp_path):
    for c in ("a", "b", "c"):
        for i in range(4):
            _image(tmp_path / "f" / c / f"{i}.png", value=i)
    first = datasets.load_dataset(None, dataset_dir=tmp_path / "f", max_samples=5)
    second = datasets.load_dataset(None, dataset_dir=tmp_path / "f", max_samples=5)
    np.testing.assert_array_equal(first.labels, [0, 0, 1, 1, 2])
    assert first.images == second.images and first.max_samples == 5 and "stratified first-k" in first.subset
    with pytest.raises(ValueError, match="positive"):
        datasets.load_dataset(None, dataset_dir=tmp_path / "f", max_samples=0)


def _voc_annotation(path, objects):
    body = "".join(f"<object><name>{n}</name><difficult>{int(d)}</difficult></object>" for n, d in objects)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<annotation><filename>x.jpg</filename>{body}</annotation>")


def test_voc2007_as_classification_from_a_local_copy(tmp_path):
    voc = tmp_path / "voc2007" / "VOCdevkit" / "VOC2007"
    images = {"000005": [("person", 0), ("chair", 0)],   # first positive in class order: chair (8)
              "000007": [("car", 0)],                    # car (6)
              "000009": [("aeroplane", 1), ("dog", 0)],  # aeroplane is "difficult": dog (11)
              "000012": [("sofa", 1), ("train", 1)]}     # nothing positive: the first difficult class, sofa (17)
    for stem, objects in images.items():
        _voc_annotation(voc / "Annotations" / f"{stem}.xml", objects)
        _image(voc / "JPEGImages" / f"{stem}.jpg")
    (voc / "ImageSets" / "Main").mkdir(parents=True)
    (voc / "ImageSets" / "Main" / "trainval.txt").write_text("\n".join(images) + "\n")
    data = datasets.load_dataset("voc2007", data_root=tmp_path)
    assert data.split == "trainval" and len(data.classes) == 20
    np.testing.assert_array_equal(data.labels, [8, 6, 11, 17])
    image, label = data[1]
    assert image.mode == "RGB" and label == 6


def _few_classes(monkeypatch, name, count):
    """The miniature copies below hold fewer classes than the real dataset, whose count load_dataset checks."""
    spec = dataclasses.replace(datasets.TORCHVISION_DATASETS[name], num_classes=count)
    monkeypatch.setitem(datasets.TORCHVISION_DATASETS, name, spec)


def test_dtd_train_plus_val_and_max_samples_from_a_local_copy(tmp_path, monkeypatch):
    _few_classes(monkeypatch, "dtd", 2)
    base = tmp_path / "dtd" / "dtd" / "dtd"
    lists = {"train": ["banded/b1.jpg", "dotted/d1.jpg", "banded/b2.jpg"], "val": ["dotted/d2.jpg", "banded/b3.jpg"],
             "test": ["banded/b4.jpg", "dotted/d3.jpg"]}
    for split, files in lists.items():
        for f in files:
            _image(base / "images" / f)
        (base / "labels").mkdir(parents=True, exist_ok=True)
        (base / "labels" / f"{split}1.txt").write_text("\n".join(files) + "\n")
    data = datasets.load_dataset("dtd", data_root=tmp_path)
    assert data.split == "train+val" and data.classes == ["banded", "dotted"]
    np.testing.assert_array_equal(data.labels, [0, 1, 0, 1, 0])
    assert datasets.load_dataset("dtd", data_root=tmp_path, split="test").labels.tolist() == [0, 1]
    small = datasets.load_dataset("dtd", data_root=tmp_path, max_samples=3)
    np.testing.assert_array_equal(small.labels, [0, 1, 0])
    assert small[2][1] == 0 and small.images.keep.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="no split"):
        datasets.load_dataset("dtd", data_root=tmp_path, split="trainval")
    monkeypatch.undo()
    with pytest.raises(ValueError, match="has 2 classes, expected 47"):  # an incomplete copy is refused
        datasets.load_dataset("dtd", data_root=tmp_path)


def test_sun397_order_is_sorted_not_file_system_order(tmp_path, monkeypatch):
    _few_classes(monkeypatch, "sun397", 2)
    root = tmp_path / "sun397" / "SUN397"
    root.mkdir(parents=True)
    (root / "ClassName.txt").write_text("/a/abbey\n/b/beach\n")
    for rel in ("b/beach/sun_b.jpg", "a/abbey/sun_z.jpg", "a/abbey/sun_a.jpg"):
        _image(root / rel)
    data = datasets.load_dataset("sun397", data_root=tmp_path)
    assert data.classes == ["abbey", "beach"] and data.split == "all"
    np.testing.assert_array_equal(data.labels, [0, 0, 1])
    assert [str(p).rsplit("/", 1)[1] for p in data.images.parts[0]._image_files] == ["sun_a.jpg", "sun_z.jpg",
                                                                                      "sun_b.jpg"]


def test_offline_sets_come_through_with_their_default_split():
    from pipeline.tasks.classification.offline import load_offline

    data = datasets.load_dataset("digits", max_samples=30)
    images, labels, classes = load_offline("digits", "trainval", max_samples=30)
    assert data.split == "trainval" and data.classes == classes == [str(d) for d in range(10)]
    np.testing.assert_array_equal(data.labels, labels)
    image, label = data[0]
    assert image.mode == "RGB" and label == labels[0]
    assert datasets.class_names("digits") == classes
    assert datasets.default_split("digits") == "trainval" and datasets.default_split("pets") == "trainval"
