"""Stage 3, what is printed and written: correlations with fine-tuning (or, without a ground truth, each
metric's ranking and the metrics' agreement), the tables, the plots and the closing summary."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import metrics as metric_registry
from pipeline.evaluate import correlation, report, uncertainty
from pipeline.evaluate.evaluation import CONSENSUS, MIN_INTERVAL_MODELS, RANDOM, mean_interval
from pipeline.evaluate.plan import Plan, Problem
from pipeline.kinds import ProblemKind
from pipeline.models.baselines import BASELINES


COLUMN_NAMES = {"weighted_tau": "weighted τ", "low": "90% low", "high": "90% high",
                "weighted_tau_truth_ranked": "weighted τ (truth-ranked)", "kendall_tau": "τ-b", "pearson": "Pearson",
                "rel1": "Rel@1", "rel3": "Rel@3"}
BASELINE_NOTE = ("consensus: the mean normalised rank over the metrics; source_accuracy, params: the candidates' "
                 "published source-task accuracy and size, as baselines (docs/trust.md); random: the mean τ of a "
                 "random ranking")


def tables(plan: Plan, evaluation: dict) -> dict[str, report.Table]:
    """{file name: Table} of everything stage 3 prints and writes."""
    zoo, out = plan.zoo, {}
    with_truth = [d for d in plan.datasets if evaluation[d]["has_ground_truth"]]
    metric_names = list(dict.fromkeys(n for d in plan.datasets for n in plan.metrics[d]))
    if with_truth:
        columns = _summary_columns(metric_names, [evaluation[d] for d in with_truth])
        for name in [n for n in columns if n != RANDOM]:
            out[f"{zoo}/{plan.prefix}_{name}"] = _metric_table(plan, evaluation, with_truth, name)
        out[f"{zoo}/{plan.prefix}_summary"] = _summary_table(plan, evaluation, with_truth, columns)
        if plan.settings.interval_draws:
            out[f"{zoo}/{plan.prefix}_intervals"] = _interval_table(plan, evaluation, with_truth, columns)
            out[f"{zoo}/{plan.prefix}_baselines"] = _beats_table(plan, evaluation, with_truth, columns)
        out[f"{zoo}/{plan.prefix}_candidates"] = _candidates_table(zoo, with_truth, columns, evaluation)
        out[f"{zoo}/{plan.prefix}_picks"] = _picks_table(zoo, with_truth, columns, evaluation)
    for dataset in plan.datasets:
        entry = evaluation[dataset]
        weights = _flabel_weight_table(dataset, entry["flabel_weights"])
        if weights is not None:
            out[f"{zoo}/{plan.prefix}_{dataset}_emms_weights"] = weights
        if entry["has_ground_truth"]:
            continue
        names = [n for n in (CONSENSUS, *plan.metrics[dataset]) if entry["ranking"].get(n)]
        depth = max([len(entry["ranking"][n]) for n in names], default=0)
        ranked = report.Table(f"{dataset}: models ranked by the consensus of the metrics and by each metric (best "
                              "first; fine-tune the top ones)", ["rank", *names], note=TIED_NOTE)
        for rank in range(depth):
            ranked.rows.append([rank + 1, *[_ranked_cell(entry["ranking"][n], rank) for n in names]])
        out[f"{zoo}/{plan.prefix}_{dataset}_ranking"] = ranked
        if entry["stability"]:
            out[f"{zoo}/{plan.prefix}_{dataset}_stability"] = _stability_table(dataset, entry)
        agreement = report.Table(f"{dataset}: agreement between metrics (Kendall τ-b between their rankings)",
                                 ["metric", *names], digits=2)
        for a in names:
            agreement.rows.append([a, *[entry["agreement"][a][b] for b in names]])
        out[f"{zoo}/{plan.prefix}_{dataset}_agreement"] = agreement
    return out


def _summary_columns(metric_names: list[str], entries: list[dict]) -> list[str]:
    """The metrics, the consensus, the baselines known on some dataset, and the random ranking."""
    baselines = [b for b in BASELINES if any(b in e["baselines"] for e in entries)]
    random = [RANDOM] if any("random" in e for e in entries) else []
    return [*metric_names, CONSENSUS, *baselines, *random]


def _tau(entry: dict, name: str, key: str = "weighted_tau"):
    """A column's value on a dataset: its correlation's `key`, or for the random ranking its mean / low / high."""
    if name == RANDOM:
        random = entry.get("random")
        return None if random is None else random[{"weighted_tau": "mean"}.get(key, key)]
    return entry["correlations"].get(name, {}).get(key)


def _metric_table(plan: Plan, evaluation: dict, datasets: list[str], name: str) -> report.Table:
    table = report.Table(f"{name} on zoo {plan.zoo}: correlation with fine-tuning",
                         ["dataset", *COLUMN_NAMES.values(), "models", "seconds"])
    for dataset in datasets:
        entry = evaluation[dataset]
        table.rows.append([dataset, *[_tau(entry, name, key) for key in COLUMN_NAMES],
                           len({**entry["scores"], **entry["baselines"]}.get(name, {})), entry["seconds"].get(name)])
    mean = mean_interval(plan, evaluation, name, datasets) or {}
    means = _column_means(table.rows, range(1, len(COLUMN_NAMES) + 1))
    means[1:3] = [mean.get("low"), mean.get("high")]   # the mean's own interval, not the mean of the intervals
    table.rows.append(["mean", *means, None, *_column_means(table.rows, [len(COLUMN_NAMES) + 2])])
    return table


def _summary_table(plan: Plan, evaluation: dict, datasets: list[str], columns: list[str]) -> report.Table:
    width = (f", every candidate reduced by PCA to width {plan.settings.feature_dim}"
             if plan.settings.feature_dim is not None else "")
    table = report.Table(f"zoo {plan.zoo}: weighted τ (scipy.stats.weightedtau(score, fine-tuned)) per dataset and "
                         f"metric{width}, the consensus and the baselines", ["dataset", *columns])
    for dataset in datasets:
        table.rows.append([dataset, *[_tau(evaluation[dataset], n) for n in columns]])
    table.rows.append(["mean", *_column_means(table.rows, range(1, len(columns) + 1))])
    _mark_saturated(plan, table, columns, [evaluation[d] for d in datasets])
    return table


def _interval_table(plan: Plan, evaluation: dict, datasets: list[str], columns: list[str]) -> report.Table:
    table = report.Table(f"{plan.zoo}: 90% bootstrap interval of each weighted τ ({plan.settings.interval_draws} "
                         f"seeded resamples of the candidates, none below {MIN_INTERVAL_MODELS} candidates; the "
                         "mean's: resampled on every dataset at once; random: the middle 90% of random rankings)",
                         ["dataset", *columns], digits=2)
    for dataset in datasets:
        entry = evaluation[dataset]
        table.rows.append([dataset, *[report.Interval.of(_tau(entry, n, "low"), _tau(entry, n, "high"))
                                      for n in columns]])
    means = [mean_interval(plan, evaluation, n, datasets) or {} for n in columns if n != RANDOM]
    random_means = [_random_mean(evaluation, datasets)] if RANDOM in columns else []
    table.rows.append(["mean", *[report.Interval.of(m.get("low"), m.get("high")) for m in [*means, *random_means]]])
    return table


def _random_mean(evaluation: dict, datasets: list[str]) -> dict:
    """The mean τ over the datasets of independent random rankings (:func:`uncertainty.random_mean_tau`)."""
    truths = [evaluation[d]["truth"] for d in datasets if "random" in evaluation[d]]
    return uncertainty.random_mean_tau(truths) if truths else {}


def _beats_table(plan: Plan, evaluation: dict, datasets: list[str], columns: list[str]) -> report.Table:
    """Which metrics beat the baselines, over the datasets' mean: yes (the mean τ is above the baseline's),
    clearly (its whole 90% interval is), no."""
    baselines = [n for n in columns if n in BASELINES or n == RANDOM]
    table = report.Table(f"{plan.zoo}: does each metric beat the baselines? (mean weighted τ over the datasets where "
                         f"it has at least {MIN_INTERVAL_MODELS} candidates; clearly: its whole 90% interval is above)",
                         ["metric", "mean τ", "90% interval", *[f"beats {b}" for b in baselines]])
    references = {b: (mean_interval(plan, evaluation, b, datasets) if b != RANDOM
                      else _random_mean(evaluation, datasets)) for b in baselines}
    for name in [n for n in columns if n not in baselines]:
        mean = mean_interval(plan, evaluation, name, datasets)
        if mean is None:
            continue
        verdicts = [_verdict(mean, references[b]) for b in baselines]
        table.rows.append([name, mean["point"], report.Interval.of(mean["low"], mean["high"]), *verdicts])
    return table


def _verdict(mean: dict, reference: dict | None) -> str | None:
    if not reference:
        return None
    if uncertainty.beats(mean, reference, clearly=True):
        return "clearly"
    beaten = uncertainty.beats(mean, reference)
    return None if beaten is None else ("yes" if beaten else "no")


def _stability_table(dataset: str, entry: dict) -> report.Table:
    table = report.Table(f"{dataset}: how stable each pick is (share of seeded half-subsamples of the samples on "
                         "which the metric picks the same top model)", ["metric", "pick", "same pick", "halves"],
                         digits=2)
    table.legend = ("halves: those the share is over; a half on which every model gets the same score (a metric that "
                  "saturates at N <= D can on half the samples) picks none and is not counted")
    for name, share in entry["stability"].items():
        ranking = entry["ranking"].get(name)
        table.rows.append([name, ranking[0][0] if ranking else None, share["same_pick"],
                           f"{share['halves']} of {share['draws']}"])
    return table


SATURATED_NOTE = ("* some candidates have no more samples than feature dimensions (N <= D), where this metric "
                  "saturates (see the warnings); --feature-dim D compares every candidate at the same width")


def _mark_saturated(plan: Plan, table: report.Table, metric_names: list[str], entries: list[dict]) -> None:
    """Mark the cells of metrics that saturate at N <= D on datasets where a scored candidate is that wide."""
    table.note, table.legend = SATURATED_NOTE, BASELINE_NOTE
    for row, entry in zip(table.rows, entries):
        for column, name in enumerate(metric_names, start=1):
            wide = set(entry["wide_models"]) & set(entry["scores"].get(name, {}))
            spec = metric_registry.METRICS.get(name)
            options = plan.settings.metric_options.get(name, {})
            if spec is not None and spec.saturates(options) and wide and isinstance(row[column], float):
                row[column] = report.Marked(row[column])


def _candidates_table(zoo, datasets, columns, evaluation) -> report.Table:
    """How many models each τ of the summary is computed over (LEEP and NCE: only those with a source head)."""
    table = report.Table(f"{zoo}: candidates behind each τ of the summary", ["dataset", *columns])
    for dataset in datasets:
        entry = evaluation[dataset]
        scored = {**entry["scores"], **entry["baselines"], RANDOM: entry["truth"] if "random" in entry else {}}
        table.rows.append([dataset, *[sum(m in entry["truth"] for m in scored.get(n, {})) for n in columns]])
    return table


def _picks_table(zoo, datasets, columns, evaluation) -> report.Table:
    """The answer to "which model should I fine-tune?": each metric's top model, beside fine-tuning's best."""
    named = [n for n in columns if n != RANDOM]
    table = report.Table(f"{zoo}: the model each metric (and baseline) would pick, and the one fine-tuning picked",
                         ["dataset", "fine-tuning", *named])
    for dataset in datasets:
        entry = evaluation[dataset]
        best = correlation.ranking(entry["truth"])[0][0] if entry["truth"] else None
        rankings = {**entry["ranking"], **{b: correlation.ranking(s) for b, s in entry["baselines"].items()}}
        table.rows.append([dataset, best, *[_top(rankings.get(n), entry["truth"]) for n in named]])
    return table


def _top(ranking, truth) -> str | None:
    """The best-scored model among those with a ground truth (the models a correlation compares)."""
    ranked = [model for model, _ in ranking or [] if model in truth]
    return ranked[0] if ranked else None


def _flabel_weight_table(dataset: str, weights: dict[str, dict[str, float]]) -> report.Table | None:
    """EMMS's weight λ of each F-label encoder per model: which encoder carried the score (only worth a table
    when there are several encoders)."""
    encoders = list(dict.fromkeys(e for per_model in weights.values() for e in per_model))
    if len(encoders) < 2:
        return None
    table = report.Table(f"{dataset}: EMMS's weight λ per F-label encoder (sums to 1 per model)",
                         ["model", *encoders], digits=3)
    for model, per_model in weights.items():
        table.rows.append([model, *[per_model.get(e) for e in encoders]])
    return table


TIED_NOTE = ("= the model ties with another at this score (equal within 1e-9 relative): the metric does not order "
             "them, and they are listed by name")


def _ranked_cell(ranking: list[tuple[str, float]], rank: int) -> str | report.Marked:
    if rank >= len(ranking):
        return ""
    model, score = ranking[rank]
    if correlation.ties_another(ranking, rank):
        return report.Marked(f"{model} ({score:.4g})", "=")
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
        scored = {**entry["scores"], **entry["baselines"]}
        panels = [{"metric": n, "scores": scored[n], "truth": entry["truth"],
                   "weighted_tau": entry["correlations"][n]["weighted_tau"]} for n in entry["correlations"]]
        measure = plan.truth.measure.get(plan.truth.dataset_key(dataset), plan.task.measure)
        paths.append(report.scatter_plot(plan.store, f"{plan.zoo}/plots/{plan.prefix}_{dataset}",
                                         f"{dataset} ({plan.zoo}): metric score vs fine-tuned result",
                                         panels, y_label=measure))
    return paths


def summary(out, plan: Plan, problems: list[Problem], counts: dict, written: list[Path], seconds: float,
            make_command) -> None:
    if plan.settings.scores:
        out(f"read {counts['skipped']} score(s) of {len(plan.datasets)} dataset(s) from {plan.settings.scores}")
    else:
        out(f"scored {counts['scored']} cell(s), skipped {counts['skipped']} already scored (--overwrite true "
            f"re-scores them), {counts['failed']} failed, {counts['not applicable']} not applicable")
    missing: dict[str, list[str]] = {}    # dataset -> models without features: one stage-1 command each
    grouped: dict[tuple, list[str]] = {}  # the same message for several models: one line
    for p in problems:
        if p.kind is ProblemKind.MISSING_FEATURES:
            missing.setdefault(p.dataset, []).append(p.model)
        else:
            grouped.setdefault((p.kind, p.dataset, p.metric, p.message), []).append(p.model)
    if problems:
        out(f"notes and problems ({len(problems)} cells, one line per kind of message):")
    for dataset, models in missing.items():
        out(f"  - [missing features] {dataset}: {len(models)} model(s) ({', '.join(models)}); make them with: "
            f"{make_command(dataset, models)}")
    for (kind, dataset, metric, message), models in grouped.items():
        out(f"  - [{kind}] {dataset} / {', '.join(models)} / {metric}: {message}")
    warned = list(dict.fromkeys(p.metric for p in problems if p.kind is ProblemKind.WARNING
                                and p.metric in metric_registry.METRICS and metric_registry.METRICS[p.metric].options))
    for name in warned:
        out(f"  ({name}'s options reach it through --metric-options '{{\"{name}\": {{\"option\": value}}}}'; "
            f"it takes {', '.join(metric_registry.METRICS[name].options)})")
    folders: dict[Path, list[str]] = {}
    for path in written:
        folders.setdefault(Path(path).parent, []).append(Path(path).name)
    for folder, names in folders.items():
        shown = ", ".join(names) if len(names) <= 4 else f"{len(names)} files ({', '.join(names[:3])}, ...)"
        out(f"wrote {folder}/: {shown}")
    if not written:
        out(f"no table written: this run scored no cell, so the tables under {plan.store.table_path(plan.zoo)} "
            "from an earlier run are left as they were")
    out(f"stage 3 took {seconds:.1f} s")
