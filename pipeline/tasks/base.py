"""The task protocol: everything that differs between tasks, declared in one place per task.

A task package (``pipeline/tasks/<task>/``, its ``__init__.py``) subclasses :class:`Task` and registers an instance with
:func:`pipeline.tasks.register`. The stages never ask "which task is this?": they call the task.

- **Stage 1** (:mod:`pipeline.extract`): :meth:`Task.dataset_args` and :meth:`Task.load_samples` give the
  samples in the fixed order stages 1 and 2 share; :meth:`Task.zoo_models` and :meth:`Task.candidate` give the
  models; a :class:`Candidate` loads into a :class:`FeatureModel` whose ``forward(batch)`` returns the pair
  ``(features, source_probs)``, each ``{stored name: tensor (B, ...)}``.
- **Stage 2** (:mod:`pipeline.flabels.stage`): :attr:`Samples.texts`, embedded as class names (``FlabelKind.CLASS``:
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
from functools import cached_property
from typing import Any, Callable, Sequence

import numpy as np

from metrics.registry import Needs, Target
from pipeline.cli import Option
from pipeline.kinds import FlabelKind
from pipeline.store import MissingInputError


@dataclass
class Samples:
    """A dataset read by a task: the fixed order that stages 1 and 2 share.

    ``items`` is indexable in that order (what a :class:`FeatureModel` turns into model inputs); ``labels`` are
    int64 (N,): the class index (``CLASS`` kind) or a group index (e.g. the image of a caption); ``texts`` are
    what stage 2 embeds (the class names, or one text per sample); ``settings`` say how the samples were chosen
    (split, max_samples, ...) and are recorded with everything made from them. ``source`` is where they were
    read from (a resolved path, or a dataset's name); ``ids`` name each sample (a file path, a question id) in
    messages, and enter the fingerprint (a file by its real path, however it was spelled: relative, absolute or
    through a symlink, with its size and modification time);
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
            digest.update(f"{_real(sample)}\t{_file_stamp(sample)}\n".encode())
        for part in self.identity_parts:
            digest.update(f"part:{part}\n".encode())
        return digest.hexdigest()[:16]

    def identity(self, kind: "FlabelKind") -> dict:
        """What stored files record of the data they were made from (compared by later stages)."""
        identity = {"source": _real(self.source), "samples": len(self), "fingerprint": self.fingerprint}
        if kind is FlabelKind.CLASS:
            identity["classes"] = list(self.texts)
        return identity


def _real(name: str) -> str:
    """The real path of an existing file or folder (so that two spellings of one are the same data), else `name`."""
    try:
        return os.path.realpath(name) if name and os.path.exists(name) else name
    except (TypeError, ValueError):
        return name


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
    stage1_script: str = ""             # the stage-1 script of this task (hints; a zoo may name another)
    stage2_scripts: dict[str, str] = {}  # backend ("clip", "bert", "gpt2") -> stage-2 script
    measure: str = "fine-tuned result"  # what a ground truth measures, where its file does not say
    datasets: tuple[str, ...] = ()      # the paper's datasets of the task: what a stage takes when given none
    # The one path option (stages 1, 2 and 3): one dataset given by its folder or file instead of DATASETS.
    path_option: Option = Option("DATASET_DIR", None, "one dataset by its folder or file; replaces DATASETS")
    options: tuple[Option, ...] = ()        # how the samples are chosen (stages 1 and 2): split, max_samples, ...
    stage1_options: tuple[Option, ...] = ()  # stage 1 only: how a candidate is run (image size, feature, ...)

    @property
    def target(self) -> Target:
        return Target.CLASSES if self.flabel_kind is FlabelKind.CLASS else Target.REAL

    @property
    def default_zoo(self) -> str | None:
        found = [z.name for z in zoos(self.name) if z.default]
        return found[0] if found else None

    # ----- datasets -----------------------------------------------------------------------------------
    def dataset_args(self, args: argparse.Namespace) -> list[str | None]:
        """The datasets a stage run covers: names (the task's paper datasets when none are given), or [None]
        when one dataset is given by path."""
        if args.dataset_dir:
            return [None]
        chosen = list(args.datasets) or list(self.datasets)
        if not chosen:
            raise ValueError(f"no {self.name} dataset: pass --datasets NAME (a folder under --data-root) or "
                             f"{self.path_option.flag} PATH")
        return chosen

    def dataset_name(self, args: argparse.Namespace, name: str | None) -> str:
        """The store name of a dataset, known without reading it."""
        return self.name_of_path(args.dataset_dir) if args.dataset_dir else name

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
    def candidate(self, model: str, args: argparse.Namespace) -> Candidate:
        raise NotImplementedError

    def stored_names(self, model: str) -> list[str]:
        """The names a model's features are stored under (several for a multi-depth network), known without
        loading it; a model is stored under its own name by default."""
        return [model]

    def baselines(self, meta: dict) -> dict[str, float]:
        """The simple baselines of a stored candidate (its meta), {``source_accuracy``, ``params``}, where known
        (:mod:`pipeline.models.baselines`); none by default."""
        return {}

    def zoo_models(self, zoo_name: str) -> list[str]:
        """The models of a zoo of this task (what --models takes); ValueError naming the known zoos otherwise."""
        return list(zoo(zoo_name, self.name).members)

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
        return (features, np.hstack(tables)), ({"regression": True} if spec.takes_regression else {})

    def reads_flabels(self, spec) -> bool:
        """Whether a metric reads the F-labels: EMMS always; with per-sample F-labels, every metric that takes
        features (its targets are the F-labels)."""
        return spec.needs == Needs.FEATURES_FLABELS or (self.flabel_kind is FlabelKind.SAMPLE
                                                        and spec.needs != Needs.SOURCE_PROBS_LABELS)

    # ----- the commands that make what is missing -------------------------------------------------------
    def stage1_command(self, dataset: str, networks: Sequence[str], stored_meta: dict | None) -> str:
        """A stage-1 command that makes the features of `networks` (what --models takes) on `dataset`, with the
        settings of `stored_meta` (the meta of another model of that dataset), where known."""
        meta = stored_meta or {}
        zoo_name = meta.get("zoo")
        known = find_zoo(zoo_name, self.name) if zoo_name else None
        script = (known.stage1_script if known else None) or self.stage1_script
        return command(script, {"zoo": zoo_name, "models": list(dict.fromkeys(networks)),
                                **self.dataset_flags(dataset, meta), **recorded_flags(self.stage1_options, meta),
                                "checkpoint-dir": meta.get("checkpoint_dir")})

    def stage2_command(self, dataset: str, stored_meta: dict | None, *, script: str | None = None,
                       model: str | None = None) -> str:
        """A stage-2 command that makes F-labels for `dataset` (`stored_meta`: a feature meta of that dataset),
        with `script` (default: the BERT script of the task) and the encoder `model` where known."""
        script = script or self.stage2_scripts["bert"]
        task = {} if script_default(script, "TASK") == self.name else {"task": self.name}
        return command(script, {**task, **self.dataset_flags(dataset, stored_meta or {}), "model": model})

    def dataset_flags(self, dataset: str, meta: dict) -> dict:
        """The flags that name a dataset as the stored meta says it was read: by its path where one was given
        (the path option: as the user typed it where that still names the same place from here, else absolute),
        else by name; and the dataset options whose recorded value is not the default."""
        path = meta.get(self.path_option.key)
        typed = meta.get(f"{self.path_option.key}_as_given")
        if path and typed and os.path.realpath(typed) == os.path.realpath(path):
            path = typed
        where = {self.path_option.flag[2:]: path} if path else {"datasets": dataset}
        return {**where, **recorded_flags(self.options, meta)}


def recorded_flags(options: Sequence[Option], meta: dict) -> dict:
    """{flag: value} of the options whose value recorded in `meta` differs from the option's default."""
    return {option.flag[2:]: meta[option.key] for option in options
            if option.key in meta and meta[option.key] is not None and meta[option.key] != option.default}


def script_default(script: str, name: str):
    """The value a stage script assigns to the constant `name` at its top level (read from its source, not run),
    or None."""
    import ast

    from pipeline.defaults import REPO_ROOT

    path = REPO_ROOT / script
    if not path.is_file():
        return None
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


# ----- the registries: tasks and zoos, each filled where it is defined --------------------------------------
_TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add a task (``register(MyTask())`` at the end of its module)."""
    if not task.name:
        raise ValueError(f"{type(task).__name__} has no name")
    _TASKS[task.name] = task
    return task


def registered_tasks() -> dict[str, Task]:
    return _TASKS


@dataclass(frozen=True)
class Zoo:
    """A named list of models of one task: ``members`` are what ``--models`` takes (network names);
    ``stage1_script`` the script whose models they are (hints), ``ground_truth`` the stem of the file under
    data/ground_truth/ with their fine-tuned results, ``aliases`` older names that still select it."""
    name: str
    task: str
    members: tuple[str, ...]
    description: str = ""
    stage1_script: str | None = None
    ground_truth: str | None = None
    aliases: tuple[str, ...] = ()
    default: bool = False


_ZOOS: dict[str, Zoo] = {}


def register_zoo(new: Zoo) -> Zoo:
    """Add a zoo; its name is unique over every task (an alias, within its task)."""
    if new.name in _ZOOS and _ZOOS[new.name] != new:
        raise ValueError(f"a zoo named {new.name!r} is registered already (task {_ZOOS[new.name].task})")
    _ZOOS[new.name] = new
    return new


def zoos(task: str | None = None) -> list[Zoo]:
    """The registered zoos (of one task)."""
    return [z for z in _ZOOS.values() if task is None or z.task == task]


def find_zoo(name: str, task: str) -> Zoo | None:
    """The zoo of `task` named `name` (or whose alias it is), or None."""
    for candidate in zoos(task):
        if name == candidate.name or name in candidate.aliases:
            return candidate
    return None


def zoo(name: str, task: str) -> Zoo:
    """:func:`find_zoo`, or ValueError naming the zoos the task knows."""
    found = find_zoo(name, task)
    if found is None:
        known = ", ".join(z.name for z in zoos(task)) or "none"
        raise ValueError(f"unknown {task} zoo {name!r}; known: {known} (or name models with --models)")
    return found


def class_tables(flabels: dict[str, np.ndarray], labels: np.ndarray) -> list[np.ndarray]:
    """The rows of each class table for the classes present, in label order (EMMS pairs row c with the c-th
    smallest label, so a split that lacks a class would otherwise shift every row after it)."""
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
