"""Stage 3, the evaluation of every dataset: the metrics' scores (from the store, or from a table of scores made
elsewhere), the baselines beside them, a consensus of the metrics, and

- with a ground truth: each one's correlations with fine-tuning, its weighted τ with a seeded bootstrap interval
  over the candidates, and the τ of a random ranking with its spread;
- without one: each one's ranking, the metrics' agreement, and how stable each metric's pick is on half-subsamples
  of the samples (computed by the scorer).

The baselines (:mod:`pipeline.models.baselines`) are scored and correlated like metrics: ``source_accuracy`` (the
candidate's published accuracy on its source task) and ``params`` (its size), where the task knows them; the
consensus (:func:`pipeline.evaluate.uncertainty.consensus`) is the mean normalised rank over the metrics (not the
baselines). How to read them: docs/trust.md.
"""
from __future__ import annotations

from pipeline.evaluate import correlation, uncertainty
from pipeline.evaluate.plan import Plan, Problem
from pipeline.kinds import ProblemKind
from pipeline.models.baselines import BASELINES
from pipeline.store import CorruptFileError

CONSENSUS = uncertainty.CONSENSUS
RANDOM = "random"   # the column of a random ranking's τ
MIN_INTERVAL_MODELS = 5   # resampling fewer candidates can only redraw them: no interval below this


def evaluate(plan: Plan, problems: list[Problem], given: dict | None = None,
             stability: dict | None = None) -> dict:
    """{dataset: evaluation}; `given`: {dataset: {metric: {model: score}}} of scores made elsewhere (baselines among
    them) instead of the store's; `stability`: {dataset: {metric: share}} from the scorer."""
    out = {}
    for dataset in plan.datasets:
        models = plan.models[dataset]
        if given is None:
            scores, seconds, details = _stored(plan, dataset, models)
            baselines = _baselines(plan, dataset, models, problems)
        else:
            scores = {n: s for n, s in given[dataset].items() if n not in BASELINES}
            seconds, details = {}, {}
            baselines = {n: s for n, s in given[dataset].items() if n in BASELINES}
        constant = [n for n, s in scores.items() if len(s) > 1 and correlation.all_tied(s)]
        for name in constant:
            value = next(iter(scores[name].values()))
            problems.append(Problem(dataset, "*", name, ProblemKind.NOTE,
                                    f"all {len(scores[name])} models score the same ({value:.6g}): the metric does "
                                    f"not tell them apart here, so it ranks none of them (no ranking by name)"))
        ranked = {n: s for n, s in scores.items() if s and n not in constant}
        if ranked:
            ranked = {CONSENSUS: uncertainty.consensus(ranked), **ranked}
            scores = {**scores, CONSENSUS: ranked[CONSENSUS]}
        truth = plan.truth.for_dataset(dataset) if plan.truth else None
        entry = {"models": models, "scores": scores, "baselines": baselines, "seconds": seconds,
                 "has_ground_truth": truth is not None, "wide_models": _wide_models(plan, dataset, models),
                 "flabel_weights": details, "constant": constant,
                 "agreement": correlation.agreement(ranked),
                 "ranking": {n: correlation.ranking(s) for n, s in ranked.items()},
                 "stability": (stability or {}).get(dataset, {})}
        if truth is not None:
            _correlate(plan, dataset, entry, truth, problems)
        out[dataset] = entry
    return out


def _stored(plan: Plan, dataset: str, models: list[str]) -> tuple[dict, dict, dict]:
    """({metric: {model: score}}, {metric: seconds}, {model: EMMS-like details}) of the plan's metrics."""
    scores, seconds, details = {}, {}, {}
    for name in plan.metrics[dataset]:
        stored = plan.store.load_scores(dataset, plan.score_file(name))
        scores[name] = {m: stored[m]["score"] for m in models if m in stored}
        seconds[name] = sum(stored[m].get("seconds", 0.0) for m in models if m in stored)
        details.update({m: stored[m]["flabel_weights"] for m in models if "flabel_weights" in stored.get(m, {})})
    return scores, seconds, details


def _baselines(plan: Plan, dataset: str, models: list[str], problems: list[Problem]) -> dict[str, dict]:
    """{baseline: {model: value}} of the models whose task knows it; the unknown ones are named in one note."""
    found = {name: {} for name in BASELINES}
    for model in models:
        try:
            meta = plan.store.features_meta(dataset, model)
        except CorruptFileError:
            meta = None   # named where its features are loaded
        for name, value in (plan.task.baselines(meta) if meta else {}).items():
            found[name][model] = value
    for name, values in found.items():
        unknown = [m for m in models if m not in values]
        if unknown:
            problems.append(Problem(dataset, ", ".join(unknown), name, ProblemKind.NOTE,
                                    f"the baseline {name} is not known for {len(unknown)} of {len(models)} models "
                                    "(no published value for them): left out of it"))
    return {name: values for name, values in found.items() if values}


def _correlate(plan: Plan, dataset: str, entry: dict, truth: dict, problems: list[Problem]) -> None:
    """The correlations with fine-tuning of every metric, the consensus and the baselines, each weighted τ with
    its bootstrap interval (``low``, ``high``), and the random ranking's τ."""
    models = entry["models"]
    absent = [m for m in models if m not in truth]
    if absent:
        problems.append(Problem(dataset, ", ".join(absent), "*", ProblemKind.NO_GROUND_TRUTH,
                                f"model(s) {absent} have no fine-tuned result for {dataset!r} in {plan.truth.path}; "
                                f"left out of the correlations (check the names; the file has {sorted(truth)})"))
    entry["truth"] = {m: truth[m] for m in models if m in truth}
    entry["correlations"] = {}
    draws = plan.settings.interval_draws
    for name, scores in {**entry["scores"], **entry["baselines"]}.items():
        if not scores:
            continue
        try:
            found = correlation.correlate(scores, truth)
        except ValueError as error:
            problems.append(Problem(dataset, "*", name, ProblemKind.CORRELATION, str(error)))
            continue
        if draws and len(set(scores) & set(truth)) >= MIN_INTERVAL_MODELS:
            interval = uncertainty.bootstrap_tau(scores, truth, draws=draws)
            found = {**found, "low": interval["low"], "high": interval["high"]}
        entry["correlations"][name] = found
    if len(entry["truth"]) >= correlation.MIN_MODELS and draws:
        entry["random"] = uncertainty.random_ranking_tau(entry["truth"], draws=draws)


def mean_interval(plan: Plan, evaluation: dict, name: str, datasets: list[str]) -> dict | None:
    """The mean weighted τ over `datasets` of a metric (or baseline, or the consensus) with its bootstrap interval,
    or None where it has no correlation on any of them."""
    per_dataset = {d: ({**evaluation[d]["scores"], **evaluation[d]["baselines"]}[name], evaluation[d]["truth"])
                   for d in datasets if "low" in evaluation[d].get("correlations", {}).get(name, {})}
    if not per_dataset or not plan.settings.interval_draws:
        return None
    return uncertainty.bootstrap_mean_tau(per_dataset, draws=plan.settings.interval_draws)


def _wide_models(plan: Plan, dataset: str, models: list[str]) -> list[str]:
    """The models scored with no more samples than feature dimensions (after --feature-dim, if given)."""
    wide = []
    for model in models:
        try:
            meta = plan.store.features_meta(dataset, model)
        except ValueError:
            continue
        if meta is not None:
            width = meta["D"] if plan.settings.feature_dim is None else min(meta["D"], plan.settings.feature_dim)
            if meta["N"] <= width:
                wide.append(model)
    return wide
