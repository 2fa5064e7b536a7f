"""Captioning zoos and the teacher-forced feature model of stage 1c.

A captioning model here is a ``transformers.VisionEncoderDecoderModel`` checkpoint (an image encoder,
ViT/Swin/..., feeding a text decoder, BERT/RoBERTa/BART/GPT-2, through cross-attention). EMMS (Meng et
al., NeurIPS 2023, arXiv 2308.06262, captioning table) scores such a model by regressing its features of
each (image, caption) pair onto the caption's F-label.

Feature of a pair (``feature="decoder"``, the paper's): the caption is tokenised with the decoder's
tokenizer (ids ``y_1..y_T``, the tokenizer's own special tokens included) and fed by teacher forcing,
exactly as in training with ``labels=y``: decoder input ``[start, y_1, ..., y_{T-1}]``. The feature is
the last decoder layer's hidden state averaged over the caption's T real positions::

    f = (1 / T) * sum_{t <= T} h_t^{(L)}

Padding is excluded from the mean, and with right padding and causal self-attention the real positions
never see it, so a caption's feature does not depend on how long the other captions of its batch are.
Captions are lower-cased first by default (``lowercase=True``), as the published caption dataset
(``datasets/image_caption_dataset.py``, "use uncased") fed them to the paper's nine models in fine-tuning;
pass ``--lowercase false`` for a checkpoint trained on cased captions.

``feature="encoder"``: the mean of the encoder's last hidden state over its tokens, i.e. of the image
tokens the decoder cross-attends to (for Swin this equals its pooler output; for ViT it includes the
[CLS] token). Pairs of the same image then get identical rows.

Deliberate differences from the published ``forward_feature_caption.py``: it hooked the input of the last
decoder layer's LayerNorm (the un-normalised residual sum) and averaged over all 42 padded positions, so a feature
depended on the padding length; here the decoder's returned last hidden state, averaged over real tokens.

Zoo ``caption``: the paper's nine encoder x decoder fine-tunes (ViT/Swin/SwinV2 x BERT/RoBERTa/BART) are
private, so their names expect directories you provide (``--checkpoint-dir DIR`` with ``DIR/<name>/``
saved by ``save_pretrained``). Any hub id or local path of a VisionEncoderDecoderModel works as a model
name too, e.g. ``nlpconnect/vit-gpt2-image-captioning``.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from pipeline.models import hub
from pipeline.models.text import masked_mean
from pipeline.tasks.base import zoo

# The pre-trained halves the paper fine-tuned (on COCO / Flickr8k) into its nine models.
PAPER_ENCODERS = {"vit": "google/vit-base-patch16-224-in21k",
                  "swinvit": "microsoft/swin-base-patch4-window7-224-in22k",
                  "swin2vit": "microsoft/swinv2-base-patch4-window12-192-22k"}
PAPER_DECODERS = {"bert": "bert-base-uncased", "roberta": "roberta-base", "bart": "facebook/bart-base"}
FEATURES = ("decoder", "encoder")
MAX_CAPTION_TOKENS = 64


def paper_models() -> tuple[str, ...]:
    """The paper's nine captioners (the zoo ``caption``): private fine-tunes, never hub ids."""
    return zoo("caption", "captioning").members


def resolve_checkpoint(name: str, checkpoint_dir: str | os.PathLike | None = None) -> str:
    """Where to load model `name` from: ``checkpoint_dir/name``, else `name` as a path, else as a hub id.
    The paper's nine names are never hub ids: without their directory they raise hub.MissingCheckpointError."""
    source = hub.checkpoint_source(name, checkpoint_dir)
    if source != name or Path(name).is_dir():
        return source
    if name in paper_models():
        encoder, decoder = name.split("_")
        where = Path(checkpoint_dir) / name if checkpoint_dir is not None else f"<--checkpoint-dir>/{name}"
        raise hub.MissingCheckpointError(
            f"checkpoint of {name!r} not found at {where}. The paper's captioning models are private fine-tunes: "
            f"fine-tune {PAPER_ENCODERS[encoder]} + {PAPER_DECODERS[decoder]} as a VisionEncoderDecoderModel, "
            f"save_pretrained() it to that folder, or pass any hub id or path with --models")
    return name


class CaptionCollator:
    """Dataset items (PIL image, caption, image index) -> ({"pixel_values"[, "decoder_input_ids",
    "decoder_attention_mask"]}, image indices): the checkpoint's image processor and, for the decoder
    feature, the teacher-forcing inputs of the captions (see :meth:`tokenize`)."""

    def __init__(self, image_processor, tokenizer, *, start_id: int, pad_id: int, with_captions: bool = True,
                 lowercase: bool = True, max_tokens: int = MAX_CAPTION_TOKENS):
        self.image_processor = image_processor
        self.tokenizer = tokenizer
        self.start_id = start_id
        self.pad_id = pad_id
        self.with_captions = with_captions
        self.lowercase = lowercase
        self.max_tokens = max_tokens

    def __call__(self, items: list) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        images, captions, image_ids = zip(*items)
        inputs = {"pixel_values": self.image_processor(images=list(images), return_tensors="pt")["pixel_values"]}
        if self.with_captions:
            inputs.update(self.tokenize(list(captions)))
        return inputs, torch.as_tensor(image_ids, dtype=torch.int64)

    def tokenize(self, captions: list[str], pad_to: int | None = None) -> dict[str, torch.Tensor]:
        """Teacher-forcing inputs: decoder input = [start] + tokens[:-1]; the mask marks real tokens.
        `pad_to` pads every caption to that many positions (for tests of padding invariance)."""
        if self.lowercase:
            captions = [caption.lower() for caption in captions]
        encoded = self.tokenizer(captions, truncation=True, max_length=pad_to or self.max_tokens,
                                 padding="max_length" if pad_to else "longest")
        ids = torch.tensor(encoded["input_ids"], dtype=torch.int64)
        mask = torch.tensor(encoded["attention_mask"], dtype=torch.int64)
        if (mask.sum(dim=1) == 0).any():
            raise ValueError("a caption tokenises to nothing; captions must hold text")
        if not bool((mask[:, 1:] <= mask[:, :-1]).all()):
            raise ValueError("the decoder tokenizer pads on the left; teacher forcing needs right padding")
        start = torch.full((len(ids), 1), self.start_id, dtype=torch.int64)
        decoder_input_ids = torch.cat([start, ids[:, :-1]], dim=1)
        decoder_input_ids[mask == 0] = self.pad_id  # position t reads y_{t-1}; it is real when y_t is
        return {"decoder_input_ids": decoder_input_ids, "decoder_attention_mask": mask}


class CaptionFeatureModel(torch.nn.Module):
    """One feature row per (image, caption) pair from a VisionEncoderDecoderModel.

    ``collate`` (a :class:`CaptionCollator`, picklable for DataLoader workers) makes the batches;
    ``forward(**inputs)`` returns the (B, D) float32 features.
    """

    def __init__(self, model, image_processor, tokenizer, *, feature: str = "decoder", lowercase: bool = True,
                 max_tokens: int = MAX_CAPTION_TOKENS):
        super().__init__()
        if feature not in FEATURES:
            raise ValueError(f"feature must be one of {FEATURES}, got {feature!r}")
        self.model = model.eval()
        self.feature = feature
        self.collate = CaptionCollator(image_processor, tokenizer, start_id=_start_token_id(model, tokenizer),
                                       pad_id=_pad_token_id(tokenizer), with_captions=feature == "decoder",
                                       lowercase=lowercase, max_tokens=max_tokens)
        self.tokenize = self.collate.tokenize

    @torch.no_grad()
    def forward(self, pixel_values: torch.Tensor, decoder_input_ids: torch.Tensor | None = None,
                decoder_attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.feature == "encoder":
            tokens = self.model.encoder(pixel_values=pixel_values).last_hidden_state
            return tokens.float().mean(dim=1)
        if decoder_input_ids is None or decoder_attention_mask is None:
            raise ValueError("the decoder feature needs the tokenised captions (use collate)")
        out = self.model(pixel_values=pixel_values, decoder_input_ids=decoder_input_ids,
                         decoder_attention_mask=decoder_attention_mask, output_hidden_states=True,
                         use_cache=False)
        return masked_mean(out.decoder_hidden_states[-1], decoder_attention_mask)


def load_caption_model(name: str, *, checkpoint_dir: str | os.PathLike | None = None, feature: str = "decoder",
                       lowercase: bool = True) -> tuple[CaptionFeatureModel, dict]:
    """The feature model of captioning checkpoint `name` and its meta (checkpoint, feature, pooling, ...).
    A hub id is downloaded on first use (said first); with the hub unreachable only the local cache is read,
    so an absent model fails within seconds."""
    source = resolve_checkpoint(name, checkpoint_dir)
    with hub.access_for(name, source, needs_hub=name in paper_models()):
        model, tokenizer, image_processor = _load_parts(name, source)
    feature_model = CaptionFeatureModel(model, image_processor, tokenizer, feature=feature, lowercase=lowercase)
    meta = {"checkpoint": source, "feature": feature, "encoder": model.config.encoder.model_type,
            "decoder": model.config.decoder.model_type,
            "pooling": "mean over caption tokens (teacher forcing)" if feature == "decoder"
            else "mean over encoder tokens", "max_tokens": feature_model.collate.max_tokens}
    if feature == "decoder":
        meta["lowercase"] = lowercase
    return feature_model, meta


def _load_parts(name: str, source: str):
    """(model, tokenizer, image processor) of a checkpoint. Fine-tunes saved with only the model's
    save_pretrained carry no tokenizer or image processor: those then come from the pre-trained half the
    model was built from (its config's _name_or_path, or for the paper's nine names the published halves)."""
    from transformers import AutoImageProcessor, AutoTokenizer, VisionEncoderDecoderModel

    try:
        model = VisionEncoderDecoderModel.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise hub.MissingCheckpointError(f"could not load captioning model {name!r} from {source}: "
                                         f"{type(error).__name__}: {str(error)[:300]}") from None
    halves = name.split("_") if name in paper_models() else (None, None)
    tokenizer = _load_part(AutoTokenizer, [source, getattr(model.config.decoder, "_name_or_path", ""),
                                           PAPER_DECODERS.get(halves[1], "")], name, "tokenizer")
    tokenizer.padding_side = "right"
    image_processor = _load_part(AutoImageProcessor, [source, getattr(model.config.encoder, "_name_or_path", ""),
                                                      PAPER_ENCODERS.get(halves[0], "")], name, "image processor")
    return model, tokenizer, image_processor


def _load_part(auto_class, places: list[str], name: str, what: str):
    tried = list(dict.fromkeys(place for place in places if place))
    for place in tried:
        try:
            return auto_class.from_pretrained(place)
        except (OSError, ValueError):
            continue
    raise hub.MissingCheckpointError(f"no {what} for captioning model {name!r}: tried {', '.join(tried)}; "
                                     f"save the {what} into {tried[0]} (its save_pretrained)")


def _start_token_id(model, tokenizer) -> int:
    candidates = (model.config.decoder_start_token_id, getattr(model.config.decoder, "decoder_start_token_id", None),
                  getattr(model.config.decoder, "bos_token_id", None), tokenizer.cls_token_id, tokenizer.bos_token_id)
    found = next((c for c in candidates if c is not None), None)
    if found is None:
        raise ValueError("the captioning model names no decoder start token (config.decoder_start_token_id) and "
                         "its tokenizer has no [CLS]/<bos> token; set config.decoder_start_token_id")
    return int(found)


def _pad_token_id(tokenizer) -> int:
    if tokenizer.pad_token_id is None:  # GPT-2: any id works, padded positions are masked and never attended
        if tokenizer.eos_token_id is None:
            raise ValueError("the decoder tokenizer has neither a pad nor an eos token; give it a pad token")
        tokenizer.pad_token = tokenizer.eos_token
    return int(tokenizer.pad_token_id)
