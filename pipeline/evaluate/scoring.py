"""Stage 3, scoring: every (dataset, model, metric) cell, with a cache of finished cells in the store.

A cell's score is stored with a digest of everything it was computed from: the features' meta, the F-labels'
metas (where the metric reads F-labels, and for a task of per-sample F-labels always), the metric's registry
defaults and the user's options for it, and for a whole-zoo metric the zoo. A cell whose stored digest equals
the current one is skipped unless ``overwrite``; one whose inputs changed is scored again. A metric that raises
is a failed cell (recorded, reported, its old score dropped); the other cells go on.
"""
from __future__ import annotations

import hashlib
import shlex
import inspect
import json
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import metrics as metric_registry
from metrics.registry import Needs
from pipeline.evaluate.plan import Plan, Problem
from pipeline.evaluate.reduce import reduce_width
from pipeline.store import CorruptFileError, MissingInputError, load_json, safe_name
from pipeline.tasks import FlabelKind


class Scorer:
    """Runs the metrics of a plan, records scores and problems; `say` prints above the progress bar."""

    def __init__(self, plan: Plan, say: Callable[[str], None]):
        self.plan, self.store, self.task, self.say = plan, plan.store, plan.task, say
        self.problems: list[Problem] = []
        self.counts = {"scored": 0, "skipped": 0, "failed": 0, "not applicable": 0}
        self._flabels: dict[str, dict[str, tuple[np.ndarray, dict]]] = {}
        self._pool: ProcessPoolExecutor | None = None

    def problem(self, dataset, model, metric, kind, message):
        if not any((p.dataset, p.metric, p.kind, p.message) == (dataset, metric, kind, message) for p in self.problems):
            self.say(f"[{kind}] {dataset} / {model} / {metric}: {message}")  # once; the summary lists every model
        self.problems.append(Problem(dataset, model, metric, kind, message))

    def run(self, bar) -> None:
        try:
            for dataset in self.plan.datasets:
                self.score_dataset(dataset, bar)
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None

    def score_dataset(self, dataset: str, bar) -> None:
        registry, overwrite = metric_registry.METRICS, self.plan.settings.overwrite
        names = self.plan.metrics[dataset]
        models = self.plan.models[dataset] = self.on_the_same_samples(dataset, self.plan.models[dataset])
        done = {n: self.store.load_scores(dataset, self.plan.score_file(n)) for n in names}
        per_model = [n for n in names if registry[n].needs != Needs.ZOO_LABELS]
        zoo_wide = [n for n in names if registry[n].needs == Needs.ZOO_LABELS]
        # a zoo-relative score depends on the whole zoo: re-run it on every model unless all are current
        zoo = [m for m in models if self.store.has_features(dataset, m)]
        zoo_todo = [n for n in zoo_wide
                    if overwrite or not zoo or not all(self.current(done, dataset, m, n, zoo) for m in zoo)]
        loaded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        cells: list[tuple[str, str | tuple[str, ...], str]] = []  # ("model", model, metric) / ("zoo", models, metric)
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
            cells += [("model", model, name) for name in todo]
        for name in zoo_wide:
            if name not in zoo_todo:
                self.advance(bar, dataset, "zoo", name, "skipped")
            else:
                cells.append(("zoo", tuple(m for m in self.plan.models[dataset] if m in loaded), name))
        if dataset not in self._flabels and any(self._reads_flabels(registry[name]) for kind, _, name in cells
                                                if kind == "model"):
            self._flabels[dataset] = self.load_flabels(dataset)  # here, so that its problems are reported once
        for outcome in self.outcomes(dataset, cells, loaded, bar):
            self.apply(outcome)
            bar.update(1)

    def outcomes(self, dataset: str, cells: list, loaded: dict, bar):
        """The outcome of every cell, in the order of `cells`: computed here (``jobs`` 1) or by the workers."""
        if self.plan.settings.jobs <= 1 or len(cells) <= 1:
            for cell in cells:
                bar.set_postfix_str(f"{dataset} / {cell[1] if cell[0] == 'model' else 'zoo'} / {cell[2]}",
                                    refresh=True)
                yield self.compute(dataset, cell, loaded)
            return
        futures = []
        for cell in cells:
            try:
                futures.append(self.pool().submit(_compute_in_worker, dataset, cell))
            except (BrokenProcessPool, RuntimeError) as error:  # the pool died earlier: nothing more runs in it
                futures.append(error)
        for cell, future in zip(cells, futures):
            try:
                if isinstance(future, BaseException):
                    raise future
                yield future.result()
            except Exception as error:  # a worker died (killed, out of memory, ...) or could not read its inputs
                yield Outcome(dataset, cell[1] if cell[0] == "model" else "zoo", cell[2], kind="failed",
                              message=f"the worker process scoring it failed ({_describe(error)}); run again")

    def pool(self) -> ProcessPoolExecutor:
        """The worker processes (started on first use): ``jobs`` of them at most one per core, each with its BLAS
        and torch threads limited to cores // workers, so the workers never ask for more threads than cores."""
        if self._pool is None:
            import multiprocessing

            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            workers = max(1, min(self.plan.settings.jobs, cores))
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_worker, initargs=(self.plan, max(1, cores // workers)))
        return self._pool

    def stored_meta(self, dataset: str, model: str) -> dict | None:
        """The features' meta, or None when absent or damaged (loading them then reports the damage)."""
        try:
            return self.store.features_meta(dataset, model)
        except CorruptFileError:
            return None

    def on_the_same_samples(self, dataset: str, models: list[str]) -> list[str]:
        """The models whose features were made from the same samples as most of the others (the same data
        fingerprint and the same unreadable samples skipped); the others are named and left out, since
        scores on different samples do not rank against each other."""
        def samples_of(meta):
            skipped = tuple(sample["index"] for sample in meta.get("skipped_samples", []))
            return meta.get("data", {}).get("fingerprint"), skipped, meta.get("N")

        found = {m: samples_of(meta) for m in models if (meta := self.stored_meta(dataset, m)) is not None}
        if len(set(found.values())) <= 1:
            return models
        counts: dict = {}
        for key in found.values():
            counts[key] = counts.get(key, 0) + 1
        majority = max(counts, key=lambda key: (counts[key], key[2] or 0))
        odd = [m for m, key in found.items() if key != majority]
        reference = self.stored_meta(dataset, next(m for m, key in found.items() if key == majority))
        for model in odd:
            n = self.stored_meta(dataset, model)["N"]
            self.problem(dataset, model, "*", "different samples",
                         f"features made from other samples ({n} rows) than the other models' ({majority[2]} rows, "
                         f"another split, --max-samples or data); left out of the ranking: re-extract it with the "
                         f"others' settings, e.g. "
                         f"{self.with_results(self.task.stage1_command(dataset, [model], reference))} --overwrite true")
            for name in self.plan.metrics[dataset]:
                self.store.drop_scores(dataset, self.plan.score_file(name), [model])
        return [m for m in models if m not in odd]

    # ----- the cache ------------------------------------------------------------------------------------
    def current(self, done: dict, dataset: str, model: str, name: str, zoo: list[str] | None = None) -> bool:
        """Whether the stored score of (model, metric) was computed from the inputs in the store now."""
        entry = done[name].get(model)
        return entry is not None and entry.get("inputs") == self.inputs_digest(dataset, model, name, zoo)

    def inputs_digest(self, dataset: str, model: str, name: str, zoo: list[str] | None = None) -> str | None:
        meta = self.stored_meta(dataset, model)
        if meta is None:
            return None
        spec = metric_registry.METRICS[name]
        parts = {"features": meta, "defaults": spec.defaults, "zoo": sorted(zoo or [])}
        if self.plan.settings.feature_dim is not None:
            parts["feature_dim"] = self.plan.settings.feature_dim
        if self.plan.settings.metric_options.get(name):
            parts["options"] = self.plan.settings.metric_options[name]
        if spec.needs == Needs.FEATURES_FLABELS or self.task.target.value == "real":
            kind = self.task.flabel_kind
            metas = {e: self.store.flabel_paths(dataset, e, kind)["meta"] for e in self.encoders(dataset)}
            parts["flabels"] = {e: _readable_json(path, kind.value) for e, path in metas.items()}
        return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def advance(self, bar, dataset, model, name, what):
        self.counts[what] += 1
        bar.set_postfix_str(f"{dataset} / {model} / {name} ({what})", refresh=False)
        bar.update(1)

    # ----- inputs ---------------------------------------------------------------------------------------
    def flabels(self, dataset: str, features_meta: dict) -> dict[str, np.ndarray]:
        """{encoder: F-labels} of the dataset for the task's kind, checked to describe the data the features were
        made from (the class names, or the sample list), with the rows of samples stage 1 could not read removed."""
        if dataset not in self._flabels:
            self._flabels[dataset] = self.load_flabels(dataset)
        data = features_meta.get("data", {})
        skipped = [sample["index"] for sample in features_meta.get("skipped_samples", [])]
        out = {}
        for encoder, (table, meta) in self._flabels[dataset].items():
            stored = meta.get("data", {})
            for key in ("classes", "fingerprint"):
                if key in data and key in stored and data[key] != stored[key]:
                    raise ValueError(f"F-labels of {encoder!r} were made from other data than the features of "
                                     f"{features_meta.get('model')!r} (their {key} differ); re-run stage 2 on the "
                                     f"same data, e.g. {self.stage2_hint(dataset)} --overwrite true")
            out[encoder] = np.delete(table, skipped, axis=0) if skipped and len(table) == data.get("samples") else table
        return out

    def stage2_hint(self, dataset: str, encoder: str | None = None) -> str:
        """The task's stage-2 command for the dataset, with --model of `encoder` (or of any encoder stored on
        another dataset) where the store records its checkpoint, so that the command works as printed."""
        command = self.task.stage2_command(dataset, self.any_features_meta(dataset))
        checkpoint, name = self.known_encoder(encoder)
        if checkpoint:
            if name.startswith("clip_") and "clip" in self.task.stage2_scripts:
                command = command.replace(self.task.stage2_scripts["bert"], self.task.stage2_scripts["clip"])
            command += f" --model {shlex.quote(checkpoint)}"
        return self.with_results(command)

    def known_encoder(self, encoder: str | None) -> tuple[str | None, str]:
        """(checkpoint, name) of `encoder` (or of the first encoder found) from any F-label meta in the store."""
        pattern = f"{safe_name(encoder)}_meta.json" if encoder else "*_meta.json"
        for path in sorted((self.store.root / "flabels").glob(f"*/{pattern}")):
            for meta in (_readable_json(path, kind.value) for kind in FlabelKind):
                if meta and meta.get("checkpoint"):
                    return meta["checkpoint"], meta.get("encoder", "")
        return None, ""

    def encoders(self, dataset: str) -> list[str]:
        return self.plan.settings.flabel_encoders or self.store.list_flabel_encoders(dataset, self.task.flabel_kind)

    def load_flabels(self, dataset: str) -> dict[str, tuple[np.ndarray, dict]]:
        kind = self.task.flabel_kind
        encoders = self.encoders(dataset)
        hint = self.stage2_hint(dataset)
        flabels = {}
        for encoder in encoders:
            try:
                flabels[encoder] = self.store.load_flabels(dataset, encoder, kind,
                                                           make_command=self.stage2_hint(dataset, encoder))
            except MissingInputError as error:
                self.problem(dataset, "*", "F-labels", "missing input", str(error))
        if not encoders:
            self.problem(dataset, "*", "F-labels", "missing input",
                         f"no {kind.value} F-labels in {self.store.root} for dataset {dataset!r}; make them with "
                         f"stage 2, e.g. {hint}")
        return flabels

    def any_features_meta(self, dataset: str) -> dict | None:
        """The meta of a model stored for the dataset: the settings a hint's command repeats."""
        for model in self.plan.models[dataset] + self.store.list_models(dataset):
            meta = self.stored_meta(dataset, model)
            if meta is not None:
                return meta
        return None

    def with_results(self, command: str) -> str:
        from pathlib import Path

        from pipeline import defaults

        results = Path(self.plan.settings.results)
        return command if results.resolve() == defaults.RESULTS.resolve() else f"{command} --results {results}"

    def make_command(self, dataset: str, models: list[str]) -> str:
        return self.with_results(self.task.stage1_command(dataset, models, self.any_features_meta(dataset)))

    def load(self, dataset: str, model: str):
        try:
            features, labels, meta = self.store.load_features(dataset, model,
                                                              make_command=self.make_command(dataset, [model]))
            width = self.plan.settings.feature_dim
            if width is None:
                return features, labels, meta
            if features.shape[1] <= width:
                self.problem(dataset, model, "*", "note", f"kept at its width {features.shape[1]} <= --feature-dim "
                             f"{width} (a narrower candidate gains nothing from width)")
            return reduce_width(features, width), labels, meta
        except MissingInputError as error:
            self.problem(dataset, model, "*", "missing features", str(error))
        except ValueError as error:
            self.problem(dataset, model, "*", "bad input", str(error))
        for name in self.plan.metrics[dataset]:  # scores of features that are gone or broken no longer stand
            self.store.drop_scores(dataset, self.plan.score_file(name), [model])
        return None

    # ----- one cell -------------------------------------------------------------------------------------
    def compute(self, dataset: str, cell: tuple, loaded: dict) -> Outcome:
        kind, who, name = cell
        if kind == "model":
            return self.compute_one(dataset, who, name, loaded[who])
        return self.compute_zoo(dataset, name, {model: loaded[model] for model in who})

    def compute_one(self, dataset, model, name, inputs) -> Outcome:
        """The outcome of one (model, metric) cell; writes nothing (so that it can run in a worker process)."""
        features, labels, meta = inputs
        spec = metric_registry.METRICS[name]
        source_probs = self.store.load_source_probs(dataset, model) if spec.needs == Needs.SOURCE_PROBS_LABELS else None
        if spec.needs == Needs.SOURCE_PROBS_LABELS and source_probs is None:
            return Outcome(dataset, model, name, kind="not applicable",
                           message="no source-head probabilities (only a model with its source classifier can be "
                                   "scored)")
        try:
            flabels = self.flabels(dataset, meta) if self._reads_flabels(spec) else {}
            args, kwargs = self.task.metric_arguments(spec, features, labels, flabels, source_probs)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                value, details = self.call(name, args, {**kwargs, **self.options(name)}, list(flabels))
                seconds = time.perf_counter() - start
            _check_finite({model: value})
        except Exception as error:  # a failed cell: reported, its old score dropped, the other cells go on
            return Outcome(dataset, model, name, kind="failed", message=_describe(error))
        caveats = list(dict.fromkeys([*input_caveats(self.task, spec, labels, flabels),
                                      *(str(w.message) for w in caught)]))  # caveats about this score
        return Outcome(dataset, model, name, values={model: (value, seconds)}, caveats=caveats, details=details)

    def apply(self, outcome: Outcome) -> None:
        """Record an outcome in the store and the problems; the only place stage 3 writes scores."""
        dataset, model, name = outcome.dataset, outcome.model, outcome.metric
        if outcome.kind != "scored":
            self.counts[outcome.kind] += 1
            self.problem(dataset, model, name, outcome.kind, outcome.message)
            self.store.drop_scores(dataset, self.plan.score_file(name),
                                   self.plan.models[dataset] if model == "zoo" else [model])
            return
        zoo = sorted(outcome.values) if model == "zoo" else None
        digests = {m: self.inputs_digest(dataset, m, name, zoo) for m in outcome.values}
        self.record(dataset, name, outcome.values, digests, {model: outcome.caveats}, {model: outcome.details})
        for message in outcome.caveats:
            self.problem(dataset, model, name, "warning", message)

    def _reads_flabels(self, spec) -> bool:
        return spec.needs == Needs.FEATURES_FLABELS or (self.task.target.value == "real"
                                                        and spec.needs != Needs.SOURCE_PROBS_LABELS)

    @staticmethod
    def call(name: str, args: tuple, kwargs: dict, encoders: list[str]) -> tuple[float, dict]:
        """(score, details): for EMMS the details name the weight λ each F-label encoder got (which encoder
        carried the score); other metrics have none."""
        if name == "emms":
            fit = metric_registry.emms_fit(*args, **{**metric_registry.METRICS[name].defaults, **kwargs})
            return fit.score, {"flabel_weights": dict(zip(encoders, map(float, fit.weights)))}
        return metric_registry.METRICS[name](*args, **kwargs), {}

    def options(self, name: str) -> dict:
        """The user's --metric-options for this metric, plus the device where the metric takes one."""
        from pipeline import defaults

        device = defaults.resolve_device(self.plan.settings.device)
        takes = "device" in inspect.signature(metric_registry.METRICS[name].function).parameters
        chosen = dict(self.plan.settings.metric_options.get(name, {}))
        return {**chosen, "device": device} if device != "cpu" and takes else chosen

    def compute_zoo(self, dataset, name, loaded) -> Outcome:
        """The outcome of a whole-zoo metric on the `loaded` models (in the plan's order); writes nothing."""
        models = list(loaded)
        if len(models) < 2:
            return Outcome(dataset, "zoo", name, kind="not applicable",
                           message=f"a whole-zoo metric needs the features of at least 2 models; {len(models)} loaded")
        try:
            labels = loaded[models[0]][1]
            differing = [m for m in models if not np.array_equal(loaded[m][1], labels)]
            if differing:
                raise ValueError(f"labels of {differing} differ from those of {models[0]!r}: the features were not "
                                 f"extracted from the same samples in the same order; re-extract with --overwrite")
            start = time.perf_counter()
            values = metric_registry.METRICS[name]({m: loaded[m][0] for m in models}, labels, **self.options(name))
            seconds = (time.perf_counter() - start) / len(models)  # the zoo's time, shared out per model
            _check_finite({m: values[m] for m in models})
        except Exception as error:
            return Outcome(dataset, "zoo", name, kind="failed", message=_describe(error))
        return Outcome(dataset, "zoo", name, values={m: (values[m], seconds) for m in models})

    def record(self, dataset, name, values: dict[str, tuple[float, float]], digests: dict[str, str],
               caveats: dict[str, list[str]] | None = None, details: dict[str, dict] | None = None) -> None:
        caveats, details = caveats or {}, details or {}
        entries = {m: {"score": float(v), "seconds": float(s), "inputs": digests[m],
                       **({"warnings": caveats[m]} if caveats.get(m) else {}), **details.get(m, {})}
                   for m, (v, s) in values.items()}
        self.store.save_scores(dataset, self.plan.score_file(name), entries)
        self.counts["scored"] += len(values)


@dataclass
class Outcome:
    """What scoring one cell gave, computed here or in a worker process; :meth:`Scorer.apply` records it."""
    dataset: str
    model: str                # a model, or "zoo" for a whole-zoo metric
    metric: str
    kind: str = "scored"      # "scored", "failed" or "not applicable"
    values: dict = field(default_factory=dict)   # model -> (score, seconds)
    caveats: list = field(default_factory=list)  # the metric's warnings about this score
    details: dict = field(default_factory=dict)  # EMMS: {"flabel_weights": {encoder: weight}}
    message: str = ""         # why it failed or does not apply


def _check_finite(values: dict) -> None:
    for model, value in values.items():
        if not np.isfinite(value):
            raise ValueError(f"returned a non-finite score {value!r} for {model!r}")


# ----- worker processes (--jobs N) --------------------------------------------------------------------------
_WORKER: Scorer | None = None
_THREAD_LIMITS = None


def _start_worker(plan: Plan, threads: int) -> None:
    """A worker's Scorer of the plan, its problems left to the parent; BLAS/OpenMP/torch threads limited."""
    global _WORKER, _THREAD_LIMITS
    from threadpoolctl import threadpool_limits

    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)  # for libraries loaded later (torch reads it when imported)
    _THREAD_LIMITS = threadpool_limits(limits=threads)  # for those already loaded (numpy's BLAS)
    _WORKER = Scorer(plan, say=lambda message: None)


def _compute_in_worker(dataset: str, cell: tuple) -> Outcome:
    kind, who, _ = cell
    models = [who] if kind == "model" else list(who)
    loaded = {model: _WORKER.store.load_features(dataset, model) for model in models}
    return _WORKER.compute(dataset, cell, loaded)


def input_caveats(task, spec, labels: np.ndarray, flabels: dict[str, np.ndarray]) -> list[str]:
    """Warnings about inputs a metric gives a number for, but a degenerate one: classes of one sample, and
    F-label tables whose rows are all the same."""
    caveats = []
    if task.flabel_kind.value == "class" and spec.needs != Needs.SOURCE_PROBS_LABELS:
        _, counts = np.unique(labels, return_counts=True)
        if len(counts) == len(labels):
            caveats.append("every class has a single sample: there is no within-class spread, so class statistics "
                           "(covariances, Fisher ratios, neighbours) are degenerate; use several samples per class")
        elif (counts == 1).any():
            caveats.append(f"{int((counts == 1).sum())} of {len(counts)} classes have a single sample: their "
                           "within-class spread is zero, which the class statistics cannot estimate")
    for encoder, table in flabels.items():
        if len(table) > 1 and not np.ptp(np.asarray(table, dtype=np.float64), axis=0).any():
            caveats.append(f"the F-label table of {encoder!r} is constant (every row the same): it tells no class or "
                           "sample apart, so a fit onto it scores its best whatever the features")
    return caveats


def _readable_json(path, key: str):
    """The entry `key` of a JSON file, or None when the file is absent or damaged (reading it reports that)."""
    try:
        return load_json(path).get(key) if path.exists() else None
    except CorruptFileError:
        return None


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if not isinstance(error, (ValueError, MissingInputError)) else str(error)
