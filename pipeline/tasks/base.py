"""The task protocol: everything that differs between tasks, declared in one place per task.

A task module (``pipeline/tasks/<task>.py``) subclasses :class:`Task` and registers an instance with
:func:`pipeline.tasks.register`. The stages never ask "which task is this?": they call the task.

- **Stage 1** (:mod:`pipeline.extract`): :meth:`Task.dataset_args` and :meth:`Task.load_samples` give the
  samples in the fixed order stages 1 and 2 share; :meth:`Task.zoo_models` and :meth:`Task.candidate` give the
  models; a :class:`Candidate` loads into a :class:`FeatureModel` whose ``forward(batch)`` returns the pair
  ``(features, source_probs)``, each ``{stored name: tensor (B, ...)}``.
- **Stage 2** (:mod:`pipeline.flabel_stage`): :attr:`Samples.texts`, embedded as class names (``FlabelKind.CLASS``:
  one F-label row per class) or one text per sample (``FlabelKind.SAMPLE``: row i describes sample i).
- **Stage 3** (:mod:`pipeline.evaluate`): which metrics apply (:attr:`Task.target`) and how their inputs are
  formed (:meth:`Task.metric_arguments`), the stored names of a zoo, and the commands that make what is missing.

Vocabulary, one word per idea: a *task* (classification, captioning, ...), an *F-label kind* (``class`` or
``sample``), a metric *target* (``classes``: integer labels; ``real``: real-valued rows), a *zoo* (a list of models).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shlex
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any, Callable, Sequence

import numpy as np

from metrics.registry import Needs, Target


class FlabelKind(str, Enum):
    """What one row of an F-label table describes."""
    CLASS = "class"    # one row per class; the features carry integer class labels (classification, VQA)
    SAMPLE = "sample"  # one row per sample, aligned with the features' rows (captioning, text QA, grounding)


@dataclass
class Samples:
    """A dataset read by a task: the fixed order that stages 1 and 2 share.

    ``items`` is indexable in that order (what a :class:`FeatureModel` turns into model inputs); ``labels`` are
    int64 (N,): the class index (``CLASS`` kind) or a group index (e.g. the image of a caption); ``texts`` are
    what stage 2 embeds (the class names, or one text per sample); ``settings`` say how the samples were chosen
    (split, max_samples, ...) and are recorded with everything made from them. ``source`` is where they were
    read from (a resolved path, or a dataset's name); ``ids`` name each sample (a file path, a question id) in
    messages, and enter the fingerprint (with each file's size and modification time where an id is a file);
    ``identity_parts`` are further strings that define the samples without being their ids or texts (a VQA
    question, a grounding box, a QA context): they enter the fingerprint, so that an edit of them is other data.
    """
    name: str
    items: Any
    labels: np.ndarray
    texts: list[str]
    settings: dict
    source: str = ""
    ids: Sequence[str] | None = None
    identity_parts: Sequence[str] = ()

    def __len__(self) -> int:
        return len(self.labels)

    def describe(self, index: int) -> str:
        return f"sample {index} ({self.ids[index]})" if self.ids is not None else f"sample {index}"

    @cached_property
    def fingerprint(self) -> str:
        """A digest of the sample list: the ids (with file sizes and times), the labels, the texts and the
        identity parts."""
        digest = hashlib.sha1()
        for text in self.texts:
            digest.update(f"text:{text}\n".encode())
        digest.update(np.ascontiguousarray(self.labels, dtype=np.int64).tobytes())
        for sample in self.ids or ():
            digest.update(f"{sample}\t{_file_stamp(sample)}\n".encode())
        for part in self.identity_parts:
            digest.update(f"part:{part}\n".encode())
        return digest.hexdigest()[:16]

    def identity(self, kind: "FlabelKind") -> dict:
        """What stored files record of the data they were made from (compared by later stages)."""
        identity = {"source": self.source, "samples": len(self), "fingerprint": self.fingerprint}
        if kind is FlabelKind.CLASS:
            identity["classes"] = list(self.texts)
        return identity


def _file_stamp(sample: str) -> str:
    try:
        stat = os.stat(sample)
    except (OSError, ValueError, TypeError):
        return ""
    return f"{stat.st_size}:{stat.st_mtime_ns}"


@dataclass
class FeatureModel:
    """A loaded candidate. ``forward(batch)`` -> ``(features, source_probs)``, each ``{stored name: (B, ...)}``;
    ``source_probs`` holds the softmax of the model's own (source) head for the stored names that have one.
    ``inputs(samples)`` is the samples as this model's inputs (its preprocessing), ``collate`` batches them."""
    module: Any                                      # a torch.nn.Module (moved to the device, set to eval)
    forward: Callable[[Any], tuple[dict, dict]]
    inputs: Callable[[Samples], Any]
    collate: Callable | None = None
    meta: dict = field(default_factory=dict)         # what is known only after loading (e.g. the checkpoint)


@dataclass
class Candidate:
    """A model as the store describes it, known without loading it: ``stored`` are the names its features are
    stored under (several for a multi-depth network), ``meta(stored_name)`` the settings recorded with them."""
    name: str
    stored: tuple[str, ...]
    meta: Callable[[str], dict]
    load: Callable[[], FeatureModel]


class Task:
    """Base class of a task; see the module docstring. Subclasses set the class attributes and the methods
    that raise NotImplementedError."""

    name: str = ""
    flabel_kind: FlabelKind = FlabelKind.CLASS
    stage1_script: str = ""             # the paper's stage-1 script of this task (for hints)
    stage2_scripts: dict[str, str] = {}  # backend ("clip", "bert", "gpt2") -> stage-2 script
    measure: str = "fine-tuned result"  # what a ground truth measures, where its file does not say
    datasets: tuple[str, ...] = ()      # the paper's datasets of the task: what a stage takes when given none
    # Task-specific settings: constant name -> default; every stage script of the task takes them as flags.
    options: dict[str, Any] = {}
    option_types: dict[str, Callable] = {}
    option_help: dict[str, str] = {}

    @property
    def target(self) -> Target:
        return Target.CLASSES if self.flabel_kind is FlabelKind.CLASS else Target.REAL

    # ----- datasets -----------------------------------------------------------------------------------
    def dataset_args(self, args: argparse.Namespace) -> list[str | None]:
        """The datasets a stage run covers: names, or [None] when one dataset is given by path."""
        raise NotImplementedError

    def dataset_name(self, args: argparse.Namespace, name: str | None) -> str:
        """The store name of a dataset, known without reading it."""
        raise NotImplementedError

    def name_of_path(self, path) -> str:
        """The store name of a dataset given by its path (a folder or a file)."""
        raise NotImplementedError

    def load_samples(self, name: str | None, args: argparse.Namespace) -> Samples:
        raise NotImplementedError

    def flabel_texts(self, name: str | None, args: argparse.Namespace) -> tuple[str, list[str], dict]:
        """(dataset name, texts, settings) for stage 2: the class names (kind CLASS) or one text per sample
        (kind SAMPLE), in the order the features use; settings["data"] is the identity stage 3 compares with the
        features'. Override where reading the samples is not needed."""
        samples = self.load_samples(name, args)
        return samples.name, list(samples.texts), {**samples.settings, "data": samples.identity(self.flabel_kind)}

    # ----- models -------------------------------------------------------------------------------------
    def zoo_models(self, zoo: str) -> list[str]:
        """The models of a zoo (what --models takes); ValueError for a zoo the task does not know."""
        raise NotImplementedError

    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        raise NotImplementedError

    def stored_names(self, zoo: str) -> list[str]:
        """The names a zoo's features are stored under ([] for a zoo the task does not know)."""
        try:
            return list(self.zoo_models(zoo))
        except ValueError:
            return []

    # ----- stage 3 ------------------------------------------------------------------------------------
    def metric_arguments(self, spec, features: np.ndarray, labels: np.ndarray, flabels: dict[str, np.ndarray],
                         source_probs: np.ndarray | None) -> tuple[tuple, dict]:
        """(args, kwargs) of a metric of the registry on one model's stored inputs."""
        if spec.needs == Needs.SOURCE_PROBS_LABELS:
            return (source_probs, labels), {}
        if self.flabel_kind is FlabelKind.CLASS:
            if spec.needs == Needs.FEATURES_FLABELS:
                return (features, class_tables(flabels, labels), labels), {}
            return (features, labels), {}
        tables = sample_tables(flabels, len(features))
        if spec.needs == Needs.FEATURES_FLABELS:
            return (features, tables), {}
        # the encoders' F-labels side by side as real targets (LogME's evidence is a mean over targets)
        return (features, np.hstack(tables)), _regression_flag(spec)

    def stage1_command(self, dataset: str, models: Sequence[str], stored_meta: dict | None) -> str:
        """A stage-1 command that makes the features of `models` on `dataset`, with the settings of
        `stored_meta` (the meta of another model of that dataset), where known."""
        raise NotImplementedError

    def stage2_command(self, dataset: str, stored_meta: dict | None) -> str:
        """A stage-2 command that makes F-labels for `dataset` (`stored_meta`: a feature meta of that dataset)."""
        raise NotImplementedError


def _regression_flag(spec) -> dict:
    import inspect

    return {"regression": True} if "regression" in inspect.signature(spec.function).parameters else {}


def class_tables(flabels: dict[str, np.ndarray], labels: np.ndarray) -> list[np.ndarray]:
    """The rows of each class table for the classes present, in label order (EMMS pairs row c with the c-th
    smallest label, so a split that lacks a class would otherwise shift every row after it)."""
    from pipeline.store import MissingInputError

    if not flabels:
        raise MissingInputError("no class F-labels for this dataset (see the message above)")
    present = np.unique(labels)
    if present[0] < 0:
        raise ValueError(f"labels hold negative class indices ({int(present[0])}); re-extract the features")
    for encoder, table in flabels.items():
        if present[-1] >= len(table):
            raise ValueError(f"class F-labels of {encoder!r} have {len(table)} rows but the labels go up to "
                             f"class {int(present[-1])}; re-run stage 2 for this dataset")
    return [table[present] for table in flabels.values()]


def sample_tables(flabels: dict[str, np.ndarray], rows: int) -> list[np.ndarray]:
    """The per-sample F-label tables, checked to have one row per feature row."""
    from pipeline.store import MissingInputError

    if not flabels:
        raise MissingInputError("no per-sample F-labels for this dataset (see the message above)")
    for encoder, table in flabels.items():
        if len(table) != rows:
            raise ValueError(f"per-sample F-labels of {encoder!r} have {len(table)} rows but the features have "
                             f"{rows}; they must describe the same samples in the same order: re-run stage 2")
    return list(flabels.values())


def command(script: str, flags: dict[str, Any]) -> str:
    """'python script --flag value ...' for the flags whose value is not None (lists joined with commas)."""
    parts = [f"python {script}"]
    for flag, value in flags.items():
        if value is None or value == []:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        text = str(value)
        parts.append(f"--{flag} {shlex.quote(text)}")
    return " ".join(parts)
