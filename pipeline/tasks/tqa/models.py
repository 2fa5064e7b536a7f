"""Text-QA candidates and their feature of a question (stage 1 of the ``tqa`` task).

A candidate is any Hugging Face extractive-QA model (``AutoModelForQuestionAnswering``: BERT, RoBERTa, ALBERT,
DeBERTa, ELECTRA, DistilBERT, ...) or plain encoder (``AutoModel``) with a fast tokenizer: a folder under
``--checkpoint-dir``, a path, or a hub id. A checkpoint whose config names a ``*ForQuestionAnswering``
architecture is loaded with ``AutoModelForQuestionAnswering``, any other with ``AutoModel``; either way the
feature comes from the encoder's last hidden state (``model.base_model``; the QA head is not used).

Input of a question, as the standard SQuAD preprocessing makes it: ``tokenizer(question, context,
truncation="only_second", max_length=MAX_LENGTH, stride=STRIDE, return_overflowing_tokens=True,
return_offsets_mapping=True)`` (MAX_LENGTH and STRIDE: the task's stage-1 options) cuts a long context into
windows that overlap by STRIDE tokens, each window
holding the whole question. The window used is the first one whose context tokens cover the whole gold answer
(``[answer_start, answer_start + len(answer))`` in characters). The *answer tokens* are that window's context
tokens whose character span (``offset_mapping``) overlaps the answer's.

Feature (``--feature``):

- ``span`` (default): the last layer's states averaged over the answer tokens,
  ``f = (1 / |A|) * sum_{t in A} h_t^{(L)}``: what the model makes of the answer in its context;
- ``cls``: the last layer's state at the [CLS] token (``<s>`` for RoBERTa) of that window: the model's summary of
  the question and the passage that holds the answer.

A kept unanswerable question (``--unanswerable keep``) has no answer tokens: both features take the [CLS] state
of the first window, where SQuAD v2.0 models point for "no answer".

A question that cannot be windowed (the question alone fills MAX_LENGTH, or the answer spans more tokens than a
window holds) raises ValueError from :class:`QAInputs`; stage 1 names it, skips it and counts it.
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path

import torch
from torch.utils.data import Dataset

from pipeline.models import hub
from pipeline.models.text import bundled_or, masked_mean
from pipeline.tasks.tqa.data import QARecord

FEATURES = ("span", "cls")


def resolve_checkpoint(name: str, checkpoint_dir: str | os.PathLike | None = None) -> str:
    """Where to load model `name` from: ``checkpoint_dir/name``, else `name` as a path, else the bundled MiniLM
    for ``all-MiniLM-L6-v2``, else `name` as a hub id."""
    source = hub.checkpoint_source(name, checkpoint_dir)
    if source != name or Path(name).is_dir():
        return source
    return bundled_or(name)


# ----- inputs ---------------------------------------------------------------------------------------------------
class QAInputs(Dataset):
    """The model inputs of each question: ``{"input_ids", "attention_mask"[, "token_type_ids"], "pool"}`` as
    lists for the window chosen (see the module docstring); ``pool`` marks the tokens the feature averages."""

    def __init__(self, records, tokenizer, *, feature: str, max_length: int, stride: int):
        if feature not in FEATURES:
            raise ValueError(f"feature must be one of {', '.join(FEATURES)}, got {feature!r}")
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(f"{type(tokenizer).__name__} is not a fast tokenizer; the answer's tokens are found "
                             "through offset_mapping, which only fast tokenizers give (save a tokenizer.json)")
        if not 0 <= stride < max_length:
            raise ValueError(f"stride must be in [0, max_length), got stride {stride} and max_length {max_length}")
        self.records, self.tokenizer = records, tokenizer
        self.feature, self.max_length, self.stride = feature, max_length, stride
        self.specials = tokenizer.num_special_tokens_to_add(pair=True)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        record: QARecord = self.records[index]
        encoded = self.windows(record)
        window = self.window_with_answer(encoded, record) if record.answerable else 0
        tokens = encoded["input_ids"][window]
        if self.feature == "cls" or not record.answerable:
            pool = [0] * len(tokens)
            pool[_cls_position(tokens, self.tokenizer)] = 1
        else:
            pool = self.answer_mask(encoded, window, record)
        item = {key: encoded[key][window] for key in ("input_ids", "attention_mask", "token_type_ids")
                if key in encoded}
        return {**item, "pool": pool}

    def windows(self, record: QARecord):
        """The tokenizer's windows of (question, context); ValueError where the question leaves no room."""
        question_tokens = len(self.tokenizer(record.question, add_special_tokens=False)["input_ids"])
        room = self.max_length - question_tokens - self.specials   # context tokens a window holds
        if room <= self.stride:
            raise ValueError(f"the question takes {question_tokens} tokens, leaving {room} for the context in a "
                             f"window of {self.max_length} (stride {self.stride}); raise --max-length or lower "
                             "--stride")
        return self.tokenizer(record.question, record.context, truncation="only_second", max_length=self.max_length,
                              stride=self.stride, return_overflowing_tokens=True, return_offsets_mapping=True)

    @staticmethod
    def context_span(encoded, window: int) -> tuple[int, int]:
        """(first, last) token positions of the context in a window."""
        positions = [t for t, sequence in enumerate(encoded.sequence_ids(window)) if sequence == 1]
        if not positions:
            raise ValueError("the context gives no token in a window (it tokenises to nothing)")
        return positions[0], positions[-1]

    def window_with_answer(self, encoded, record: QARecord) -> int:
        """The first window whose context tokens cover the whole answer; ValueError where none does."""
        for window in range(len(encoded["input_ids"])):
            first, last = self.context_span(encoded, window)
            offsets = encoded["offset_mapping"][window]
            if offsets[first][0] <= record.answer_start and offsets[last][1] >= record.answer_end:
                return window
        answer_tokens = len(self.tokenizer(record.answer, add_special_tokens=False)["input_ids"])
        raise ValueError(f"the answer ({answer_tokens} tokens) lies in no single window of {self.max_length} tokens "
                         f"(context {len(record.context)} characters, {len(encoded['input_ids'])} windows, stride "
                         f"{self.stride}); raise --max-length or --stride")

    @staticmethod
    def answer_mask(encoded, window: int, record: QARecord) -> list[int]:
        """1 for the window's context tokens whose characters overlap the answer's, else 0. A token of no
        characters (a byte-level BPE's lone space 'Ġ', its offsets trimmed to the next word's start) counts
        where it sits strictly inside the answer: it is the space between two of the answer's words."""
        sequences = encoded.sequence_ids(window)
        begin, end = record.answer_start, record.answer_end
        return [int(sequences[t] == 1 and (start < end and stop > begin if stop > start else begin < start < end))
                for t, (start, stop) in enumerate(encoded["offset_mapping"][window])]


def _cls_position(tokens: list[int], tokenizer) -> int:
    """Where the tokenizer puts its [CLS] (first for BERT/RoBERTa, last for XLNet); 0 when it has none."""
    cls = tokenizer.cls_token_id
    return tokens.index(cls) if cls is not None and cls in tokens else 0


class QACollate:
    """Items of :class:`QAInputs` -> (model inputs padded on the right, pool mask (B, T)); picklable."""

    def __init__(self, pad_id: int, accepted: tuple[str, ...]):
        self.pad_id, self.accepted = pad_id, accepted

    def __call__(self, items: list[dict]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        length = max(len(item["input_ids"]) for item in items)

        def padded(key: str, fill: int) -> torch.Tensor:
            return torch.tensor([item[key] + [fill] * (length - len(item[key])) for item in items], dtype=torch.int64)

        inputs = {key: padded(key, self.pad_id if key == "input_ids" else 0)
                  for key in items[0] if key != "pool" and key in self.accepted}
        return inputs, padded("pool", 0)


# ----- the model --------------------------------------------------------------------------------------------------
class QAFeatureModel(torch.nn.Module):
    """One feature row per question: the encoder's last hidden state averaged over the pooled tokens."""

    def __init__(self, model, tokenizer, *, feature: str, max_length: int, stride: int):
        super().__init__()
        self.model = model.eval()
        self.encoder = model.base_model
        self.tokenizer = tokenizer
        self.feature, self.max_length, self.stride = feature, max_length, stride
        accepted = tuple(inspect.signature(self.encoder.forward).parameters)
        if tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer has no pad token; set tokenizer.pad_token")
        self.collate = QACollate(tokenizer.pad_token_id, accepted)

    def inputs(self, records) -> QAInputs:
        return QAInputs(records, self.tokenizer, feature=self.feature, max_length=self.max_length, stride=self.stride)

    @torch.no_grad()
    def forward(self, inputs: dict[str, torch.Tensor], pool: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(**inputs).last_hidden_state
        return masked_mean(hidden, pool)


def load_qa_model(name: str, *, checkpoint_dir: str | os.PathLike | None = None, feature: str,
                  max_length: int, stride: int) -> tuple[QAFeatureModel, dict]:
    """The feature model of QA checkpoint `name` and its meta (checkpoint, class, feature, windows). A hub id is
    downloaded on first use; with the hub unreachable only the local cache is read, so an absent model fails at
    once. MAX_LENGTH above the model's position limit is lowered to it (recorded in the meta)."""
    source = resolve_checkpoint(name, checkpoint_dir)
    with hub.access_for(name, source):
        model, tokenizer, model_class = _load_parts(name, source)
    limit = _position_limit(model, tokenizer)
    used = min(max_length, limit) if limit else max_length
    feature_model = QAFeatureModel(model, tokenizer, feature=feature, max_length=used, stride=stride)
    meta = {"checkpoint": source, "model_class": model_class, "model_type": model.config.model_type,
            "feature": feature, "max_length_used": used,
            "pooling": "mean of the last hidden state over the gold answer's tokens" if feature == "span"
            else "last hidden state at the [CLS] token of the window holding the answer"}
    return feature_model, meta


def _load_parts(name: str, source: str):
    from transformers import AutoConfig, AutoModel, AutoModelForQuestionAnswering, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(source)
        is_qa = any(arch.endswith("ForQuestionAnswering") for arch in (config.architectures or []))
        auto_class = AutoModelForQuestionAnswering if is_qa else AutoModel
        model = auto_class.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise hub.MissingCheckpointError(f"could not load QA model {name!r} from {source}: "
                                         f"{type(error).__name__}: {str(error)[:300]} (a save_pretrained folder "
                                         "under --checkpoint-dir, a path, or a hub id)") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise hub.MissingCheckpointError(f"no tokenizer for QA model {name!r} in {source}: {str(error)[:200]}; "
                                         "save its tokenizer there (tokenizer.save_pretrained)") from None
    return model, tokenizer, auto_class.__name__


def _position_limit(model, tokenizer) -> int | None:
    """The most tokens the model takes: its tokenizer's model_max_length where set, else its position table's."""
    limits = [getattr(tokenizer, "model_max_length", None), getattr(model.config, "max_position_embeddings", None)]
    if model.config.model_type in ("roberta", "xlm-roberta", "camembert") and limits[1]:
        limits[1] -= 2   # RoBERTa's positions start after the padding index
    usable = [int(limit) for limit in limits if isinstance(limit, int) and 0 < limit < 1_000_000]
    return min(usable) if usable else None
