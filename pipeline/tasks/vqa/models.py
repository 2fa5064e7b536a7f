"""VQA candidates for stage 1: dual encoders (an image model with a text encoder) and Hugging Face VQA models.

**Dual encoder** ``IMAGE+TEXT`` (e.g. ``efficientnet_lite0+minilm``, ``resnet50+bert-base-uncased``): IMAGE is any
name the image zoos know (:func:`pipeline.models.image_models.model_spec`: zoo members, torchvision or timm
names), TEXT a Hugging Face encoder folder or hub id, or ``minilm`` for the bundled all-MiniLM-L6-v2
(:func:`pipeline.models.text.minilm_path`).
The feature of a question is the concatenation, in this order, of

- the image model's pooled feature of its image, exactly as the classification task stores it (the vector the
  classifier head reads; for EfficientNet-Lite one per depth: early, mid, last), and
- the question's embedding by the text encoder: the last hidden state averaged over the real tokens (attention
  mask), as stage 2 embeds texts (:data:`pipeline.models.text.MEAN_POOLING`),

each as produced, not normalised or rescaled: ``f = [g_image(x) ; mean_t h_t(q)]``, width ``D_image + D_text``
(EfficientNet-Lite0 last depth with MiniLM: 1280 + 384). One network gives one candidate per image depth, stored as
``<image candidate>+<text>`` (``efficientnet_lite0_mid+minilm``). Where the image model has a source head (the
ImageNet classifier: EfficientNet-Lite's last depth, torchvision and timm classifiers), its softmax is stored as the
source probabilities, so LEEP and NCE apply (over ImageNet classes: the image half only).

**Hugging Face VQA models** (a folder under ``--checkpoint-dir``, a path, or a hub id), per family:

- ViLT (``ViltForQuestionAnswering``): the feature is ``pooler_output``, the tanh-pooled [CLS] state of the fused
  image-text transformer, which is exactly what its answer classifier reads (``classifier(pooler_output)``). Source
  probabilities: the **softmax** of the classifier's scores over its answer vocabulary (3,129 answers for the VQA v2
  fine-tune). ViLT was trained with a sigmoid per answer (binary cross-entropy on soft scores); LEEP and NCE need a
  distribution over source labels, and the softmax of the same scores keeps their order.
- BLIP (``BlipForQuestionAnswering``): the answer decoder cross-attends to every state of the question encoder
  (the question's tokens, each fused with the image by cross-attention to the ViT's image tokens). The feature is
  the mean of those question-conditioned states over the question's real tokens (attention mask). BLIP generates
  its answer, it has no classifier over a fixed vocabulary, so no source probabilities are stored.

Other families that ``AutoModelForVisualQuestionAnswering`` loads (BLIP-2) are refused with a clear message: which of
their states the answer reads is not settled here.
"""
from __future__ import annotations

import copy
import os

import torch
from torch import nn

from pipeline.models import hub
from pipeline.models.text import masked_mean
from pipeline.models.names import BUNDLED_TEXT, split_dual, text_label
from pipeline.tasks.base import Candidate, FeatureModel, Samples

JOIN = "concatenation [pooled image feature ; mean-pooled question embedding], each as produced (not normalised)"
FAMILIES = ("vilt", "blip")
FEATURE_OF_FAMILY = {
    "vilt": "pooler_output (tanh-pooled fused [CLS] state; the input of the answer classifier)",
    "blip": "mean over the question's real tokens of the text encoder's last states (cross-attending to the image)",
}
SOURCE_PROBS_OF_FAMILY = {"vilt": "softmax of the answer classifier's scores", "blip": None}


# ----- dual encoders -------------------------------------------------------------------------------------
class QuestionCollate:
    """(image tensor, question) items -> (images (B, 3, H, W), {input_ids, attention_mask, ...}); picklable."""

    def __init__(self, tokenizer, max_tokens: int):
        self.tokenizer, self.max_tokens = tokenizer, max_tokens

    def __call__(self, items):
        images, questions = zip(*items)
        tokens = self.tokenizer(list(questions), padding=True, truncation=True, max_length=self.max_tokens,
                                return_tensors="pt")
        return torch.stack(list(images)), dict(tokens)


class DualEncoder(nn.Module):
    """(images, question tokens) -> ({stored: [image feature ; question embedding]}, {stored: image source probs})."""

    def __init__(self, image_module: nn.Module, text_model: nn.Module, image_of: dict[str, str]):
        super().__init__()
        self.image, self.text, self.image_of = image_module, text_model, dict(image_of)

    def forward(self, images: torch.Tensor, tokens: dict) -> tuple[dict, dict]:
        image_features, image_probs = self.image(images)
        question = masked_mean(self.text(**tokens).last_hidden_state, tokens["attention_mask"])
        features = {stored: torch.cat([image_features[image].flatten(1).float(), question], dim=1)
                    for stored, image in self.image_of.items()}
        probs = {stored: image_probs[image] for stored, image in self.image_of.items() if image in image_probs}
        return features, probs


def dual_candidate(model: str, *, pretrained: bool = True, image_size: int | None = None,
                   checkpoint_dir: str | os.PathLike | None = None) -> Candidate:
    from pipeline.models import image_models
    from pipeline.models.text import MEAN_POOLING

    image_name, text = split_dual(model)
    spec = image_models.model_spec(image_name, pretrained=pretrained, image_size=image_size,
                                   checkpoint=image_models.find_checkpoint(checkpoint_dir, image_name))
    label = text_label(text)
    image_of = {f"{candidate}+{label}": candidate for candidate in spec.candidates}

    def meta(stored: str) -> dict:
        image = spec.meta(image_of[stored])
        return {"family": "dual encoder", "network": model, "pretrained": pretrained, "image_model": image_name,
                "weights": image["weights"], "layer": image["layer"], "input_size": image["input_size"],
                "text_encoder": label, "text_pooling": MEAN_POOLING, "join": JOIN}

    def load() -> FeatureModel:
        extractor = spec.load()
        encoder = _text_encoder(text)
        module = DualEncoder(extractor.module, encoder.model, image_of)

        def inputs(samples: Samples):
            view = copy.copy(samples.items)  # the same questions, with this image model's preprocessing
            view.transform = extractor.transform
            return view

        return FeatureModel(module, lambda batch: module(*batch), inputs,
                            collate=QuestionCollate(encoder.tokenizer, encoder.max_tokens),
                            meta={"text_checkpoint": encoder.checkpoint, "text_width": encoder.dim})

    return Candidate(model, tuple(image_of), meta, load)


def _text_encoder(text: str):
    from pipeline.models.text import HFTextEncoder, minilm_path

    source = str(minilm_path()) if text == BUNDLED_TEXT else text
    return HFTextEncoder.load(source, name=text_label(text), device="cpu", batch_size=1)


# ----- Hugging Face VQA models ---------------------------------------------------------------------------
class ProcessorCollate:
    """(PIL image, question) items -> the checkpoint's processor inputs as a plain dict; picklable."""

    def __init__(self, processor, max_tokens: int):
        self.processor, self.max_tokens = processor, max_tokens

    def __call__(self, items):
        images, questions = zip(*items)
        return dict(self.processor(images=list(images), text=list(questions), padding="longest", truncation=True,
                                   max_length=self.max_tokens, return_tensors="pt"))


class ViltFeatures(nn.Module):
    """ViLT: ({name: pooler_output}, {name: softmax of the answer classifier's scores})."""

    def __init__(self, model, name: str):
        super().__init__()
        self.model, self.name = model, name

    def forward(self, inputs: dict) -> tuple[dict, dict]:
        with torch.random.fork_rng(devices=[]):  # ViLT draws its image patches' order at random
            torch.manual_seed(0)
            pooled = self.model.vilt(**inputs).pooler_output
        logits = self.model.classifier(pooled)
        return {self.name: pooled}, {self.name: torch.softmax(logits.float(), dim=1)}


class BlipFeatures(nn.Module):
    """BLIP: ({name: mean over real question tokens of the image-conditioned question states}, {})."""

    def __init__(self, model, name: str):
        super().__init__()
        self.model, self.name = model, name

    def forward(self, inputs: dict) -> tuple[dict, dict]:
        image_states = self.model.vision_model(pixel_values=inputs["pixel_values"]).last_hidden_state
        image_mask = torch.ones(image_states.shape[:-1], dtype=torch.long, device=image_states.device)
        states = self.model.text_encoder(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                         encoder_hidden_states=image_states,
                                         encoder_attention_mask=image_mask).last_hidden_state
        return {self.name: masked_mean(states, inputs["attention_mask"])}, {}


def hf_candidate(model: str, checkpoint_dir: str | os.PathLike | None = None) -> Candidate:
    source = hub.checkpoint_source(model, checkpoint_dir)
    settings = {"family": "transformers VQA", "weights": source, "network": model}

    def load() -> FeatureModel:
        module, processor, max_tokens, meta = load_vqa_model(model, source)
        return FeatureModel(module, lambda batch: module(batch), lambda samples: samples.items,
                            collate=ProcessorCollate(processor, max_tokens), meta=meta)

    return Candidate(model, (model,), lambda stored: dict(settings), load)


def load_vqa_model(name: str, source: str):
    """(feature module, processor, max question tokens, meta) of a ViLT or BLIP VQA checkpoint."""
    from transformers import AutoConfig, AutoProcessor, BlipForQuestionAnswering, ViltForQuestionAnswering

    try:
        with hub.access_for(name, source):
            config = AutoConfig.from_pretrained(source)
            if config.model_type not in FAMILIES:
                raise ValueError(f"VQA model {name!r} ({source}) is a {config.model_type!r} model; the VQA task reads "
                                 f"the families {', '.join(FAMILIES)} (ViltForQuestionAnswering, "
                                 "BlipForQuestionAnswering) or dual encoders IMAGE+TEXT")
            model_class = ViltForQuestionAnswering if config.model_type == "vilt" else BlipForQuestionAnswering
            model = model_class.from_pretrained(source).eval()
            processor = AutoProcessor.from_pretrained(source)
    except OSError as error:
        raise OSError(f"could not load VQA model {name!r} from {source}: {str(error)[:300]} (give a folder saved by "
                      "save_pretrained with its processor, under --checkpoint-dir or as a path)") from None
    family = config.model_type
    text_config = getattr(config, "text_config", config)
    max_tokens = int(min(n for n in (getattr(text_config, "max_position_embeddings", None),
                                     getattr(processor.tokenizer, "model_max_length", None), 512) if n))
    module = ViltFeatures(model, name) if family == "vilt" else BlipFeatures(model, name)
    meta = {"checkpoint": source, "model_type": family, "feature": FEATURE_OF_FAMILY[family],
            "source_probs": SOURCE_PROBS_OF_FAMILY[family], "max_tokens": max_tokens}
    if family == "vilt":
        meta["source_answers"] = int(config.num_labels)
    return module, processor, max_tokens, meta
