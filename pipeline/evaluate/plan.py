"""Stage 3, what to run: the task, the datasets, the models of each and the metrics that apply."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import metrics as metric_registry
from metrics.registry import Needs
from pipeline import defaults, tasks
from pipeline.cli import Option
from pipeline.evaluate.ground_truth import GroundTruth, load_ground_truth
from pipeline.kinds import ProblemKind
from pipeline.store import Store

STORED = "stored"   # the name of a run's tables when no zoo is named: the models stored for each dataset

OPTIONS = (
    Option("ZOO", None, "a zoo of the task (its members are scored; its ground truth is used where one ships); "
                        "another name labels the run's tables; None: the models stored for each dataset"),
    Option("DATASETS", [], "datasets as stage 1 named them; empty: the ground truth's, else every dataset stored "
                           "for the task"),
    Option("MODELS", [], "networks as stage 1 took them (a multi-depth network means its stored depths) or stored "
                         "names; empty: the zoo's, else those stored"),
    Option("METRICS", [], "empty: every metric the task's targets and the stored inputs allow"),
    Option("FLABEL_ENCODERS", [], "F-label encoders; empty: every encoder with F-labels of the task's kind stored "
                                  "for the dataset"),
    Option("GROUND_TRUTH", None, "a ground-truth JSON (format of data/ground_truth/*.json); None: the zoo's, if "
                                 "one ships"),
    Option("RESULTS", defaults.RESULTS, "the results folder every stage reads and writes (default: the "
                                        "repository's)"),
    Option("OVERWRITE", False, "re-score cells that are already scored"),
    Option("DEVICE", "cpu", "cpu, auto, cuda: where the metrics that take a device run their dense algebra"),
    Option("METRIC_OPTIONS", {}, "JSON {metric: {keyword: value}}: a metric's keyword options (its docstring and "
                                 "docs/metrics.md list them), e.g. a ridge for a least-squares fit when N <= D"),
    Option("FEATURE_DIM", None, "None: features as stored (the paper); D: each candidate reduced by PCA to width D",
           int),
    Option("JOBS", 1, "cells (models) scored at once in worker processes (BLAS threads shared out over the cores)"),
    Option("INTERVAL_DRAWS", 1000, "seeded bootstrap resamples of the candidates behind each τ's 90% interval; 0: no "
                                   "intervals"),
    Option("STABILITY_DRAWS", 10, "without a ground truth: seeded half-subsamples of the samples on which each "
                                  "metric's pick is made again; 0: none"),
    Option("SCORES", None, "a CSV of scores made elsewhere (dataset,model,metric,score): its tables are made "
                           "instead of scoring the store's features"),
)


class UsageError(ValueError):
    """A setting that cannot work (unknown metric, no datasets, bad ground-truth file): printed, no traceback."""


@dataclass
class Settings:
    task: str
    zoo: str | None = None
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
    interval_draws: int = 1000        # bootstrap resamples behind each τ's interval (0: none)
    stability_draws: int = 10         # half-subsamples behind each pick's stability without a ground truth (0: none)
    scores: str | None = None         # a CSV of scores made elsewhere, evaluated instead of the store's
    zoo_named: bool = True            # False: the zoo is a script's default, so a dataset outside its ground
    #                                   truth is scored on the models stored for it, not on the zoo's members


@dataclass
class Problem:
    dataset: str
    model: str
    metric: str
    kind: ProblemKind
    message: str


@dataclass
class Plan:
    settings: Settings
    task: tasks.Task
    store: Store
    truth: GroundTruth | None
    datasets: list[str]
    models: dict[str, list[str]]         # per dataset: stored names
    metrics: dict[str, list[str]]        # per dataset
    networks: dict[str, str] = field(default_factory=dict)  # stored name -> the network stage 1 takes (--models)

    @property
    def zoo(self) -> str:
        """The name the run's tables are filed under: the zoo, or 'stored'."""
        return self.settings.zoo or STORED

    @property
    def width_tag(self) -> str:
        """'' for features as stored, '_d64' with --feature-dim 64: scores and tables of a width are kept apart."""
        return "" if self.settings.feature_dim is None else f"_d{self.settings.feature_dim}"

    @property
    def prefix(self) -> str:
        """The file-name prefix of this run's tables: the task, and the width where one was asked."""
        return f"{self.task.name}{self.width_tag}"

    def score_file(self, metric: str) -> str:
        """The name of a metric's score file in the store: the metric's name, with '_d64' at another width."""
        return f"{metric}{self.width_tag}"

    def network_of(self, stored: str) -> str:
        return self.networks.get(stored, stored)


def make_plan(settings: Settings, given: dict | None = None) -> Plan:
    """The plan of a run; `given`: a table of scores made elsewhere ({dataset: {metric: {model: score}}}), whose
    datasets, models and metrics it is then (nothing is scored)."""
    try:
        task = tasks.get(settings.task)
    except ValueError as error:
        raise UsageError(str(error)) from None
    zoo = _zoo(settings, task)
    truth = _ground_truth(settings, task, zoo)
    _check_metric_options(settings.metric_options)
    if settings.feature_dim is not None and (not isinstance(settings.feature_dim, int) or settings.feature_dim < 1):
        raise UsageError(f"--feature-dim must be a positive width (or none: the features as stored), "
                         f"got {settings.feature_dim!r}")
    for name in ("jobs", "interval_draws", "stability_draws"):
        value, least = getattr(settings, name), 1 if name == "jobs" else 0
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise UsageError(f"--{name.replace('_', '-')} must be a whole number of at least {least}, got {value!r}")
    store = Store(settings.results)
    if given is not None:
        return _plan_of_scores(settings, task, store, truth, given)
    datasets = _datasets(settings, task, truth, store)
    plan = Plan(settings, task, store, truth, datasets, {}, {})
    for dataset in datasets:
        plan.models[dataset] = _models(plan, zoo, dataset)
        plan.metrics[dataset] = _metrics(settings, task, store, dataset, plan.models[dataset])
    return plan


def _plan_of_scores(settings: Settings, task: tasks.Task, store: Store, truth: GroundTruth | None,
                    given: dict) -> Plan:
    """The plan of a table of scores made elsewhere: its datasets (those --datasets names, where given), models
    and metrics (the baselines apart)."""
    from pipeline.models.baselines import BASELINES

    datasets = [d for d in given if not settings.datasets or d in settings.datasets]
    if not datasets:
        raise UsageError(f"{settings.scores} holds none of the datasets {settings.datasets}; it has {sorted(given)}")
    models = {d: sorted({m for scores in given[d].values() for m in scores}) for d in datasets}
    names = {d: [n for n in given[d] if n not in BASELINES] for d in datasets}
    return Plan(settings, task, store, truth, datasets, models, names)


def _zoo(settings: Settings, task: tasks.Task) -> tasks.Zoo | None:
    """The registered zoo named by --zoo (or its alias), None where the name is not a registered zoo."""
    return tasks.find_zoo(settings.zoo, task.name) if settings.zoo else None


def _ground_truth(settings: Settings, task: tasks.Task, zoo: tasks.Zoo | None) -> GroundTruth | None:
    name = settings.ground_truth or (zoo.ground_truth if zoo else settings.zoo)
    if not name:
        return None
    try:
        truth = load_ground_truth(name, task.name)
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    if settings.ground_truth and truth is None:
        raise UsageError(f"no ground truth named {settings.ground_truth!r}; pass a JSON file path or a shipped zoo")
    return truth


def _check_metric_options(options: dict) -> None:
    registry = metric_registry.METRICS
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise UsageError("--metric-options takes JSON of {metric: {keyword: value}}, "
                         "e.g. '{\"name\": {\"option\": 1}}'")
    for name, keywords in options.items():
        if name not in registry:
            raise UsageError(f"--metric-options names unknown metric {name!r}; available: {', '.join(registry)}")
        unknown = [k for k in keywords if k not in registry[name].options]
        if unknown:
            raise UsageError(f"--metric-options: {name} takes no option(s) {unknown}; it takes "
                             f"{list(registry[name].options)}")


def _datasets(settings: Settings, task: tasks.Task, truth: GroundTruth | None, store: Store) -> list[str]:
    datasets = list(settings.datasets)
    if settings.dataset_dir:
        datasets.append(task.name_of_path(Path(settings.dataset_dir).expanduser()))
    if not datasets and truth is not None:
        datasets = truth.datasets
    if not datasets:
        datasets = store.list_datasets(task.name)
    if not datasets:
        raise UsageError(f"no datasets: nothing of the {task.name} task is stored in {store.root}"
                         + (f" and zoo {settings.zoo!r} has no ground truth listing them" if settings.zoo else "")
                         + "; pass --datasets NAME (as stage 1 named it) or --dataset-dir PATH")
    return list(dict.fromkeys(datasets))


def _models(plan: Plan, zoo: tasks.Zoo | None, dataset: str) -> list[str]:
    """The stored names to score on `dataset`: --models (a network means its stored depths; a stored name
    itself), else the ground truth's, else the zoo's, else every model stored for the dataset. The network of
    each name the plan expanded is kept for the commands that make missing features."""
    settings, truth = plan.settings, plan.truth
    if settings.models:
        return _expand(plan, settings.models, dataset)
    on_dataset = truth.for_dataset(dataset) if truth is not None else None
    if on_dataset or (truth is not None and settings.zoo_named):
        if zoo is not None:
            _expand(plan, zoo.members, dataset)   # for the networks of the ground truth's stored names
        return list(on_dataset) if on_dataset else list(dict.fromkeys(
            m for results in truth.finetune.values() for m in results))
    if zoo is not None and settings.zoo_named:
        return _expand(plan, zoo.members, dataset)
    return plan.store.list_models(dataset)   # no zoo, or a name of the user's own for the run's tables


def _expand(plan: Plan, names, dataset: str) -> list[str]:
    stored = []
    for name in names:
        if plan.store.has_features(dataset, name):
            expanded = [name]
        else:
            expanded = plan.task.stored_names(name)
        for each in expanded:
            plan.networks.setdefault(each, name)
        stored += expanded
    return list(dict.fromkeys(stored))


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


__all__ = ["OPTIONS", "Plan", "Problem", "ProblemKind", "Settings", "UsageError", "make_plan"]
