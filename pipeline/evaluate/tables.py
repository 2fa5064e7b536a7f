"""Stage 3, what is printed and written: correlations with fine-tuning (or, without a ground truth, each
metric's ranking and the metrics' agreement), the tables, the plots and the closing summary."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import metrics as metric_registry
from pipeline.evaluate import correlation, report
from pipeline.evaluate.plan import Plan, Problem
from pipeline.kinds import ProblemKind


def evaluate(plan: Plan, problems: list[Problem]) -> dict:
    """Scores of every (dataset, metric) from the store, their correlations or rankings, and their agreement."""
    out = {}
    for dataset in plan.datasets:
        models = plan.models[dataset]
        scores, seconds, flabel_weights = {}, {}, {}
        for name in plan.metrics[dataset]:
            stored = plan.store.load_scores(dataset, plan.score_file(name))
            scores[name] = {m: stored[m]["score"] for m in models if m in stored}
            seconds[name] = sum(stored[m].get("seconds", 0.0) for m in models if m in stored)
            flabel_weights.update({m: stored[m]["flabel_weights"] for m in models
                                   if "flabel_weights" in stored.get(m, {})})
        truth = plan.truth.for_dataset(dataset) if plan.truth else None
        constant = [n for n, s in scores.items() if len(s) > 1 and correlation.all_tied(s)]
        for name in constant:
            value = next(iter(scores[name].values()))
            problems.append(Problem(dataset, "*", name, ProblemKind.NOTE,
                                    f"all {len(scores[name])} models score the same ({value:.6g}): the metric does "
                                    f"not tell them apart here, so it ranks none of them (no ranking by name)"))
        ranked = {n: s for n, s in scores.items() if s and n not in constant}
        entry = {"models": models, "scores": scores, "seconds": seconds, "has_ground_truth": truth is not None,
                 "wide_models": _wide_models(plan, dataset, models),
                 "flabel_weights": flabel_weights, "constant": constant,
                 "agreement": correlation.agreement(ranked),
                 "ranking": {n: correlation.ranking(s) for n, s in ranked.items()}}
        if truth is not None:
            absent = [m for m in models if m not in truth]
            if absent:
                problems.append(Problem(dataset, ", ".join(absent), "*", ProblemKind.NO_GROUND_TRUTH,
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
                    problems.append(Problem(dataset, "*", name, ProblemKind.CORRELATION, str(error)))
        out[dataset] = entry
    return out


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


COLUMN_NAMES = {"weighted_tau": "weighted τ", "weighted_tau_truth_ranked": "weighted τ (truth-ranked)",
                "kendall_tau": "τ-b", "pearson": "Pearson", "rel1": "Rel@1", "rel3": "Rel@3"}


def tables(plan: Plan, evaluation: dict) -> dict[str, report.Table]:
    """{file name: Table} of everything stage 3 prints and writes."""
    zoo = plan.zoo
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
            out[f"{zoo}/{plan.prefix}_{name}"] = table
        width = (f", every candidate reduced by PCA to width {plan.settings.feature_dim}"
                 if plan.settings.feature_dim is not None else "")
        summary = report.Table(f"zoo {zoo}: weighted τ (scipy.stats.weightedtau(score, fine-tuned)) per dataset "
                               f"and metric{width}", ["dataset", *metric_names])
        for dataset in with_truth:
            summary.rows.append([dataset, *[evaluation[dataset]["correlations"].get(n, {}).get("weighted_tau")
                                            for n in metric_names]])
        summary.rows.append(["mean", *_column_means(summary.rows, range(1, len(metric_names) + 1))])
        _mark_saturated(plan, summary, metric_names, [evaluation[d] for d in with_truth])
        out[f"{zoo}/{plan.prefix}_summary"] = summary
        out[f"{zoo}/{plan.prefix}_candidates"] = _candidates_table(zoo, with_truth, metric_names, evaluation)
        out[f"{zoo}/{plan.prefix}_picks"] = _picks_table(zoo, with_truth, metric_names, evaluation)
    for dataset in plan.datasets:
        weights = _flabel_weight_table(dataset, evaluation[dataset]["flabel_weights"])
        if weights is not None:
            out[f"{zoo}/{plan.prefix}_{dataset}_emms_weights"] = weights
        if evaluation[dataset]["has_ground_truth"]:
            continue
        names = [n for n in plan.metrics[dataset] if evaluation[dataset]["ranking"].get(n)]
        depth = max([len(evaluation[dataset]["ranking"][n]) for n in names], default=0)
        ranked = report.Table(f"{dataset}: models ranked by each metric (best first; fine-tune the top ones)",
                              ["rank", *names], note=TIED_NOTE)
        for rank in range(depth):
            ranked.rows.append([rank + 1, *[_ranked_cell(evaluation[dataset]["ranking"][n], rank) for n in names]])
        out[f"{zoo}/{plan.prefix}_{dataset}_ranking"] = ranked
        agreement = report.Table(f"{dataset}: agreement between metrics (Kendall τ-b between their rankings)",
                                 ["metric", *names], digits=2)
        for a in names:
            agreement.rows.append([a, *[evaluation[dataset]["agreement"][a][b] for b in names]])
        out[f"{zoo}/{plan.prefix}_{dataset}_agreement"] = agreement
    return out


SATURATED_NOTE = ("* some candidates have no more samples than feature dimensions (N <= D), where this metric "
                  "saturates (see the warnings); --feature-dim D compares every candidate at the same width")


def _mark_saturated(plan: Plan, table: report.Table, metric_names: list[str], entries: list[dict]) -> None:
    """Mark the cells of metrics that saturate at N <= D on datasets where a scored candidate is that wide."""
    table.note = SATURATED_NOTE
    for row, entry in zip(table.rows, entries):
        for column, name in enumerate(metric_names, start=1):
            wide = set(entry["wide_models"]) & set(entry["scores"].get(name, {}))
            spec = metric_registry.METRICS.get(name)
            options = plan.settings.metric_options.get(name, {})
            if spec is not None and spec.saturates(options) and wide and isinstance(row[column], float):
                row[column] = report.Marked(row[column])


def _candidates_table(zoo, datasets, metric_names, evaluation) -> report.Table:
    """How many models each τ of the summary is computed over (LEEP and NCE: only those with a source head)."""
    table = report.Table(f"zoo {zoo}: candidates behind each τ of the summary", ["dataset", *metric_names])
    for dataset in datasets:
        truth = evaluation[dataset]["truth"]
        table.rows.append([dataset, *[sum(m in truth for m in evaluation[dataset]["scores"].get(n, {}))
                                      for n in metric_names]])
    return table


def _picks_table(zoo, datasets, metric_names, evaluation) -> report.Table:
    """The answer to "which model should I fine-tune?": each metric's top model, beside fine-tuning's best."""
    table = report.Table(f"zoo {zoo}: the model each metric would pick, and the one fine-tuning picked",
                         ["dataset", "fine-tuning", *metric_names])
    for dataset in datasets:
        entry = evaluation[dataset]
        best = correlation.ranking(entry["truth"])[0][0] if entry["truth"] else None
        picks = [_top(entry["ranking"].get(n), entry["truth"]) for n in metric_names]
        table.rows.append([dataset, best, *picks])
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
        panels = [{"metric": n, "scores": entry["scores"][n], "truth": entry["truth"],
                   "weighted_tau": entry["correlations"][n]["weighted_tau"]} for n in entry["correlations"]]
        measure = plan.truth.measure.get(plan.truth.dataset_key(dataset), plan.task.measure)
        paths.append(report.scatter_plot(plan.store, f"{plan.zoo}/plots/{plan.prefix}_{dataset}",
                                         f"{dataset} ({plan.zoo}): metric score vs fine-tuned result",
                                         panels, y_label=measure))
    return paths


def summary(out, plan: Plan, problems: list[Problem], counts: dict, written: list[Path], seconds: float,
            make_command) -> None:
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
