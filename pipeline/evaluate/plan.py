"""Stage 3, what to run: the task, the datasets, the models of each and the metrics that apply."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

import metrics as metric_registry
from metrics.registry import Needs
from pipeline import defaults, tasks
from pipeline.ground_truth import GroundTruth, load_ground_truth
from pipeline.store import Store


class UsageError(ValueError):
    """A setting that cannot work (unknown metric, no datasets, bad ground-truth file): printed, no traceback."""


@dataclass
class Settings:
    task: str
    zoo: str
    datasets: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    flabel_encoders: list[str] = field(default_factory=list)
    results: str = str(defaults.RESULTS)
    overwrite: bool = False
    dataset_dir: str | None = None    # one dataset given by its path, named as stage 1 named it
    ground_truth: str | None = None   # a zoo name or a JSON path; None: the zoo's shipped file, if any
    device: str = "cpu"               # "cuda" / "auto": metrics that take a device run their dense algebra there
    metric_options: dict = field(default_factory=dict)  # {metric: {keyword: value}}, e.g. {"emms": {"ridge": 40}}
    feature_dim: int | None = None    # every candidate's features reduced by PCA to this width (evaluate/reduce.py)
    jobs: int = 1                     # cells scored at once, in worker processes (at most one per core)


@dataclass
class Problem:
    dataset: str
    model: str
    metric: str
    kind: str        # "missing features", "missing input", "bad input", "different samples", "failed",
    #                  "not applicable", "warning",
    #                  "no ground truth", "correlation"
    message: str


@dataclass
class Plan:
    settings: Settings
    task: tasks.Task
    store: Store
    truth: GroundTruth | None
    datasets: list[str]
    models: dict[str, list[str]]         # per dataset
    metrics: dict[str, list[str]]        # per dataset

    @property
    def width_tag(self) -> str:
        """'' for features as stored, '_d64' with --feature-dim 64: scores and tables of a width are kept apart."""
        return "" if self.settings.feature_dim is None else f"_d{self.settings.feature_dim}"

    @property
    def prefix(self) -> str:
        """The file-name prefix of this run's tables: the task, and the width where one was asked."""
        return f"{self.task.name}{self.width_tag}"

    def score_file(self, metric: str) -> str:
        """The name of a metric's score file in the store: 'emms', or 'emms_d64' at another width."""
        return f"{metric}{self.width_tag}"


def make_plan(settings: Settings) -> Plan:
    try:
        task = tasks.get(settings.task)
    except ValueError as error:
        raise UsageError(str(error)) from None
    try:
        truth = load_ground_truth(settings.ground_truth or settings.zoo)
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    if settings.ground_truth and truth is None:
        raise UsageError(f"no ground truth named {settings.ground_truth!r}; pass a JSON file path or a shipped zoo")
    _check_metric_options(settings.metric_options)
    if settings.feature_dim is not None and (not isinstance(settings.feature_dim, int) or settings.feature_dim < 1):
        raise UsageError(f"--feature-dim must be a positive width (or none: the features as stored), "
                         f"got {settings.feature_dim!r}")
    if not isinstance(settings.jobs, int) or settings.jobs < 1:
        raise UsageError(f"--jobs must be a whole number of at least 1, got {settings.jobs!r}")
    store = Store(settings.results)
    datasets = _datasets(settings, task, truth)
    models = {d: _models(settings, task, truth, store, d) for d in datasets}
    chosen = {d: _metrics(settings, task, store, d, models[d]) for d in datasets}
    return Plan(settings, task, store, truth, datasets, models, chosen)


def _check_metric_options(options: dict) -> None:
    registry = metric_registry.METRICS
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise UsageError('--metric-options takes JSON of {metric: {keyword: value}}, e.g. \'{"emms": {"ridge": 40}}\'')
    for name, keywords in options.items():
        if name not in registry:
            raise UsageError(f"--metric-options names unknown metric {name!r}; available: {', '.join(registry)}")
        accepted = inspect.signature(registry[name].function).parameters
        unknown = [k for k in keywords if k not in accepted]
        if unknown:
            raise UsageError(f"--metric-options: {name} takes no option(s) {unknown}; it takes {list(accepted)}")


def _datasets(settings: Settings, task: tasks.Task, truth: GroundTruth | None) -> list[str]:
    datasets = list(settings.datasets)
    if settings.dataset_dir:
        datasets.append(task.name_of_path(Path(settings.dataset_dir).expanduser()))
    if not datasets and truth is not None:
        datasets = truth.datasets
    if not datasets:
        raise UsageError(f"no datasets: zoo {settings.zoo!r} has no ground truth listing them; "
                         f"pass --datasets NAME (as stage 1 named it) or --dataset-dir PATH")
    return list(dict.fromkeys(datasets))


def _models(settings: Settings, task: tasks.Task, truth: GroundTruth | None, store: Store, dataset: str) -> list[str]:
    if settings.models:
        return list(dict.fromkeys(settings.models))
    if truth is not None:
        on_dataset = truth.for_dataset(dataset)
        if on_dataset:
            return list(on_dataset)
        return list(dict.fromkeys(m for results in truth.finetune.values() for m in results))
    listed = task.stored_names(settings.zoo)
    return listed if listed else store.list_models(dataset)


def _metrics(settings: Settings, task: tasks.Task, store: Store, dataset: str, models: list[str]) -> list[str]:
    target = task.target
    registry = metric_registry.METRICS
    if settings.metrics:
        unknown = [m for m in settings.metrics if m not in registry]
        if unknown:
            raise UsageError(f"unknown metric(s) {unknown}; available: {', '.join(registry)}")
        wrong = [m for m in settings.metrics if target not in registry[m].targets]
        if wrong:
            usable = ", ".join(n for n, spec in registry.items() if target in spec.targets)
            raise UsageError(f"metric(s) {wrong} do not take {target.value!r} targets, so they cannot score the "
                             f"{task.name} task; use: {usable}")
        return list(dict.fromkeys(settings.metrics))
    has_probs = any(store.source_probs_path(dataset, m).exists() for m in models)
    return [name for name, spec in registry.items()
            if target in spec.targets and (spec.needs != Needs.SOURCE_PROBS_LABELS or has_probs)]
