"""Stage 3, scoring: every (dataset, model) cell with all its metrics at once, and the whole-zoo metrics.

A model's cell reads its inputs once and computes every metric still to do on them (:func:`score_model`); a
whole-zoo metric (NCTI, ETran) is one cell over every model of the dataset. Finished cells are skipped through
the cache (:mod:`pipeline.evaluate.cache`). A metric that raises is a failed cell (recorded, reported, its old
score dropped); the other metrics and cells go on. ``--jobs N`` scores N cells at once in worker processes.
"""
from __future__ import annotations

import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import metrics as metric_registry
from metrics.cell import SHARED
from metrics.registry import Needs
from pipeline import defaults
from pipeline.evaluate import correlation
from pipeline.evaluate.cache import ScoreCache
from pipeline.evaluate.hints import Hints
from pipeline.evaluate.inputs import Inputs, input_caveats
from pipeline.evaluate.plan import Plan, Problem
from pipeline.evaluate.uncertainty import CONSENSUS, consensus, half_subsamples, pick_stability
from pipeline.kinds import Cell, FlabelKind, Outcome, ProblemKind
from pipeline.store import MissingInputError


@dataclass(frozen=True)
class Work:
    """One cell to compute: the metrics of one model, or one whole-zoo metric over the models."""
    kind: Cell
    models: tuple[str, ...]
    metrics: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.models[0] if self.kind is Cell.MODEL else "zoo"


@dataclass
class Result:
    """What one metric gave on a cell, computed here or in a worker process; :meth:`Scorer.apply` records it."""
    dataset: str
    model: str                # a model, or "zoo" for a whole-zoo metric
    metric: str
    outcome: Outcome = Outcome.SCORED
    values: dict = field(default_factory=dict)   # model -> (score, seconds)
    caveats: list = field(default_factory=list)  # the metric's warnings about this score
    details: dict = field(default_factory=dict)  # what the metric returns besides its score (EMMS: its weights)
    message: str = ""         # why it failed or does not apply


class Scorer:
    """Runs the metrics of a plan, records scores and problems; `say` prints above the progress bar."""

    def __init__(self, plan: Plan, say: Callable[[str], None]):
        self.plan, self.store, self.task, self.say = plan, plan.store, plan.task, say
        self.inputs = Inputs(plan)
        self.cache = ScoreCache(plan, self.inputs)
        self.hints = Hints(plan, self.inputs)
        self.problems: list[Problem] = []
        self.counts = {outcome.value: 0 for outcome in Outcome}
        self.stability: dict[str, dict[str, float]] = {}   # dataset -> {metric: share of half-subsamples}
        self._pool: ProcessPoolExecutor | None = None

    def problem(self, dataset, model, metric, kind: ProblemKind, message: str) -> None:
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

    # ----- one dataset ------------------------------------------------------------------------------------
    def score_dataset(self, dataset: str, bar) -> None:
        registry, overwrite = metric_registry.METRICS, self.plan.settings.overwrite
        names = self.plan.metrics[dataset]
        models = self.plan.models[dataset] = self.on_the_same_samples(dataset, self.plan.models[dataset])
        done = {n: self.cache.stored(dataset, n) for n in names}
        per_model = [n for n in names if registry[n].needs != Needs.ZOO_LABELS]
        zoo_wide = [n for n in names if registry[n].needs == Needs.ZOO_LABELS]
        # a zoo-relative score depends on the whole zoo: re-run it on every model unless all are current
        zoo = [m for m in models if self.store.has_features(dataset, m)]
        zoo_todo = [n for n in zoo_wide
                    if overwrite or not zoo or not all(self.cache.current(done, dataset, m, n, zoo) for m in zoo)]
        readable, work = [], []
        for model in models:
            todo = [n for n in per_model if overwrite or not self.cache.current(done, dataset, model, n)]
            for name in per_model:
                if name not in todo:
                    self.advance(bar, dataset, model, name, Outcome.SKIPPED)
                    for message in done[name][model].get("warnings", []):  # still true of the stored score
                        self.problem(dataset, model, name, ProblemKind.WARNING, message)
            if not todo and not zoo_todo:
                continue
            if not self.readable(dataset, model):
                bar.update(len(todo))
                continue
            readable.append(model)
            if todo:
                work.append(Work(Cell.MODEL, (model,), tuple(todo)))
        for name in zoo_wide:
            if name not in zoo_todo:
                self.advance(bar, dataset, "zoo", name, Outcome.SKIPPED)
            else:
                work.append(Work(Cell.ZOO, tuple(readable), (name,)))
        if any(self.task.reads_flabels(registry[n]) for cell in work if cell.kind is Cell.MODEL for n in cell.metrics):
            for message in self.inputs.load_flabels(dataset, lambda encoder: self.hints.stage2(dataset, encoder)):
                self.problem(dataset, "*", "F-labels", ProblemKind.MISSING_INPUT, message)
        for results in self.results(dataset, work, bar):
            for result in results:
                self.apply(result)
                bar.update(1)
        if self.plan.settings.stability_draws and not (self.plan.truth and self.plan.truth.for_dataset(dataset)):
            self.stability[dataset] = self.pick_stability(
                dataset, [m for m in models if self.inputs.meta(dataset, m) is not None])

    def readable(self, dataset: str, model: str) -> bool:
        """Whether the model's features load; if not, the problem is reported and its old scores dropped."""
        try:
            features = self.store.load_features(dataset, model, make_command=self.hints.stage1(dataset, [model]))[0]
            width = self.plan.settings.feature_dim
            if width is not None and features.shape[1] <= width:
                self.problem(dataset, model, "*", ProblemKind.NOTE, f"kept at its width {features.shape[1]} <= "
                             f"--feature-dim {width} (a narrower candidate gains nothing from width)")
            return True
        except MissingInputError as error:
            self.problem(dataset, model, "*", ProblemKind.MISSING_FEATURES, str(error))
        except ValueError as error:
            self.problem(dataset, model, "*", ProblemKind.BAD_INPUT, str(error))
        self.cache.drop(dataset, [model])  # scores of features that are gone or broken no longer stand
        return False

    def on_the_same_samples(self, dataset: str, models: list[str]) -> list[str]:
        """The models whose features were made from the same samples as most of the others; the others are
        named and left out, since scores on different samples do not rank against each other."""
        odd, reference = self.inputs.odd_samples(dataset, models)
        for model in odd:
            n = self.inputs.meta(dataset, model)["N"]
            self.problem(dataset, model, "*", ProblemKind.DIFFERENT_SAMPLES,
                         f"features made from other samples ({n} rows) than the other models' ({reference['N']} "
                         f"rows, another split, --max-samples or data); left out of the ranking: re-extract it with "
                         f"the others' settings, e.g. {self.hints.stage1(dataset, [model], reference)} "
                         "--overwrite true")
        self.cache.drop(dataset, odd)
        return [m for m in models if m not in odd]

    def advance(self, bar, dataset, model, name, outcome: Outcome) -> None:
        self.counts[outcome.value] += 1
        bar.set_postfix_str(f"{dataset} / {model} / {name} ({outcome})", refresh=False)
        bar.update(1)

    # ----- computing the cells --------------------------------------------------------------------------------
    def results(self, dataset: str, work: list[Work], bar):
        """The results of every cell, in the order of `work`: computed here (``jobs`` 1) or by the workers."""
        if self.plan.settings.jobs <= 1 or len(work) <= 1:
            for cell in work:
                bar.set_postfix_str(f"{dataset} / {cell.label} / {', '.join(cell.metrics)}", refresh=True)
                yield self.compute(dataset, cell)
            return
        futures = []
        for cell in work:
            try:
                futures.append(self.pool().submit(_compute_in_worker, dataset, cell))
            except (BrokenProcessPool, RuntimeError) as error:  # the pool died earlier: nothing more runs in it
                futures.append(error)
        for cell, future in zip(work, futures):
            try:
                if isinstance(future, BaseException):
                    raise future
                yield future.result()
            except Exception as error:  # a worker died (killed, out of memory, ...) or could not read its inputs
                yield [Result(dataset, cell.label, name, Outcome.FAILED,
                              message=f"the worker process scoring it failed ({_describe(error)}); run again")
                       for name in cell.metrics]

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

    def compute(self, dataset: str, cell: Work) -> list[Result]:
        """The results of one cell; writes nothing (so that it can run in a worker process)."""
        if cell.kind is Cell.ZOO:
            return [self.compute_zoo(dataset, cell.metrics[0], cell.models)]
        model = cell.models[0]
        try:
            features, labels, meta = self.inputs.features(dataset, model, self.hints.stage1(dataset, [model]))
        except (MissingInputError, ValueError) as error:
            return [Result(dataset, model, name, Outcome.FAILED, message=_describe(error)) for name in cell.metrics]
        together = self.compute_together(dataset, model, cell.metrics, features, labels)
        return [together.get(name) or self.compute_one(dataset, model, name, features, labels, meta)
                for name in cell.metrics]

    def compute_together(self, dataset, model, names, features, labels) -> dict[str, Result]:
        """The metrics of `names` that share statistics (``metrics.cell.SHARED``: the centred Gram and its eigh)
        and are called on the features and labels as they are, scored by one ``metrics.score_cell``, each with
        its own time (a shared statistic counts in the first metric that needs it), caveats and failure; {} when
        fewer than two qualify (the rest go through :meth:`compute_one`, as before)."""
        registry = metric_registry.METRICS
        names = [name for name in names if name in SHARED and self._plain_arguments(registry[name], features, labels)]
        if len(names) < 2:
            return {}
        errors, seconds, caught = {}, {}, {}
        try:
            values = metric_registry.score_cell(features, labels, names,
                                                options={name: self.options(registry[name]) for name in names},
                                                errors=errors, seconds=seconds, caught=caught)
        except Exception:   # not a metric's failure (score_cell's own checks): each metric on its own, as before
            return {}
        results = {}
        for name in names:
            spec = registry[name]
            try:
                if name in errors:
                    raise errors[name]
                _check_finite({model: values[name]})
            except Exception as error:  # a failed metric: reported, the other metrics go on
                results[name] = Result(dataset, model, name, Outcome.FAILED, message=_describe(error))
                continue
            caveats = list(dict.fromkeys([*input_caveats(self.task, spec, labels, {}),
                                          *(str(w.message) for w in caught.get(name, []))]))
            results[name] = Result(dataset, model, name, values={model: (values[name], seconds[name])},
                                   caveats=caveats)
        return results

    def _plain_arguments(self, spec, features, labels) -> bool:
        """Whether the task calls this metric as metric(features, labels) with no extra keyword and no F-labels
        (what score_cell does)."""
        if spec.needs != Needs.FEATURES_LABELS or spec.details is not None or self.task.reads_flabels(spec):
            return False
        args, kwargs = self.task.metric_arguments(spec, features, labels, {}, None)
        return len(args) == 2 and args[0] is features and args[1] is labels and not kwargs

    def compute_one(self, dataset, model, name, features, labels, meta, rows=None) -> Result:
        """One metric of one model; `rows`: score it on these samples only (a subsample)."""
        spec = metric_registry.METRICS[name]
        source_probs = self.inputs.source_probs(dataset, model, spec)
        if rows is not None:
            features, labels = features[rows], labels[rows]
            source_probs = None if source_probs is None else source_probs[rows]
        if spec.needs == Needs.SOURCE_PROBS_LABELS and source_probs is None:
            return Result(dataset, model, name, Outcome.NOT_APPLICABLE,
                          message="no source-head probabilities (only a model with its source classifier can be "
                                  "scored)")
        try:
            flabels = (self.inputs.flabels(dataset, meta, lambda encoder: self.hints.stage2(dataset, encoder))
                       if self.task.reads_flabels(spec) else {})
            if rows is not None and self.task.flabel_kind is FlabelKind.SAMPLE:
                flabels = {encoder: table[rows] for encoder, table in flabels.items()}
            args, kwargs = self.task.metric_arguments(spec, features, labels, flabels, source_probs)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                value, details = spec.score_and_details(*args, **{**kwargs, **self.options(spec)})
                seconds = time.perf_counter() - start
            _check_finite({model: value})
        except Exception as error:  # a failed cell: reported, its old score dropped, the other cells go on
            return Result(dataset, model, name, Outcome.FAILED, message=_describe(error))
        if "flabel_weights" in details:   # EMMS: one weight per F-label table, in the order of the encoders
            details = {"flabel_weights": dict(zip(flabels, details["flabel_weights"]))}
        caveats = list(dict.fromkeys([*input_caveats(self.task, spec, labels, flabels),
                                      *(str(w.message) for w in caught)]))  # caveats about this score
        return Result(dataset, model, name, values={model: (value, seconds)}, caveats=caveats, details=details)

    def options(self, spec) -> dict:
        """The user's --metric-options for this metric, plus the device where the metric takes one."""
        device = defaults.resolve_device(self.plan.settings.device)
        chosen = dict(self.plan.settings.metric_options.get(spec.name, {}))
        return {**chosen, "device": device} if device != "cpu" and spec.takes_device else chosen

    def compute_zoo(self, dataset: str, name: str, models: tuple[str, ...], rows=None) -> Result:
        """The result of a whole-zoo metric on `models` (in the plan's order; on the samples `rows` where given);
        writes nothing."""
        if len(models) < 2:
            return Result(dataset, "zoo", name, Outcome.NOT_APPLICABLE,
                          message=f"a whole-zoo metric needs the features of at least 2 models; {len(models)} loaded")
        spec = metric_registry.METRICS[name]
        try:
            loaded = {m: self.inputs.features(dataset, m, self.hints.stage1(dataset, [m])) for m in models}
            if rows is not None:
                loaded = {m: (features[rows], labels[rows], meta) for m, (features, labels, meta) in loaded.items()}
            labels = loaded[models[0]][1]
            differing = [m for m in models if not np.array_equal(loaded[m][1], labels)]
            if differing:
                raise ValueError(f"labels of {differing} differ from those of {models[0]!r}: the features were not "
                                 f"extracted from the same samples in the same order; re-extract with --overwrite")
            start = time.perf_counter()
            values = spec({m: loaded[m][0] for m in models}, labels, **self.options(spec))
            seconds = (time.perf_counter() - start) / len(models)  # the zoo's time, shared out per model
            _check_finite({m: values[m] for m in models})
        except Exception as error:
            return Result(dataset, "zoo", name, Outcome.FAILED, message=_describe(error))
        return Result(dataset, "zoo", name, values={m: (values[m], seconds) for m in models})

    # ----- the stability of the picks without a ground truth ---------------------------------------------------
    def pick_stability(self, dataset: str, models: list[str]) -> dict[str, dict]:
        """{metric: {"same_pick": share, "halves": k, "draws": n}}: the share of the k of n seeded half-subsamples
        of the samples on which the metric (and the consensus of the metrics) picks the model it picks on all
        samples. Each half keeps half of every class (a per-sample task's half: half the rows, unstratified); the
        scores on it are computed here and not stored. A half on which the metric fails, or gives every model the
        same score (it picks none: a metric that saturates at N <= D can do so on half the samples), is not one of
        its k."""
        registry = metric_registry.METRICS
        names = [n for n in self.plan.metrics[dataset] if registry[n].needs != Needs.SOURCE_PROBS_LABELS
                 or any(self.store.load_source_probs(dataset, m) is not None for m in models)]
        full = {n: {m: e["score"] for m, e in self.cache.stored(dataset, n).items() if m in models} for n in names}
        names = [n for n in names if len(full[n]) > 1 and not correlation.all_tied(full[n])]
        if len(models) < 2 or not names:
            return {}
        loaded = {m: self.inputs.features(dataset, m, self.hints.stage1(dataset, [m])) for m in models}
        labels = loaded[models[0]][1]
        halves = half_subsamples(labels if self.task.flabel_kind is FlabelKind.CLASS else len(labels),
                                 draws=self.plan.settings.stability_draws)
        draws = {n: [] for n in (CONSENSUS, *names)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # the caveats of a half are those of the whole, already reported
            for rows in halves:
                half = {n: {m: v for m, v in scores.items() if m in full[n]}
                        for n, scores in self.scores_on(dataset, names, loaded, rows).items()}
                for name, scores in half.items():
                    if len(scores) == len(full[name]) and not correlation.all_tied(scores):
                        draws[name].append(scores)
                usable = {n: s for n, s in half.items() if len(s) > 1 and not correlation.all_tied(s)}
                if usable:
                    draws[CONSENSUS].append(consensus(usable))
        full[CONSENSUS] = consensus({n: full[n] for n in names})
        return {n: {"same_pick": pick_stability(full[n], draws[n]) if draws[n] else None, "halves": len(draws[n]),
                    "draws": len(halves)} for n in draws}

    def scores_on(self, dataset: str, names: list[str], loaded: dict, rows) -> dict[str, dict[str, float]]:
        """{metric: {model: score}} of the metrics `names` on the samples `rows` (a model where a metric failed is
        left out of it). A model's metrics that share statistics are scored together, by one ``score_cell``, as on
        all the samples (:meth:`compute_together`)."""
        registry = metric_registry.METRICS
        out = {name: {} for name in names}
        for name in [n for n in names if registry[n].needs == Needs.ZOO_LABELS]:
            out[name] = {m: v for m, (v, _) in self.compute_zoo(dataset, name, tuple(loaded), rows).values.items()}
        per_model = [n for n in names if registry[n].needs != Needs.ZOO_LABELS]
        for model, (features, labels, meta) in loaded.items():
            together = self.compute_together(dataset, model, per_model, features[rows], labels[rows])
            for name in per_model:
                result = together.get(name) or self.compute_one(dataset, model, name, features, labels, meta, rows)
                if result.outcome is Outcome.SCORED:
                    out[name][model] = result.values[model][0]
        return out

    # ----- recording ------------------------------------------------------------------------------------------
    def apply(self, result: Result) -> None:
        """Record a result in the store and the problems; the only place stage 3 writes scores."""
        dataset, model, name = result.dataset, result.model, result.metric
        if result.outcome is not Outcome.SCORED:
            self.counts[result.outcome.value] += 1
            self.problem(dataset, model, name, ProblemKind(result.outcome.value), result.message)
            self.cache.drop(dataset, self.plan.models[dataset] if model == "zoo" else [model], [name])
            return
        entries = {m: {"score": float(v), "seconds": float(s), **({"warnings": result.caveats} if result.caveats
                                                                   else {}), **result.details}
                   for m, (v, s) in result.values.items()}
        self.cache.record(dataset, name, entries)
        self.counts[Outcome.SCORED.value] += len(entries)
        for message in result.caveats:
            self.problem(dataset, model, name, ProblemKind.WARNING, message)


def _check_finite(values: dict) -> None:
    for model, value in values.items():
        if not np.isfinite(value):
            raise ValueError(f"returned a non-finite score {value!r} for {model!r}")


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if not isinstance(error, (ValueError, MissingInputError)) else str(error)


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


def _compute_in_worker(dataset: str, cell: Work) -> list[Result]:
    return _WORKER.compute(dataset, cell)
