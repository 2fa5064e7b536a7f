"""The simple baselines a transferability metric has to beat, known without fine-tuning or scoring anything.

- ``source_accuracy``: the candidate's published top-1 accuracy on its source task (ImageNet-1K), as its weights'
  publisher reports it. torchvision carries it offline in each weight's ``meta["_metrics"]``; EfficientNet-Lite's
  are those of the TensorFlow release (github.com/tensorflow/tpu, models/official/efficientnet/lite/README.md:
  Lite0 75.1%, Lite1 76.7%, Lite2 77.6%), and belong to the network's last depth only: a truncated network
  (``_early``, ``_mid``) has no published accuracy of its own.
- ``params``: the candidate's parameter count: torchvision's ``meta["num_params"]`` (the whole network, its
  classifier included), or for an EfficientNet-Lite depth the parameters of the network up to that depth, counted
  on the architecture (no weights are read).

Anything else (timm models, checkpoints of your own, random-init networks, other tasks' candidates) is unknown:
left out of the baselines, and stage 3 says so. Large studies find these two a strong reference (a model's
ImageNet accuracy correlated with fine-tuning better than 11 of 13 metrics on a public benchmark), see
docs/trust.md.
"""
from __future__ import annotations

from functools import lru_cache

from pipeline.models.names import EFFICIENTNET_LITE, candidate_names

BASELINES = ("source_accuracy", "params")
EFFICIENTNET_LITE_TOP1 = {"efficientnet_lite0": 75.1, "efficientnet_lite1": 76.7, "efficientnet_lite2": 77.6}


def image_baselines(network: str, stored: str, pretrained: bool = True) -> dict[str, float]:
    """{baseline: value} of the stored candidate `stored` of image network `network` (those that are known)."""
    if not pretrained:
        return {}
    if network in EFFICIENTNET_LITE:
        found = {"params": float(_lite_params(stored))}
        if stored == candidate_names(network)[-1]:
            found["source_accuracy"] = EFFICIENTNET_LITE_TOP1[network]
        return found
    from pipeline.models.image_models import torchvision_weights

    weights = torchvision_weights(network)
    if weights is None:
        return {}
    meta = weights.meta
    found = {"params": float(meta["num_params"])}
    accuracy = meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
    if accuracy is not None:
        found["source_accuracy"] = float(accuracy)
    return found


@lru_cache(maxsize=None)
def _lite_params(candidate: str) -> int:
    from pipeline.models import efficientnet_lite

    variant, _ = efficientnet_lite.split_candidate(candidate)
    return sum(p.numel() for p in efficientnet_lite.truncated(variant, candidate, pretrained=False).parameters())

