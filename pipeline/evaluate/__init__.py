"""Stage 3 of every task: score a zoo with the metrics that apply, correlate the scores with fine-tuning
results, print and write the tables and plots. The stage scripts ``evaluate_metric_<task>.py`` call :func:`main`.

- :mod:`pipeline.evaluate.plan`: what to run (the task, datasets, models and metrics);
- :mod:`pipeline.evaluate.scoring`: the cells and their cache in the store;
- :mod:`pipeline.evaluate.tables`: correlations or rankings, tables, plots and the summary.

How a task's inputs reach a metric is the task's (:meth:`pipeline.tasks.Task.metric_arguments`): with class
F-labels, EMMS gets each encoder's class table (C, d) and the labels (nothing N x d is built), the other metrics the
labels; with per-sample F-labels, only the metrics that take real-valued targets run, EMMS on the list of
per-sample tables and LogME (``regression=True``) on the encoders' F-labels side by side. LEEP and NCE run where
source-head probabilities are stored; NCTI and ETran get the whole zoo. EMMS's weight λ per F-label encoder is
stored with its score and printed when there are several encoders.
"""
from __future__ import annotations

import sys
import time

import metrics as metric_registry
from metrics.registry import Needs
from pipeline import report
from pipeline.evaluate.plan import Plan, Problem, Settings, UsageError, make_plan
from pipeline.evaluate.scoring import Scorer
from pipeline.evaluate.tables import evaluate, plots, summary, tables


def run(settings: Settings, out=print) -> dict:
    """Score, evaluate, print and write; returns the evaluation (also written as JSON)."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    plan = make_plan(settings)
    try:
        plan.store.check_writable()
    except OSError as error:
        raise UsageError(str(error)) from None
    registry = metric_registry.METRICS
    total = sum(len(plan.models[d]) * sum(registry[n].needs != Needs.ZOO_LABELS for n in plan.metrics[d])
                + sum(registry[n].needs == Needs.ZOO_LABELS for n in plan.metrics[d]) for d in plan.datasets)
    with tqdm(total=total, desc=f"stage 3 ({plan.task.name}, zoo {settings.zoo})", unit="cell") as bar:
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
    written.append(report.write_json(plan.store, f"{settings.zoo}/{plan.prefix}_results", {
        "zoo": settings.zoo, "task": plan.task.name, "feature_dim": settings.feature_dim,
        "ground_truth": plan.truth.path if plan.truth else None,
        "datasets": evaluation, "counts": counts, "problems": [vars(p) for p in problems]}))
    summary(out, plan, problems, counts, written, time.perf_counter() - started, scorer.make_command)
    return {"plan": plan, "evaluation": evaluation, "problems": problems, "counts": counts, "written": written}


def main(task: str, args, out=print) -> int:
    """Run a stage script's parsed flags; a user error is one line on stderr and exit status 2, a run that
    could score no cell at all exits 1 (so that a `set -e` pipeline stops)."""
    settings = Settings(task=task, zoo=args.zoo, datasets=args.datasets, models=args.models, metrics=args.metrics,
                        flabel_encoders=args.flabel_encoders, results=str(args.results), overwrite=args.overwrite,
                        dataset_dir=args.dataset_dir, ground_truth=args.ground_truth,
                        device=getattr(args, "device", "cpu"), metric_options=getattr(args, "metric_options", {}),
                        feature_dim=getattr(args, "feature_dim", None),
                        jobs=getattr(args, "jobs", 1))
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


__all__ = ["Plan", "Problem", "Scorer", "Settings", "UsageError", "main", "make_plan", "run"]
