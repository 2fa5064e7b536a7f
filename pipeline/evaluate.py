"""Stage 3, shared by ``evaluate_metric_cls.py`` and ``evaluate_metric_caption.py``: score a zoo with any
metrics, correlate the scores with fine-tuning results, print and write the tables and plots.

For every dataset and model the features and labels are read from the store (memory-mapped), every metric
runs on them (with its registry defaults), and its score and seconds are merged into
``results/scores/<dataset>/<metric>.json`` with a digest of its inputs (the features' meta, the F-labels'
meta where the metric uses them, the metric's defaults, and for a whole-zoo metric the zoo). A
(dataset, model, metric) already scored from the same inputs is skipped unless ``overwrite``; one whose
inputs changed (features re-extracted, F-labels added) is scored again. A metric that raises is a failed
cell: recorded, reported at the end, the others continue. A missing or inconsistent input (features,
F-labels) is reported the same way, with the command that makes it.

Targets per task:

- ``cls``: integer class labels. EMMS gets the list of class F-label tables (C, D2) of every encoder and the
  labels (so nothing N x D2 is built); LEEP and NCE run where the source-head probabilities are stored;
  whole-zoo metrics (NCTI, ETran) get {model: features} of every model of the dataset.
- ``caption``: per-sample caption F-labels (N, d), aligned with the features' rows. Only the metrics whose
  registry targets include ``"real"``: EMMS with the list of per-sample F-labels, LogME with
  ``regression=True`` on the encoders' F-labels side by side as K real targets (LogME's evidence is a mean
  over targets, so this is LogME's mean over encoders weighted by width).

Then, per dataset with a ground truth: the correlations of :func:`pipeline.correlation.correlate` (a mean
row averages over the datasets that have a value); per dataset without one (a user's own data): the models
ranked by each metric and the metrics' agreement (Kendall tau-b between their rankings).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import metrics as metric_registry
from pipeline import correlation, report
from pipeline.ground_truth import GroundTruth, load_ground_truth
from pipeline.store import MissingInputError, Store, load_json

TASKS = ("cls", "caption")
FLABEL_KIND = {"cls": "class", "caption": "caption"}


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
    results: str = "results"
    overwrite: bool = False
    dataset_dir: str | None = None
    ground_truth: str | None = None   # a zoo name or a JSON path; None: the zoo's shipped file, if any
    device: str | None = None         # "cuda": metrics that take a device run their dense algebra there
    metric_options: dict = field(default_factory=dict)  # {metric: {keyword: value}}, e.g. {"emms": {"ridge": 40}}


@dataclass
class Problem:
    dataset: str
    model: str
    metric: str
    kind: str        # "missing features", "missing input", "bad input", "failed", "not applicable", "warning",
    #                  "no ground truth", "correlation"
    message: str


@dataclass
class Plan:
    settings: Settings
    store: Store
    truth: GroundTruth | None
    datasets: list[str]
    models: dict[str, list[str]]         # per dataset
    metrics: dict[str, list[str]]        # per dataset


# ----- what to run -----------------------------------------------------------------------------------------
def make_plan(settings: Settings) -> Plan:
    if settings.task not in TASKS:
        raise UsageError(f"task must be one of {TASKS}, got {settings.task!r}")
    try:
        truth = load_ground_truth(settings.ground_truth or settings.zoo)
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    if settings.ground_truth and truth is None:
        raise UsageError(f"no ground truth named {settings.ground_truth!r}; pass a JSON file path or a shipped zoo")
    _check_metric_options(settings.metric_options)
    store = Store(settings.results)
    datasets = _datasets(settings, truth)
    models = {d: _models(settings, truth, store, d) for d in datasets}
    chosen = {d: _metrics(settings, store, d, models[d]) for d in datasets}
    return Plan(settings, store, truth, datasets, models, chosen)


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


def _datasets(settings: Settings, truth: GroundTruth | None) -> list[str]:
    datasets = list(settings.datasets)
    if settings.dataset_dir:
        from pipeline.datasets import dataset_name  # stage 1's naming rule (imports torch: only when needed)
        datasets.append(dataset_name(dataset_dir=Path(settings.dataset_dir).expanduser()))
    if not datasets and truth is not None:
        datasets = truth.datasets
    if not datasets:
        raise UsageError(f"no datasets: zoo {settings.zoo!r} has no ground truth listing them; "
                         f"pass --datasets NAME (as stage 1 named it) or --dataset-dir PATH")
    return list(dict.fromkeys(datasets))


def _models(settings: Settings, truth: GroundTruth | None, store: Store, dataset: str) -> list[str]:
    if settings.models:
        return list(dict.fromkeys(settings.models))
    if truth is not None:
        on_dataset = truth.for_dataset(dataset)
        if on_dataset:
            return list(on_dataset)
        return list(dict.fromkeys(m for results in truth.finetune.values() for m in results))
    listed = _zoo_models(settings.task, settings.zoo)
    return listed if listed else store.list_models(dataset)


def _zoo_models(task: str, zoo: str) -> list[str]:
    """The stored names of the models stage 1 knows for this zoo, or [] for a zoo it does not know."""
    try:
        if task == "caption":
            from pipeline.caption_models import zoo_models
            return zoo_models(zoo)
        from pipeline.zoo import candidate_names, zoo_models
        return [candidate for network in zoo_models(zoo) for candidate in candidate_names(network)]
    except ValueError:
        return []


def _metrics(settings: Settings, store: Store, dataset: str, models: list[str]) -> list[str]:
    target = "real" if settings.task == "caption" else "classes"
    registry = metric_registry.METRICS
    if settings.metrics:
        unknown = [m for m in settings.metrics if m not in registry]
        if unknown:
            raise UsageError(f"unknown metric(s) {unknown}; available: {', '.join(registry)}")
        wrong = [m for m in settings.metrics if target not in registry[m].targets]
        if wrong:
            usable = ", ".join(n for n, spec in registry.items() if target in spec.targets)
            raise UsageError(f"metric(s) {wrong} do not take {target!r} targets, so they cannot score the "
                             f"{settings.task} task; use: {usable}")
        return list(dict.fromkeys(settings.metrics))
    has_probs = any(store.source_probs_path(dataset, m).exists() for m in models)
    return [name for name, spec in registry.items()
            if target in spec.targets and (spec.needs != "source_probs+labels" or has_probs)]


# ----- scoring ---------------------------------------------------------------------------------------------
def make_command(settings: Settings, dataset: str, model: str) -> str:
    """The stage-1 command that writes the features of `model` on `dataset`."""
    if settings.task == "caption":
        script = "forward_feature_caption.py"
    else:
        script = "forward_feature_ViT.py" if settings.zoo == "vit" else "forward_feature_CNN.py"
    where = f"--dataset-dir {settings.dataset_dir}" if settings.dataset_dir else f"--datasets {dataset}"
    return f"python {script} --models {model} {where}" + (f" --results {settings.results}"
                                                           if str(settings.results) != "results" else "")


class Scorer:
    """Runs the metrics of a plan, records scores and problems; `say` prints above the progress bar."""

    def __init__(self, plan: Plan, say: Callable[[str], None]):
        self.plan, self.store, self.say = plan, plan.store, say
        self.problems: list[Problem] = []
        self.counts = {"scored": 0, "skipped": 0, "failed": 0, "not applicable": 0}
        self._flabels: dict[str, dict[str, np.ndarray]] = {}

    def problem(self, dataset, model, metric, kind, message):
        if not any((p.dataset, p.metric, p.kind, p.message) == (dataset, metric, kind, message) for p in self.problems):
            self.say(f"[{kind}] {dataset} / {model} / {metric}: {message}")  # once; the summary lists every model
        self.problems.append(Problem(dataset, model, metric, kind, message))

    def run(self, bar) -> None:
        for dataset in self.plan.datasets:
            self.score_dataset(dataset, bar)

    def score_dataset(self, dataset: str, bar) -> None:
        registry, overwrite = metric_registry.METRICS, self.plan.settings.overwrite
        names, models = self.plan.metrics[dataset], self.plan.models[dataset]
        done = {n: self.store.load_scores(dataset, n) for n in names}
        per_model = [n for n in names if registry[n].needs != "zoo+labels"]
        zoo_wide = [n for n in names if registry[n].needs == "zoo+labels"]
        # a zoo-relative score depends on the whole zoo: re-run it on every model unless all are current
        zoo = [m for m in models if self.store.has_features(dataset, m)]
        zoo_todo = [n for n in zoo_wide
                    if overwrite or not zoo or not all(self.current(done, dataset, m, n, zoo) for m in zoo)]
        loaded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for model in models:
            todo = [n for n in per_model if overwrite or not self.current(done, dataset, model, n)]
            for name in per_model:
                if name not in todo:
                    self.advance(bar, dataset, model, name, "skipped")
                    for message in done[name][model].get("warnings", []):  # still true of the stored score
                        self.problem(dataset, model, name, "warning", message)
            if not todo and not zoo_todo:
                continue
            inputs = self.load(dataset, model)
            if inputs is None:
                bar.update(len(todo))
                continue
            loaded[model] = inputs
            for name in todo:
                bar.set_postfix_str(f"{dataset} / {model} / {name}", refresh=True)
                self.score_one(dataset, model, name, inputs)
                bar.update(1)
        for name in zoo_wide:
            if name not in zoo_todo:
                self.advance(bar, dataset, "zoo", name, "skipped")
                continue
            bar.set_postfix_str(f"{dataset} / zoo / {name}", refresh=True)
            self.score_zoo(dataset, name, loaded)
            bar.update(1)

    def current(self, done: dict, dataset: str, model: str, name: str, zoo: list[str] | None = None) -> bool:
        """Whether the stored score of (model, metric) was computed from the inputs in the store now."""
        entry = done[name].get(model)
        return entry is not None and entry.get("inputs") == self.inputs_digest(dataset, model, name, zoo)

    def inputs_digest(self, dataset: str, model: str, name: str, zoo: list[str] | None = None) -> str | None:
        meta = self.store.features_meta(dataset, model)
        if meta is None:
            return None
        spec = metric_registry.METRICS[name]
        parts = {"features": meta, "defaults": spec.defaults, "zoo": sorted(zoo or [])}
        if self.plan.settings.metric_options.get(name):
            parts["options"] = self.plan.settings.metric_options[name]
        if spec.needs == "features+flabels" or self.plan.settings.task == "caption":
            kind = FLABEL_KIND[self.plan.settings.task]
            metas = {e: self.store.flabel_paths(dataset, e, kind)["meta"] for e in self.encoders(dataset)}
            parts["flabels"] = {e: load_json(path) if path.exists() else None for e, path in metas.items()}
        return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def advance(self, bar, dataset, model, name, what):
        self.counts[what] += 1
        bar.set_postfix_str(f"{dataset} / {model} / {name} ({what})", refresh=False)
        bar.update(1)

    def flabels(self, dataset: str) -> dict[str, np.ndarray]:
        """{encoder: F-labels} of the dataset for the task's kind, loaded on first use; a missing one is a problem."""
        if dataset not in self._flabels:
            self._flabels[dataset] = self.load_flabels(dataset)
        return self._flabels[dataset]

    def encoders(self, dataset: str) -> list[str]:
        kind = FLABEL_KIND[self.plan.settings.task]
        return self.plan.settings.flabel_encoders or self.store.list_flabel_encoders(dataset, kind)

    def load_flabels(self, dataset: str) -> dict[str, np.ndarray]:
        kind = FLABEL_KIND[self.plan.settings.task]
        encoders = self.encoders(dataset)
        flabels = {}
        for encoder in encoders:
            try:
                flabels[encoder] = self.store.load_flabels(dataset, encoder, kind)[0]
            except MissingInputError as error:
                self.problem(dataset, "*", "F-labels", "missing input", str(error))
        if not encoders:
            self.problem(dataset, "*", "F-labels", "missing input",
                         f"no {kind} F-labels in {self.store.root} for dataset {dataset!r}; make them with stage 2, "
                         f"e.g. python Label_embedding/{'bert.py' if kind == 'class' else 'bert_sentence.py'} "
                         f"--datasets {dataset}")
        return flabels

    def load(self, dataset: str, model: str):
        try:
            features, labels, _ = self.store.load_features(dataset, model,
                                                          make_command=make_command(self.plan.settings, dataset, model))
        except MissingInputError as error:
            self.problem(dataset, model, "*", "missing features", str(error))
        except ValueError as error:
            self.problem(dataset, model, "*", "bad input", str(error))
        else:
            return features, labels
        for name in self.plan.metrics[dataset]:  # scores of features that are gone or broken no longer stand
            self.store.drop_scores(dataset, name, [model])
        return None

    def score_one(self, dataset, model, name, inputs) -> None:
        features, labels = inputs
        if (metric_registry.METRICS[name].needs == "source_probs+labels"
                and not self.store.source_probs_path(dataset, model).exists()):
            self.counts["not applicable"] += 1
            self.problem(dataset, model, name, "not applicable",
                         "no source-head probabilities (only a model with its source classifier can be scored)")
            self.store.drop_scores(dataset, name, [model])
            return
        try:
            args, kwargs = self.arguments(dataset, model, name, features, labels)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                value = metric_registry.METRICS[name](*args, **kwargs, **self.options(name))
                seconds = time.perf_counter() - start
            caveats = list(dict.fromkeys(str(w.message) for w in caught))  # a metric's caveats about this score
            self.record(dataset, name, {model: (value, seconds)}, {model: self.inputs_digest(dataset, model, name)},
                        {model: caveats})
        except Exception as error:  # a failed cell: reported, its old score dropped, the other cells go on
            self.counts["failed"] += 1
            self.problem(dataset, model, name, "failed", _describe(error))
            self.store.drop_scores(dataset, name, [model])
            return
        for message in caveats:
            self.problem(dataset, model, name, "warning", message)

    def arguments(self, dataset, model, name, features, labels):
        spec = metric_registry.METRICS[name]
        if spec.needs == "source_probs+labels":
            return (self.store.load_source_probs(dataset, model), labels), {}
        if self.plan.settings.task == "caption":
            tables = self.caption_flabels(self.flabels(dataset), len(features))
            if spec.needs == "features+flabels":
                return (features, tables), {}
            kwargs = {"regression": True} if "regression" in inspect.signature(spec.function).parameters else {}
            return (features, np.hstack(tables)), kwargs
        if spec.needs == "features+flabels":
            return (features, self.class_flabels(self.flabels(dataset), labels), labels), {}
        return (features, labels), {}

    def options(self, name: str) -> dict:
        """The user's --metric-options for this metric, plus the device where the metric takes one."""
        device = self.plan.settings.device
        takes = "device" in inspect.signature(metric_registry.METRICS[name].function).parameters
        chosen = dict(self.plan.settings.metric_options.get(name, {}))
        return {**chosen, "device": device} if device and device != "cpu" and takes else chosen

    @staticmethod
    def class_flabels(flabels: dict, labels: np.ndarray) -> list[np.ndarray]:
        """The rows of each class table for the classes present, in label order (EMMS pairs row c with the
        c-th smallest label, so a split that lacks a class would otherwise shift every row after it)."""
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

    @staticmethod
    def caption_flabels(flabels: dict, rows: int) -> list[np.ndarray]:
        if not flabels:
            raise MissingInputError("no caption F-labels for this dataset (see the message above)")
        for encoder, table in flabels.items():
            if len(table) != rows:
                raise ValueError(f"caption F-labels of {encoder!r} have {len(table)} rows but the features have "
                                 f"{rows}; they must describe the same samples in the same order: re-run stage 2")
        return list(flabels.values())

    def score_zoo(self, dataset, name, loaded) -> None:
        models = [m for m in self.plan.models[dataset] if m in loaded]
        if len(models) < 2:
            self.counts["not applicable"] += 1
            self.problem(dataset, "zoo", name, "not applicable",
                         f"a whole-zoo metric needs the features of at least 2 models; {len(models)} loaded")
            self.store.drop_scores(dataset, name, self.plan.models[dataset])
            return
        try:
            labels = loaded[models[0]][1]
            differing = [m for m in models if not np.array_equal(loaded[m][1], labels)]
            if differing:
                raise ValueError(f"labels of {differing} differ from those of {models[0]!r}: the features were not "
                                 f"extracted from the same samples in the same order; re-extract with --overwrite")
            start = time.perf_counter()
            values = metric_registry.METRICS[name]({m: loaded[m][0] for m in models}, labels,
                                                   **self.options(name))
            seconds = (time.perf_counter() - start) / len(models)  # the zoo's time, shared out per model
            self.record(dataset, name, {m: (values[m], seconds) for m in models},
                        {m: self.inputs_digest(dataset, m, name, models) for m in models})
        except Exception as error:
            self.counts["failed"] += 1
            self.problem(dataset, "zoo", name, "failed", _describe(error))
            self.store.drop_scores(dataset, name, self.plan.models[dataset])

    def record(self, dataset, name, values: dict[str, tuple[float, float]], digests: dict[str, str],
               caveats: dict[str, list[str]] | None = None) -> None:
        for model, (value, _) in values.items():
            if not np.isfinite(value):
                raise ValueError(f"returned a non-finite score {value!r} for {model!r}")
        caveats = caveats or {}
        self.store.save_scores(dataset, name, {m: {"score": float(v), "seconds": float(s), "inputs": digests[m],
                                                   **({"warnings": caveats[m]} if caveats.get(m) else {})}
                                               for m, (v, s) in values.items()})
        self.counts["scored"] += len(values)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if not isinstance(error, (ValueError, MissingInputError)) else str(error)


# ----- evaluation ------------------------------------------------------------------------------------------
def evaluate(plan: Plan, problems: list[Problem]) -> dict:
    """Scores of every (dataset, metric) from the store, their correlations or rankings, and their agreement."""
    out = {}
    for dataset in plan.datasets:
        models = plan.models[dataset]
        scores, seconds = {}, {}
        for name in plan.metrics[dataset]:
            stored = plan.store.load_scores(dataset, name)
            scores[name] = {m: stored[m]["score"] for m in models if m in stored}
            seconds[name] = sum(stored[m].get("seconds", 0.0) for m in models if m in stored)
        truth = plan.truth.for_dataset(dataset) if plan.truth else None
        entry = {"models": models, "scores": scores, "seconds": seconds, "has_ground_truth": truth is not None,
                 "agreement": correlation.agreement({n: s for n, s in scores.items() if s}),
                 "ranking": {n: correlation.ranking(s) for n, s in scores.items()}}
        if truth is not None:
            absent = [m for m in models if m not in truth]
            if absent:
                problems.append(Problem(dataset, ", ".join(absent), "*", "no ground truth",
                                        f"model(s) {absent} have no fine-tuned result for {dataset!r} in "
                                        f"{plan.truth.path}; left out of the correlations (check the names; the "
                                        f"file has {sorted(truth)})"))
            entry["truth"] = {m: truth[m] for m in models if m in truth}
            entry["correlations"] = {}
            for name, metric_scores in scores.items():
                if not metric_scores:
                    continue
                try:
                    entry["correlations"][name] = correlation.correlate(metric_scores, truth)
                except ValueError as error:
                    problems.append(Problem(dataset, "*", name, "correlation", str(error)))
        out[dataset] = entry
    return out


COLUMN_NAMES = {"weighted_tau": "weighted τ", "weighted_tau_truth_ranked": "weighted τ (truth-ranked)",
                "kendall_tau": "τ-b", "pearson": "Pearson", "rel1": "Rel@1", "rel3": "Rel@3"}


def tables(plan: Plan, evaluation: dict) -> dict[str, report.Table]:
    """{file name: Table} of everything stage 3 prints and writes."""
    zoo = plan.settings.zoo
    out = {}
    with_truth = [d for d in plan.datasets if evaluation[d]["has_ground_truth"]]
    metric_names = list(dict.fromkeys(n for d in plan.datasets for n in plan.metrics[d]))
    if with_truth:
        for name in [n for n in metric_names if any(evaluation[d]["scores"].get(n) for d in with_truth)]:
            table = report.Table(f"{name} on zoo {zoo}: correlation with fine-tuning",
                                 ["dataset", *COLUMN_NAMES.values(), "models", "seconds"])
            for dataset in with_truth:
                found = evaluation[dataset]["correlations"].get(name)
                values = [found[k] if found else None for k in COLUMN_NAMES]
                table.rows.append([dataset, *values, len(evaluation[dataset]["scores"].get(name, {})),
                                   evaluation[dataset]["seconds"].get(name)])
            table.rows.append(["mean", *_column_means(table.rows, range(1, len(COLUMN_NAMES) + 1)), None,
                               *_column_means(table.rows, [len(COLUMN_NAMES) + 2])])
            out[f"{zoo}/{plan.settings.task}_{name}"] = table
        summary = report.Table(f"zoo {zoo}: weighted τ (scipy.stats.weightedtau(score, fine-tuned)) per dataset "
                               f"and metric", ["dataset", *metric_names])
        for dataset in with_truth:
            summary.rows.append([dataset, *[evaluation[dataset]["correlations"].get(n, {}).get("weighted_tau")
                                            for n in metric_names]])
        summary.rows.append(["mean", *_column_means(summary.rows, range(1, len(metric_names) + 1))])
        out[f"{zoo}/{plan.settings.task}_summary"] = summary
    for dataset in plan.datasets:
        if evaluation[dataset]["has_ground_truth"]:
            continue
        names = [n for n in plan.metrics[dataset] if evaluation[dataset]["ranking"].get(n)]
        depth = max([len(evaluation[dataset]["ranking"][n]) for n in names], default=0)
        ranked = report.Table(f"{dataset}: models ranked by each metric (best first; fine-tune the top ones)",
                              ["rank", *names])
        for rank in range(depth):
            ranked.rows.append([rank + 1, *[_ranked_cell(evaluation[dataset]["ranking"][n], rank) for n in names]])
        out[f"{zoo}/{plan.settings.task}_{dataset}_ranking"] = ranked
        agreement = report.Table(f"{dataset}: agreement between metrics (Kendall τ-b between their rankings)",
                                 ["metric", *names], digits=2)
        for a in names:
            agreement.rows.append([a, *[evaluation[dataset]["agreement"][a][b] for b in names]])
        out[f"{zoo}/{plan.settings.task}_{dataset}_agreement"] = agreement
    return out


def _ranked_cell(ranking: list[tuple[str, float]], rank: int) -> str:
    if rank >= len(ranking):
        return ""
    model, score = ranking[rank]
    return f"{model} ({score:.4g})"


def _column_means(rows: list[list], columns) -> list[float]:
    means = []
    for c in columns:
        values = [row[c] for row in rows if isinstance(row[c], (int, float)) and not math.isnan(row[c])]
        means.append(float(np.mean(values)) if values else None)
    return means


def plots(plan: Plan, evaluation: dict) -> list[Path]:
    paths = []
    for dataset in plan.datasets:
        entry = evaluation[dataset]
        if not entry["has_ground_truth"] or not entry["correlations"]:
            continue
        panels = [{"metric": n, "scores": entry["scores"][n], "truth": entry["truth"],
                   "weighted_tau": entry["correlations"][n]["weighted_tau"]} for n in entry["correlations"]]
        measure = plan.truth.measure.get(plan.truth.dataset_key(dataset), "fine-tuned result")
        paths.append(report.scatter_plot(plan.store, f"{plan.settings.zoo}/plots/{plan.settings.task}_{dataset}",
                                         f"{dataset} (zoo {plan.settings.zoo}): metric score vs fine-tuned result",
                                         panels, y_label=measure))
    return paths


# ----- the stage -------------------------------------------------------------------------------------------
def run(settings: Settings, out=print) -> dict:
    """Score, evaluate, print and write; returns the evaluation (also written as JSON)."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    plan = make_plan(settings)
    registry = metric_registry.METRICS
    total = sum(len(plan.models[d]) * sum(registry[n].needs != "zoo+labels" for n in plan.metrics[d])
                + sum(registry[n].needs == "zoo+labels" for n in plan.metrics[d]) for d in plan.datasets)
    with tqdm(total=total, desc=f"stage 3 ({settings.task}, zoo {settings.zoo})", unit="cell") as bar:
        scorer = Scorer(plan, say=tqdm.write)
        scorer.run(bar)
    problems = scorer.problems
    evaluation = evaluate(plan, problems)
    written = []
    for name, table in tables(plan, evaluation).items():
        out(table.markdown())
        written += report.write_table(plan.store, name, table)
    written += plots(plan, evaluation)
    counts = scorer.counts
    written.append(report.write_json(plan.store, f"{settings.zoo}/{settings.task}_results", {
        "zoo": settings.zoo, "task": settings.task, "ground_truth": plan.truth.path if plan.truth else None,
        "datasets": evaluation, "counts": counts, "problems": [vars(p) for p in problems]}))
    _summary(out, settings, problems, counts, written, time.perf_counter() - started)
    return {"plan": plan, "evaluation": evaluation, "problems": problems, "counts": counts, "written": written}


def _summary(out, settings: Settings, problems: list[Problem], counts: dict, written: list[Path],
             seconds: float) -> None:
    out(f"scored {counts['scored']} cell(s), skipped {counts['skipped']} already scored (--overwrite true "
        f"re-scores them), {counts['failed']} failed, {counts['not applicable']} not applicable")
    missing: dict[str, list[str]] = {}    # dataset -> models without features: one stage-1 command each
    grouped: dict[tuple, list[str]] = {}  # the same message for several models: one line
    for p in problems:
        if p.kind == "missing features":
            missing.setdefault(p.dataset, []).append(p.model)
        else:
            grouped.setdefault((p.kind, p.dataset, p.metric, p.message), []).append(p.model)
    if problems:
        out(f"notes and problems ({len(problems)} cells, one line per kind of message):")
    for dataset, models in missing.items():
        out(f"  - [missing features] {dataset}: {len(models)} model(s) ({', '.join(models)}); make them with: "
            f"{make_command(settings, dataset, ','.join(models))}")
    for (kind, dataset, metric, message), models in grouped.items():
        out(f"  - [{kind}] {dataset} / {', '.join(models)} / {metric}: {message}")
    if any(p.kind == "warning" for p in problems):
        out("  (a metric's keyword options reach it through --metric-options, e.g. '{\"emms\": {\"ridge\": 4}}')")
    folders: dict[Path, list[str]] = {}
    for path in written:
        folders.setdefault(Path(path).parent, []).append(Path(path).name)
    for folder, names in folders.items():
        shown = ", ".join(names) if len(names) <= 4 else f"{len(names)} files ({', '.join(names[:3])}, ...)"
        out(f"wrote {folder}/: {shown}")
    out(f"stage 3 took {seconds:.1f} s")


def main(task: str, args, out=print) -> int:
    """Run a stage script's parsed flags; a user error is one line on stderr and exit status 2."""
    settings = Settings(task=task, zoo=args.zoo, datasets=args.datasets, models=args.models, metrics=args.metrics,
                        flabel_encoders=args.flabel_encoders, results=args.results, overwrite=args.overwrite,
                        dataset_dir=args.dataset_dir, ground_truth=args.ground_truth,
                        device=getattr(args, "device", None), metric_options=getattr(args, "metric_options", {}))
    try:
        run(settings, out=out)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
