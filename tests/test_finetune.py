"""finetune.py (stage 0) on a tiny setting: 2 candidates, ~40 images, one epoch, one learning rate."""
import argparse
import dataclasses
import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from pipeline import extract, tasks
from pipeline.models import image_models as zoo
from pipeline.evaluate.ground_truth import load_ground_truth
from pipeline.store import SettingsMismatchError, Store

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = ["efficientnet_lite0_early", "efficientnet_lite0_mid"]


def _stage():
    spec = importlib.util.spec_from_file_location("finetune_stage", ROOT / "finetune.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _argv(tmp_path, *extra):
    return ["--candidates", *CANDIDATES, "--datasets", "digits", "--image-size", "32", "--max-train", "40",
            "--max-eval", "20", "--epochs", "1", "--lr-grid", "0.01", "--seeds", "0", "--batch-size", "16",
            "--results", str(tmp_path / "results"), "--out", str(tmp_path / "truth.json"), *extra]


@pytest.fixture
def counted(monkeypatch):
    """The stage module with finetune_candidate counting its calls."""
    stage = _stage()
    calls = []
    real = stage.finetune_candidate

    def counting(candidate, parts, args, bar=None):
        calls.append(candidate)
        return real(candidate, parts, args, bar)

    monkeypatch.setattr(stage, "finetune_candidate", counting)
    return stage, calls


def test_writes_a_well_formed_ground_truth_and_resumes(tmp_path, counted):
    stage, calls = counted
    stage.main(_argv(tmp_path))
    assert calls == CANDIDATES

    data = json.loads((tmp_path / "truth.json").read_text())
    assert {"zoo", "description", "source", "measure", "finetune"} <= set(data)
    assert data["zoo"] == "efficientnet_lite" and data["measure"] == {"digits": "top-1 accuracy (%)"}
    assert set(data["finetune"]) == {"digits"} and set(data["finetune"]["digits"]) == set(CANDIDATES)
    assert all(0 <= v <= 100 and math.isfinite(v) for v in data["finetune"]["digits"].values())
    for words in ("32x32", "40 train / 20 val / 20 test", "1 epochs", "[0.01]", "seed of [0]"):
        assert words in data["description"]
    truth = load_ground_truth(tmp_path / "truth.json")  # the format stage 3 reads
    assert truth.for_dataset("digits").keys() == set(CANDIDATES)

    progress = Store(tmp_path / "results").finetune_progress_path("efficientnet_lite")
    stored = json.loads(progress.read_text())
    assert set(stored["results"]["digits"]) == set(CANDIDATES)
    assert stored["results"]["digits"][CANDIDATES[0]]["lr"] == 0.01

    (tmp_path / "truth.json").unlink()
    stage.main(_argv(tmp_path))  # everything is in the progress file: nothing is trained again
    assert calls == CANDIDATES
    assert json.loads((tmp_path / "truth.json").read_text())["finetune"] == data["finetune"]

    with pytest.raises(SettingsMismatchError, match="epochs: stored 1, requested 2"):
        stage.main(_argv(tmp_path, "--epochs", "2"))


def test_an_interrupted_run_trains_only_the_missing_candidate(tmp_path, counted):
    stage, calls = counted
    stage.main(_argv(tmp_path)[:1] + [CANDIDATES[0]] + _argv(tmp_path)[3:])
    assert calls == [CANDIDATES[0]]
    stage.main(_argv(tmp_path))
    assert calls == [CANDIDATES[0], CANDIDATES[1]]


def test_bad_settings_are_clear_errors(tmp_path):
    stage = _stage()
    with pytest.raises(ValueError, match="offline datasets"):
        stage.main(_argv(tmp_path, "--datasets", "cifar10"))
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite candidate"):
        stage.main(_argv(tmp_path, "--candidates", "resnet50"))
    with pytest.raises(ValueError, match="--lr-grid must hold positive"):
        stage.main(_argv(tmp_path, "--lr-grid", "0"))


def test_a_folder_of_ones_own_images(tmp_path):
    """--dataset-dir: an ImageFolder is split 60/20/20 like the offline sets; the folder names the dataset."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, channel in (("red", 0), ("blue", 2)):
        (tmp_path / "shapes" / name).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 60, (24, 24, 3), dtype=np.uint8)
            pixels[:, :, channel] = 200
            Image.fromarray(pixels).save(tmp_path / "shapes" / name / f"{i}.png")
    argv = _argv(tmp_path, "--dataset-dir", str(tmp_path / "shapes"), "--candidates", CANDIDATES[1])
    truth = _stage().main(argv)
    assert list(truth["finetune"]) == ["shapes"] and list(truth["finetune"]["shapes"]) == [CANDIDATES[1]]
    assert "12 train / 4 val / 4 test images, 2 classes" in truth["description"]


class _Recording(nn.Module):
    """Passes its input to `module` and keeps a copy of every input it was given."""

    def __init__(self, module: nn.Module, seen: list):
        super().__init__()
        self.module, self.seen = module, seen

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.module(x)


@pytest.mark.parametrize("dataset", ["digits", "textiles"])  # 8 px grey upsampled; 250 px photographs downsampled
def test_finetuning_feeds_a_candidate_the_tensor_stage_1_feeds_it(tmp_path, monkeypatch, dataset):
    """The same training images reach the network as the same tensor in stage 0 (finetune.py) and stage 1
    (forward_feature_CNN.py: zoo spec, dataset view, data loader)."""
    variant, candidate, n_train, size = "efficientnet_lite1", "efficientnet_lite1_mid", 20, 64

    stage1_inputs = []
    spec = zoo.model_spec(variant, pretrained=False, image_size=size)

    def recording_load():
        extractor = spec.load()
        return dataclasses.replace(extractor, module=_Recording(extractor.module, stage1_inputs))

    classification = tasks.get("classification")
    images = classification.load_samples(dataset, argparse.Namespace(dataset_dir=None, data_root="data",
                                                                     split="train", max_samples=n_train))
    extract.extract_candidate(classification.candidate_of_spec(dataclasses.replace(spec, _load=recording_load)),
                              images, Store(tmp_path / "stage1"), batch_size=64, device="cpu")
    (stage1,) = stage1_inputs  # one batch of the n_train images

    stage = _stage()
    stage0_inputs = []
    real_truncated = stage.lite.truncated

    def recording_truncated(*args, **kwargs):
        network = real_truncated(*args, **kwargs)
        network.prefix = _Recording(network.prefix, stage0_inputs)
        return network

    monkeypatch.setattr(stage.lite, "truncated", recording_truncated)
    stage.main(_argv(tmp_path, "--candidates", candidate, "--datasets", dataset, "--image-size", str(size),
                     "--max-train", str(n_train), "--batch-size", "32"))
    stage0 = stage0_inputs[0]  # the frozen prefix sees the train split first, in one chunk of 2 x batch size

    assert stage1.shape == (n_train, 3, size, size)
    assert torch.equal(stage0, stage1)
