"""Stage 3 of every task: score the candidates with the metrics that apply, correlate the scores with fine-tuning
results, print and write the tables and plots. The stage scripts ``evaluate_metric_<task>.py`` call :func:`main`.

- :mod:`.plan`: what to run (the task, datasets, models and metrics) and the stage's settings (:data:`OPTIONS`);
- :mod:`.inputs`: a cell's features, labels, source probabilities and F-labels, checked to share their data;
- :mod:`.cache`: finished cells, by a digest of their inputs; :mod:`.hints`: the commands that make what is missing;
- :mod:`.scoring`: the cells, each model's metrics computed together;
- :mod:`.tables`, :mod:`.correlation`, :mod:`.report`: correlations or rankings, tables, plots and the summary.

How a task's inputs reach a metric is the task's (:meth:`pipeline.tasks.Task.metric_arguments`): with class
F-labels, EMMS gets each encoder's class table (C, d) and the labels (nothing N x d is built), the other metrics the
labels; with per-sample F-labels, only the metrics that take real-valued targets run, EMMS on the list of
per-sample tables and LogME (``regression=True``) on the encoders' F-labels side by side. LEEP and NCE run where
source-head probabilities are stored; NCTI and ETran get the whole zoo. What a metric returns besides its score
(EMMS's weight λ per F-label encoder) is stored with it, and printed when there are several encoders.
"""
from __future__ import annotations

import sys
import time
from typing import Mapping

import metrics as metric_registry
from metrics.registry import Needs
from pipeline import stages
from pipeline.evaluate import report
from pipeline.evaluate.plan import OPTIONS, Plan, Problem, Settings, UsageError, make_plan
from pipeline.kinds import ProblemKind
from pipeline.evaluate.scoring import Scorer
from pipeline.evaluate.evaluation import evaluate
from pipeline.evaluate.tables import plots, summary, tables


def run(settings: Settings, out=print) -> dict:
    """Score, evaluate, print and write; returns the evaluation (also written as JSON)."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    given = _scores_made_elsewhere(settings)
    plan = make_plan(settings, given)
    try:
        plan.store.check_writable()
    except OSError as error:
        raise UsageError(str(error)) from None
    if given is None:
        registry = metric_registry.METRICS
        total = sum(len(plan.models[d]) * sum(registry[n].needs != Needs.ZOO_LABELS for n in plan.metrics[d])
                    + sum(registry[n].needs == Needs.ZOO_LABELS for n in plan.metrics[d]) for d in plan.datasets)
        with tqdm(total=total, desc=f"stage 3 ({plan.task.name}, {plan.zoo})", unit="cell") as bar:
            scorer = Scorer(plan, say=tqdm.write)
            scorer.run(bar)
        problems, counts, stability = scorer.problems, scorer.counts, scorer.stability
        make_command = scorer.hints.stage1
    else:
        make_command = None   # nothing is read from the store, so nothing can be missing
        problems, stability = [], {}
        counts = {"scored": 0, "skipped": sum(len(s) for d in given.values() for s in d.values()), "failed": 0,
                  "not applicable": 0}
        for duplicate in given.duplicates:
            problems.append(Problem(duplicate.dataset, duplicate.model, duplicate.metric, ProblemKind.NOTE,
                                    f"{settings.scores}: line {duplicate.line} repeats line {duplicate.first_line}; "
                                    "read once"))
    evaluation = evaluate(plan, problems, given, stability)
    written = []
    if counts["scored"] + counts["skipped"]:   # a run that scored nothing leaves an earlier run's tables
        for name, table in tables(plan, evaluation).items():
            out(table.markdown())
            if table.rows:
                written += report.write_table(plan.store, name, table)
        written += plots(plan, evaluation)
        written.append(report.write_json(plan.store, f"{plan.zoo}/{plan.prefix}_results", {
            "zoo": plan.zoo, "task": plan.task.name, "feature_dim": settings.feature_dim,
            "ground_truth": plan.truth.path if plan.truth else None,
            "datasets": evaluation, "counts": counts, "problems": [vars(p) for p in problems]}))
    summary(out, plan, problems, counts, written, time.perf_counter() - started, make_command)
    return {"plan": plan, "evaluation": evaluation, "problems": problems, "counts": counts, "written": written}


def _scores_made_elsewhere(settings: Settings):
    """The --scores table ({dataset: {metric: {model: score}}}), or None."""
    if not settings.scores:
        return None
    from pipeline.evaluate.external_scores import read_scores_csv

    try:
        return read_scores_csv(settings.scores)
    except (OSError, ValueError) as error:
        raise UsageError(str(error)) from None


def parse(constants: Mapping, argv=None):
    """(task, args) of a stage-3 script: its constants, :data:`OPTIONS` and the task's path option."""
    return stages.parse(constants, argv, stage="stage 3", options=OPTIONS,
                        task_options=lambda task: [task.path_option])


def main(constants: Mapping, argv=None, out=print) -> int:
    """A stage-3 script: a user error is one line on stderr and exit status 2, a run that could score no cell
    at all exits 1 (so that a `set -e` pipeline stops)."""
    task, args = parse(constants, argv)
    settings = Settings(task=task.name, zoo=args.zoo,
                        datasets=args.datasets, models=args.models, metrics=args.metrics,
                        flabel_encoders=args.flabel_encoders, results=str(args.results), overwrite=args.overwrite,
                        dataset_dir=args.dataset_dir, ground_truth=args.ground_truth, device=args.device,
                        metric_options=args.metric_options, feature_dim=args.feature_dim, jobs=args.jobs,
                        interval_draws=args.interval_draws, stability_draws=args.stability_draws, scores=args.scores,
                        zoo_named=_given("--zoo", sys.argv[1:] if argv is None else argv))
    try:
        outcome = run(settings, out=out)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    counts = outcome["counts"]
    if counts["scored"] + counts["skipped"] == 0:
        print("error: no cell could be scored (see the problems above)", file=sys.stderr)
        return 1
    return 0


def _given(flag: str, argv) -> bool:
    return any(arg == flag or arg.startswith(f"{flag}=") for arg in argv)


__all__ = ["OPTIONS", "Plan", "Problem", "Scorer", "Settings", "UsageError", "main", "make_plan", "parse", "run"]
